package dev.kvasir.server.api;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The API keys a server accepts and the tenant each one belongs to: {@code --api-key} (tenant
 * {@value #DEFAULT_TENANT}) and the lines of {@code --api-key-file}, which {@link #reload()} reads
 * again. Keys are held only as SHA-256 digests; a presented key is hashed, found by its digest and
 * then compared with {@link MessageDigest#isEqual} (constant time), so neither the lookup nor the
 * comparison takes time that depends on how much of a stored key a guess got right. No key, not
 * even a part, goes into a message or a log line.
 *
 * <p>Key file: one {@code TENANT KEY} per line, separated by spaces or tabs; blank lines and text
 * from a {@code #} that starts a field are ignored. A tenant may have several keys (rotation); a
 * key may appear once, and has at least {@value #MIN_FILE_KEY_LENGTH} characters.
 */
public final class ApiKeys {

    private static final Logger LOG = LoggerFactory.getLogger(ApiKeys.class);
    /** The tenant of {@code --api-key}, and of every request to a server without keys. */
    public static final String DEFAULT_TENANT = "default";
    /** Tenant names end up in memory rows and metric labels: a short, plain alphabet. */
    private static final Pattern TENANT = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final Pattern FIELDS = Pattern.compile("[ \\t]+");
    /** Keys in the file are at least this long (a line written KEY TENANT is caught here, too). */
    static final int MIN_FILE_KEY_LENGTH = 16;
    /** The key id of every request to a server without keys (real ids are hex digits). */
    private static final String OPEN_KEY_ID = "open";
    private static final Principal ANONYMOUS = new Principal(DEFAULT_TENANT, OPEN_KEY_ID);
    private static final byte[] ID_SALT = randomBytes(16);

    /**
     * Who sent a request.
     *
     * @param tenant the tenant that owns the key
     * @param keyId  names the key, not derived from it in any way a guess could be checked against;
     *               stable while the process runs (per-key limits follow it across reloads);
     *               {@code open} on a server without keys
     */
    public record Principal(String tenant, String keyId) {
        /** False on a server without keys, where nobody presented one. */
        public boolean authenticated() {
            return !keyId.equals(OPEN_KEY_ID);
        }
    }

    private record Entry(byte[] digest, Principal principal) {}

    private final String singleKey;
    private final Path file;
    private volatile Map<ByteBuffer, Entry> byDigest;

    private ApiKeys(String singleKey, Path file, Map<ByteBuffer, Entry> byDigest) {
        this.singleKey = singleKey;
        this.file = file;
        this.byDigest = byDigest;
    }

    /** A server without keys: every request is accepted, as tenant {@value #DEFAULT_TENANT}. */
    public static ApiKeys open() {
        return new ApiKeys(null, null, null);
    }

    /**
     * {@code --api-key} and/or {@code --api-key-file}; both null gives {@link #open()}.
     *
     * @throws IllegalArgumentException naming the file and line of the first malformed entry, or
     *                                  when the file cannot be read or holds no key
     */
    public static ApiKeys load(String singleKey, Path file) {
        if (singleKey == null && file == null) return open();
        if (singleKey != null && singleKey.isBlank()) throw new IllegalArgumentException("--api-key is empty");
        return new ApiKeys(singleKey, file, read(singleKey, file));
    }

    /** True when requests must carry a key. */
    public boolean required() {
        return byDigest != null;
    }

    /** How many keys are accepted now. */
    public int size() {
        Map<ByteBuffer, Entry> keys = byDigest;
        return keys == null ? 0 : keys.size();
    }

    /**
     * The principal of an {@code Authorization: Bearer KEY} header value.
     *
     * @throws ApiException 401 when a key is required and the header is missing or holds no known key
     */
    public Principal authenticate(String authorization) {
        Map<ByteBuffer, Entry> keys = byDigest;
        if (keys == null) return ANONYMOUS;
        String given = authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)
                ? authorization.substring(7).trim() : "";
        byte[] digest = sha256(given);
        Entry found = keys.get(ByteBuffer.wrap(digest));
        if (found == null || !MessageDigest.isEqual(found.digest(), digest)) throw ApiException.unauthorized();
        return found.principal();
    }

    /**
     * Reads {@code --api-key-file} again (on SIGHUP). A file that cannot be read or is malformed
     * changes nothing: the keys in force stay, and the error (file and line, never a key) is logged.
     *
     * @return whether the new keys are in force
     */
    public boolean reload() {
        if (file == null) return true;
        try {
            Map<ByteBuffer, Entry> fresh = read(singleKey, file);
            byDigest = fresh;
            LOG.info("API keys reloaded from {}: {} keys", file, fresh.size());
            return true;
        } catch (IllegalArgumentException e) {
            LOG.error("API keys NOT reloaded, the previous {} keys stay in force: {}", size(), e.getMessage());
            return false;
        }
    }

    private static Map<ByteBuffer, Entry> read(String singleKey, Path file) {
        Map<ByteBuffer, Entry> keys = new HashMap<>();
        Map<ByteBuffer, String> origin = new HashMap<>();
        if (singleKey != null) add(keys, origin, DEFAULT_TENANT, singleKey, "--api-key");
        if (file == null) return Map.copyOf(keys);
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalArgumentException("--api-key-file " + file + " cannot be read: " + e);
        }
        int fromFile = 0;
        for (int i = 0; i < lines.size(); i++) {
            String where = file + ":" + (i + 1);
            String[] fields = fields(lines.get(i));
            if (fields.length == 0) continue;
            if (fields.length != 2) {
                throw new IllegalArgumentException(where + ": expected 'TENANT KEY' (2 fields), found " + fields.length);
            }
            if (!TENANT.matcher(fields[0]).matches()) {
                // Not echoed: a line written KEY TENANT would put the key into the log.
                throw new IllegalArgumentException(where + ": the tenant (first field) must be 1-64 letters, digits, '.', '_'"
                        + " or '-', starting with a letter or digit");
            }
            if (fields[1].length() < MIN_FILE_KEY_LENGTH) {
                throw new IllegalArgumentException(where + ": the key (second field) is shorter than " + MIN_FILE_KEY_LENGTH
                        + " characters, too easy to guess");
            }
            add(keys, origin, fields[0], fields[1], where);
            fromFile++;
        }
        if (fromFile == 0) throw new IllegalArgumentException("--api-key-file " + file + " holds no 'TENANT KEY' line");
        return Map.copyOf(keys);
    }

    /** The line's fields up to a comment (a field that starts with '#'). */
    private static String[] fields(String line) {
        String[] all = FIELDS.split(line.strip());
        int n = 0;
        while (n < all.length && !all[n].isEmpty() && all[n].charAt(0) != '#') n++;
        return Arrays.copyOf(all, n);
    }

    private static void add(Map<ByteBuffer, Entry> keys, Map<ByteBuffer, String> origin, String tenant, String key, String where) {
        byte[] digest = sha256(key);
        ByteBuffer id = ByteBuffer.wrap(digest);
        String earlier = origin.putIfAbsent(id, where);
        if (earlier != null) throw new IllegalArgumentException(where + ": the same key is already given at " + earlier);
        keys.put(id, new Entry(digest, new Principal(tenant, keyId(key))));
    }

    /**
     * A name for a key that per-key limits can follow across reloads: a digest salted per process,
     * so the id (unlike a plain SHA-256) offers nothing to test guessed keys against.
     */
    private static String keyId(String key) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(ID_SALT);
            return HexFormat.of().formatHex(md.digest(key.getBytes(StandardCharsets.UTF_8)), 0, 12);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    private static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        new SecureRandom().nextBytes(b);
        return b;
    }

    static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
