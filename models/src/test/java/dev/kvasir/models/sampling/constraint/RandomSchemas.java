package dev.kvasir.models.sampling.constraint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Random JSON Schemas over everything the compiler supports: nested objects with required and
 * optional properties (names with quotes, spaces and non-ASCII), additionalProperties false,
 * arrays with item counts and tuples, strings with lengths, enums, consts, patterns and formats,
 * integers and numbers with inclusive and exclusive bounds, booleans, nulls, type lists, anyOf,
 * and $defs reached by $ref, recursion included.
 */
final class RandomSchemas {

    static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    private static final String[] NAMES = {"id", "name", "value", "count", "a_b", "héllo", "with \"quote\"", "x y", "tags", "z",
            "emoji😀", "back\\slash", "nested", "kind", "score"};
    private static final String[] PATTERNS = {"^[a-z]{2,5}$", "^\\d{3}-\\d{4}$", "ab+c", "^(yes|no|maybe)$", "^[A-Z][a-z]{0,6}$",
            "^\\w+@\\w+\\.com$", "^[^\"\\\\]{1,4}$", "x\\.y"};
    private static final String[] FORMATS = {"date", "time", "date-time", "uuid", "ipv4"};

    /** Patterns whose every match has a bounded length. */
    private static final String[] BOUNDED_PATTERNS = {"^[a-z]{2,5}$", "^\\d{3}-\\d{4}$", "^(yes|no|maybe)$", "^[A-Z][a-z]{0,6}$"};

    private final SplittableRandom r;
    /** Only schemas whose documents have a bounded length (every output of a model must finish). */
    private final boolean bounded;
    private ObjectNode defs;

    RandomSchemas(long seed) {
        this(seed, false);
    }

    RandomSchemas(long seed, boolean bounded) {
        this.r = new SplittableRandom(seed);
        this.bounded = bounded;
    }

    JsonNode next() {
        defs = null;
        ObjectNode root = (ObjectNode) object(3);
        if (!bounded && r.nextInt(4) == 0) {
            // A recursive linked list through $defs.
            ObjectNode node = F.objectNode();
            node.put("type", "object");
            ObjectNode props = node.putObject("properties");
            props.set("v", integer());
            ArrayNode anyOf = props.putObject("next").putArray("anyOf");
            anyOf.addObject().put("$ref", "#/$defs/node");
            anyOf.addObject().put("type", "null");
            node.putArray("required").add("v").add("next");
            node.put("additionalProperties", false);
            defs().set("node", node);
            ((ObjectNode) root.get("properties")).putObject("list").put("$ref", "#/$defs/node");
        }
        if (defs != null) root.set("$defs", defs);
        return root;
    }

    private ObjectNode defs() {
        if (defs == null) defs = F.objectNode();
        return defs;
    }

    private JsonNode any(int depth) {
        int k = r.nextInt(depth > 0 ? 14 : 10);
        return switch (k) {
            case 0, 1 -> string();
            case 2 -> integer();
            case 3 -> number();
            case 4 -> F.objectNode().put("type", "boolean");
            case 5 -> F.objectNode().put("type", "null");
            case 6 -> enumeration();
            case 7 -> constant();
            case 8 -> typeList();
            case 9 -> reference();
            case 10, 11 -> object(depth - 1);
            case 12 -> array(depth - 1);
            default -> anyOf(depth - 1);
        };
    }

    private JsonNode object(int depth) {
        ObjectNode o = F.objectNode();
        o.put("type", "object");
        if (r.nextInt(8) == 0) o.put("description", "an object");
        ObjectNode props = o.putObject("properties");
        List<String> names = new ArrayList<>();
        int n = 1 + r.nextInt(4);
        while (names.size() < n) {
            String name = NAMES[r.nextInt(NAMES.length)];
            if (!names.contains(name)) names.add(name);
        }
        ArrayNode required = F.arrayNode();
        for (String name : names) {
            props.set(name, any(depth));
            if (r.nextInt(3) > 0) required.add(name);
        }
        if (!required.isEmpty()) o.set("required", required);
        if (r.nextInt(5) > 0) o.put("additionalProperties", false);
        return o;
    }

    private JsonNode array(int depth) {
        ObjectNode a = F.objectNode();
        a.put("type", "array");
        if (r.nextInt(4) == 0) {
            ArrayNode prefix = a.putArray("prefixItems");
            int k = 1 + r.nextInt(3);
            for (int i = 0; i < k; i++) prefix.add(any(depth));
            if (r.nextBoolean()) a.put("items", false);
            else a.set("items", any(depth));
        } else {
            a.set("items", any(depth));
        }
        int min = r.nextInt(a.has("prefixItems") ? a.get("prefixItems").size() + 1 : 3);
        if (r.nextBoolean()) a.put("minItems", min);
        if (bounded || r.nextBoolean()) a.put("maxItems", min + r.nextInt(3));
        return a;
    }

    private JsonNode string() {
        ObjectNode s = F.objectNode();
        s.put("type", "string");
        if (bounded) {
            switch (r.nextInt(3)) {
                case 0 -> s.put("pattern", BOUNDED_PATTERNS[r.nextInt(BOUNDED_PATTERNS.length)]);
                case 1 -> s.put("format", FORMATS[r.nextInt(FORMATS.length)]);
                default -> s.put("maxLength", r.nextInt(8));
            }
            return s;
        }
        switch (r.nextInt(5)) {
            case 0 -> {
                int min = r.nextInt(3);
                s.put("minLength", min);
                s.put("maxLength", min + r.nextInt(12));
            }
            case 1 -> s.put("pattern", PATTERNS[r.nextInt(PATTERNS.length)]);
            case 2 -> s.put("format", FORMATS[r.nextInt(FORMATS.length)]);
            case 3 -> s.put("maxLength", r.nextInt(20));
            default -> { }
        }
        return s;
    }

    private JsonNode integer() {
        ObjectNode i = F.objectNode();
        i.put("type", "integer");
        long lo = r.nextLong(-1000, 1000);
        long hi = lo + r.nextLong(0, 2000);
        switch (bounded ? 2 + r.nextInt(2) : r.nextInt(5)) {
            case 0 -> i.put("minimum", lo);
            case 1 -> i.put("maximum", hi);
            case 2 -> {
                i.put("minimum", lo);
                i.put("maximum", hi);
            }
            case 3 -> {
                i.put("exclusiveMinimum", lo);
                i.put("exclusiveMaximum", hi + 2);
            }
            default -> { }
        }
        return i;
    }

    private JsonNode number() {
        ObjectNode n = F.objectNode();
        n.put("type", "number");
        BigDecimal lo = BigDecimal.valueOf(r.nextInt(-5000, 5000), r.nextInt(0, 4));
        BigDecimal hi = lo.add(BigDecimal.valueOf(r.nextInt(1, 5000), r.nextInt(0, 4)));
        switch (bounded ? 2 + r.nextInt(2) : r.nextInt(5)) {
            case 0 -> n.put("minimum", lo);
            case 1 -> n.put("exclusiveMaximum", hi);
            case 2 -> {
                n.put("minimum", lo);
                n.put("maximum", hi);
            }
            case 3 -> {
                n.put("exclusiveMinimum", lo);
                n.put("exclusiveMaximum", hi);
            }
            default -> { }
        }
        return n;
    }

    private JsonNode enumeration() {
        ArrayNode values = F.arrayNode();
        int k = 1 + r.nextInt(4);
        for (int i = 0; i < k; i++) {
            switch (r.nextInt(5)) {
                case 0 -> values.add("red" + i);
                case 1 -> values.add(i * 7 - 3);
                case 2 -> values.add("quo\"te" + i);
                case 3 -> values.addNull();
                default -> values.add(r.nextBoolean());
            }
        }
        return F.objectNode().set("enum", values);
    }

    private JsonNode constant() {
        ObjectNode c = F.objectNode();
        switch (r.nextInt(3)) {
            case 0 -> c.put("const", "fixed ✓");
            case 1 -> c.put("const", 42);
            default -> c.set("const", F.objectNode().put("k", 1).set("l", F.arrayNode().add(1).add("two")));
        }
        return c;
    }

    private JsonNode typeList() {
        ObjectNode t = F.objectNode();
        t.putArray("type").add("string").add("null");
        t.put("maxLength", 1 + r.nextInt(6));
        return t;
    }

    private JsonNode reference() {
        String name = "d" + r.nextInt(3);
        if (!defs().has(name)) defs().set(name, r.nextBoolean() ? string() : integer());
        return F.objectNode().put("$ref", "#/$defs/" + name);
    }

    private JsonNode anyOf(int depth) {
        ObjectNode a = F.objectNode();
        ArrayNode options = a.putArray("anyOf");
        int k = 2 + r.nextInt(2);
        for (int i = 0; i < k; i++) options.add(any(depth));
        return a;
    }
}
