package dev.kvasir.memory;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * Memory ids and list cursors. An id is {@code mem_} and 32 hex digits: 48 bits of creation time in
 * milliseconds then 80 random bits (UUIDv7's layout), so ids sort by creation and lists page by id;
 * within one millisecond this process counts up from the last id (as monotonic ULIDs do), so ids it
 * makes never sort before ones it made earlier.
 * A cursor is the opaque base64url form of the last id of a page; since every list query is scoped
 * to its owner, another owner's id used as a cursor only names a position and reveals nothing.
 */
public final class MemoryIds {
    private static final Pattern ID = Pattern.compile("mem_[0-9a-f]{32}");
    private static final String CURSOR_PREFIX = "after:";
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final HexFormat HEX = HexFormat.of();

    private MemoryIds() {}

    private static long lastMillis;
    private static long lastHigh; // 16 random bits after the time
    private static long lastLow; // the last 64 random bits

    public static synchronized String newId(Instant now) {
        long ms = now.toEpochMilli();
        if (ms > lastMillis) {
            lastMillis = ms;
            lastHigh = RANDOM.nextInt(1 << 15); // headroom so counting up never overflows the 80 bits
            lastLow = RANDOM.nextLong();
        } else if (++lastLow == 0) {
            lastHigh++;
        }
        return "mem_" + HEX.toHexDigits(lastMillis << 16 | lastHigh) + HEX.toHexDigits(lastLow);
    }

    /** Refuses anything that is not a well-formed memory id, naming {@code param}. */
    public static String check(String id, String param) {
        if (id == null || !ID.matcher(id).matches()) {
            throw new MemoryInputException(param, param + " is not a memory id (mem_ and 32 hex digits)");
        }
        return id;
    }

    public static String cursorAfter(String id) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString((CURSOR_PREFIX + id).getBytes(StandardCharsets.UTF_8));
    }

    /** The id a cursor continues after; a malformed cursor is refused naming {@code cursor}. */
    public static String afterId(String cursor) {
        String decoded;
        try {
            decoded = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new MemoryInputException("cursor", "cursor is malformed");
        }
        if (!decoded.startsWith(CURSOR_PREFIX) || !ID.matcher(decoded.substring(CURSOR_PREFIX.length())).matches()) {
            throw new MemoryInputException("cursor", "cursor is malformed");
        }
        return decoded.substring(CURSOR_PREFIX.length());
    }
}
