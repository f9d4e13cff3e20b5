package dev.kvasir.memory;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The limits on what callers may send, each refusal naming the API parameter. Checked before
 * anything is written, so a refused request changes nothing.
 */
public final class InputRules {
    public static final int MAX_USER_BYTES = 256;
    public static final int MAX_CONTENT_BYTES = 16 * 1024;
    public static final int MAX_K = 100;
    public static final int MAX_LIST_LIMIT = 100;
    public static final int MAX_METADATA_ENTRIES = 64;
    public static final int MAX_METADATA_KEY_BYTES = 128;
    public static final int MAX_METADATA_VALUE_BYTES = 4096;

    /** subject.attribute, e.g. {@code user.home_city}; segments of letters, digits, '_' and '-'. */
    private static final Pattern FACT_KEY = Pattern.compile("[A-Za-z0-9_-]{1,64}(\\.[A-Za-z0-9_-]{1,64}){1,3}");

    private InputRules() {}

    public static void checkTenant(String tenant) {
        checkName(tenant, "tenant");
    }

    public static void checkUser(String user) {
        checkName(user, "user");
    }

    /** Session ids follow the rules of user names. */
    public static void checkSessionId(String sessionId) {
        checkName(sessionId, "session_id");
    }

    public static void checkTurnId(String turnId) {
        checkName(turnId, "turn_id");
    }

    private static void checkName(String value, String param) {
        if (value == null || value.isEmpty()) throw new MemoryInputException(param, param + " is missing or empty");
        if (utf8Length(value) > MAX_USER_BYTES) {
            throw new MemoryInputException(param, param + " is longer than " + MAX_USER_BYTES + " bytes");
        }
        if (hasControl(value)) throw new MemoryInputException(param, param + " contains control characters");
    }

    /** Memory text: present, not blank, at most 16 KiB of UTF-8, no NUL (PostgreSQL text cannot hold it). */
    public static void checkContent(String content, String param) {
        if (content == null || content.isBlank()) throw new MemoryInputException(param, param + " is missing or empty");
        if (utf8Length(content) > MAX_CONTENT_BYTES) {
            throw new MemoryInputException(param, param + " is longer than " + MAX_CONTENT_BYTES + " bytes");
        }
        if (content.indexOf('\0') >= 0) throw new MemoryInputException(param, param + " contains a NUL character");
    }

    /** importance, confidence: a number in 0..1. */
    public static void checkUnit(double value, String param) {
        if (!(value >= 0 && value <= 1)) throw new MemoryInputException(param, param + " must be between 0 and 1, got " + value);
    }

    public static void checkFactKey(String factKey) {
        if (!FACT_KEY.matcher(factKey).matches()) {
            throw new MemoryInputException("fact_key", "fact_key must look like subject.attribute (letters, digits, '_', '-'), got '"
                    + abbreviate(factKey) + "'");
        }
    }

    public static void checkMetadata(Map<String, String> metadata) {
        if (metadata.size() > MAX_METADATA_ENTRIES) {
            throw new MemoryInputException("metadata", "metadata has more than " + MAX_METADATA_ENTRIES + " entries");
        }
        for (Map.Entry<String, String> e : metadata.entrySet()) {
            String key = e.getKey();
            if (key == null || key.isEmpty() || utf8Length(key) > MAX_METADATA_KEY_BYTES || hasControl(key)) {
                throw new MemoryInputException("metadata", "metadata keys must be 1.." + MAX_METADATA_KEY_BYTES
                        + " bytes without control characters");
            }
            String value = e.getValue();
            if (value == null) throw new MemoryInputException("metadata", "metadata value of '" + key + "' must be a string");
            if (utf8Length(value) > MAX_METADATA_VALUE_BYTES || value.indexOf('\0') >= 0) {
                throw new MemoryInputException("metadata", "metadata value of '" + key + "' is longer than "
                        + MAX_METADATA_VALUE_BYTES + " bytes or contains NUL");
            }
        }
    }

    public static void checkK(int k) {
        if (k < 1 || k > MAX_K) throw new MemoryInputException("k", "k must be between 1 and " + MAX_K + ", got " + k);
    }

    public static void checkLimit(int limit) {
        if (limit < 1 || limit > MAX_LIST_LIMIT) {
            throw new MemoryInputException("limit", "limit must be between 1 and " + MAX_LIST_LIMIT + ", got " + limit);
        }
    }

    public static void checkMaxTokens(int maxTokens) {
        if (maxTokens < 1) throw new MemoryInputException("max_tokens", "max_tokens must be at least 1, got " + maxTokens);
    }

    static int utf8Length(String s) {
        // Fast path: ASCII strings are as long in bytes as in chars.
        int n = s.length();
        for (int i = 0; i < n; i++) {
            if (s.charAt(i) >= 0x80) return s.getBytes(StandardCharsets.UTF_8).length;
        }
        return n;
    }

    private static boolean hasControl(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (Character.isISOControl(s.charAt(i))) return true;
        }
        return false;
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }
}
