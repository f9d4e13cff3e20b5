package dev.kvasir.server.api;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * JSON in and out. Parsing is bounded (nesting depth, number and string length) so hostile bodies
 * fail fast with a 400 instead of exhausting the stack or the heap; readers name the field that is
 * wrong.
 */
public final class Json {

    /** Limits well above any real request and far below what hurts the server. */
    private static final StreamReadConstraints LIMITS = StreamReadConstraints.builder()
            .maxNestingDepth(64).maxNumberLength(64).maxStringLength(32 << 20).maxDocumentLength(64L << 20).build();

    public static final ObjectMapper MAPPER = new ObjectMapper(JsonFactory.builder()
            .streamReadConstraints(LIMITS).enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private Json() {}

    /** The body as a JSON object, or a 400 saying why it is not one. */
    public static ObjectNode parseObject(byte[] body) {
        JsonNode node;
        try {
            node = MAPPER.readTree(body);
        } catch (JacksonException e) {
            throw ApiException.badRequest(null, "Malformed JSON body: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw ApiException.badRequest(null, "Unreadable JSON body: " + e.getMessage());
        }
        if (node == null || node.isMissingNode()) throw ApiException.badRequest(null, "Request body is empty");
        if (!(node instanceof ObjectNode object)) throw ApiException.badRequest(null, "Request body must be a JSON object");
        return object;
    }

    public static byte[] write(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialize " + value.getClass().getSimpleName(), e);
        }
    }

    private static JsonNode present(ObjectNode o, String name) {
        JsonNode v = o.get(name);
        return v == null || v.isNull() ? null : v;
    }

    public static String optString(ObjectNode o, String name) {
        JsonNode v = present(o, name);
        if (v == null) return null;
        if (!v.isTextual()) throw ApiException.badRequest(name, "'" + name + "' must be a string");
        return v.textValue();
    }

    /**
     * A client's value for an error message: at most 64 characters, control characters escaped, so
     * a hostile 10 MB field never comes back in the response or the log.
     */
    public static String abbreviate(Object value) {
        return abbreviate(value, 64);
    }

    /** As {@link #abbreviate(Object)}, keeping up to {@code max} characters. */
    public static String abbreviate(Object value, int max) {
        String s = String.valueOf(value);
        StringBuilder out = new StringBuilder(Math.min(s.length(), max + 16));
        int i = 0;
        for (; i < s.length() && out.length() < max; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f) out.append(String.format("\\u%04x", (int) c));
            else out.append(c);
        }
        if (i < s.length()) out.append("...(").append(s.length()).append(" chars)");
        return out.toString();
    }

    public static boolean optBool(ObjectNode o, String name, boolean fallback) {
        JsonNode v = present(o, name);
        if (v == null) return fallback;
        if (!v.isBoolean()) throw ApiException.badRequest(name, "'" + name + "' must be a boolean");
        return v.booleanValue();
    }

    /** A finite number in [min, max], or {@code fallback} when absent. */
    public static double optNumber(ObjectNode o, String name, double min, double max, double fallback) {
        JsonNode v = present(o, name);
        if (v == null) return fallback;
        if (!v.isNumber()) throw ApiException.badRequest(name, "'" + name + "' must be a number");
        double d = v.doubleValue();
        if (!Double.isFinite(d) || d < min || d > max) {
            throw ApiException.badRequest(name, "'" + name + "' must be between " + min + " and " + max + ", got " + v);
        }
        return d;
    }

    /**
     * A number in (0, max] that stays positive as a float (the sampler's type), or {@code fallback}
     * when absent: 1e-50 is refused here rather than becoming 0 and failing inside the engine.
     */
    public static float optPositiveFloat(ObjectNode o, String name, double max, float fallback) {
        JsonNode v = present(o, name);
        if (v == null) return fallback;
        if (!v.isNumber()) throw ApiException.badRequest(name, "'" + name + "' must be a number");
        double d = v.doubleValue();
        if (!Double.isFinite(d) || (float) d <= 0 || d > max) {
            throw ApiException.badRequest(name, "'" + name + "' must be greater than 0 and at most " + max + ", got " + v);
        }
        return (float) d;
    }

    /** An integer in [min, max], or null when absent. */
    public static Integer optInt(ObjectNode o, String name, long min, long max) {
        Long v = optLong(o, name);
        if (v == null) return null;
        if (v < min || v > max) {
            throw ApiException.badRequest(name, "'" + name + "' must be between " + min + " and " + max + ", got " + v);
        }
        return (int) (long) v;
    }

    public static Long optLong(ObjectNode o, String name) {
        JsonNode v = present(o, name);
        if (v == null) return null;
        if (!v.isIntegralNumber()) throw ApiException.badRequest(name, "'" + name + "' must be an integer");
        if (!v.canConvertToLong()) throw ApiException.badRequest(name, "'" + name + "' is out of range: " + v);
        return v.longValue();
    }

    /** A string or a list of strings (OpenAI's {@code stop}); empty list when absent. */
    public static List<String> optStringOrList(ObjectNode o, String name, int maxItems) {
        JsonNode v = present(o, name);
        List<String> out = new ArrayList<>();
        if (v == null) return out;
        if (v.isTextual()) {
            out.add(v.textValue());
        } else if (v.isArray()) {
            if (v.size() > maxItems) throw ApiException.badRequest(name, "'" + name + "' takes at most " + maxItems + " items");
            for (JsonNode item : v) {
                if (!item.isTextual()) throw ApiException.badRequest(name, "'" + name + "' must be a string or a list of strings");
                out.add(item.textValue());
            }
        } else {
            throw ApiException.badRequest(name, "'" + name + "' must be a string or a list of strings");
        }
        for (String s : out) {
            if (s.isEmpty()) throw ApiException.badRequest(name, "'" + name + "' must not contain empty strings");
        }
        return out;
    }
}
