package dev.kvasir.models.sampling.constraint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * JSON Schema to grammar rules. Supported: {@code type} (one or a list), {@code properties},
 * {@code required}, {@code additionalProperties} (false; true or a schema for free-form maps),
 * {@code items}, {@code prefixItems}, {@code minItems}/{@code maxItems}, {@code enum}, {@code const},
 * {@code minLength}/{@code maxLength}, {@code pattern}, {@code format} (date, time, date-time, uuid,
 * ipv4), {@code minimum}/{@code maximum}/{@code exclusiveMinimum}/{@code exclusiveMaximum} (also
 * draft 4's boolean form), {@code anyOf}, {@code allOf} of one schema, local {@code $ref} into
 * {@code $defs}/{@code definitions} or the root (recursion included), and the annotations (title,
 * description, default, examples, ...). Any other keyword is refused by name, never ignored.
 *
 * <p>The output is a subset of the valid documents, chosen so that a model can always finish:
 * properties come in the declared order, optional ones may be left out, and undeclared ones are
 * produced only for objects that declare none ({@code additionalProperties} beside {@code properties}
 * adds nothing, as OpenAI's strict mode has it); bounded numbers have no exponent and at most
 * {@link #FRACTION_DIGITS} (or the bounds' own) fraction digits, so a double reading them keeps the bound.
 */
final class JsonSchemaCompiler {

    static final int FRACTION_DIGITS = 6;
    /** Bounded repetitions are expanded into states; larger bounds are refused rather than compiled for seconds. */
    static final int MAX_BOUNDED_ITEMS = 32;
    static final int MAX_BOUNDED_LENGTH = 128;

    private static final ObjectMapper JSON = new ObjectMapper();

    private static final Set<String> ANNOTATIONS = Set.of("title", "description", "default", "examples", "example", "$comment",
            "$schema", "deprecated", "readOnly", "writeOnly", "$defs", "definitions", "contentMediaType", "contentEncoding");
    private static final Set<String> OBJECT_KEYWORDS = Set.of("properties", "required", "additionalProperties", "unevaluatedProperties");
    private static final Set<String> ARRAY_KEYWORDS = Set.of("items", "prefixItems", "minItems", "maxItems");
    private static final Set<String> STRING_KEYWORDS = Set.of("minLength", "maxLength", "pattern", "format");
    private static final Set<String> NUMBER_KEYWORDS = Set.of("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum");
    private static final Set<String> GENERAL = Set.of("type", "enum", "const", "anyOf", "allOf", "$ref", "$id");
    private static final List<String> TYPES = List.of("object", "array", "string", "number", "integer", "boolean", "null");

    private final JsonNode root;
    private final String prefix;
    private final Map<String, Expr> rules;
    private final Map<String, String> ruleByPointer = new HashMap<>();

    private JsonSchemaCompiler(JsonNode root, String prefix, Map<String, Expr> rules) {
        this.root = root;
        this.prefix = prefix;
        this.rules = rules;
    }

    /** The rules for documents valid under {@code schema}; throws naming the first unsupported keyword. */
    static GrammarRules compile(JsonNode schema) {
        Map<String, Expr> rules = new LinkedHashMap<>();
        Expr root = embed(schema, rules, "");
        rules.put("root", root);
        return new GrammarRules(rules, "root", Set.of(JsonGrammar.OBJECT, JsonGrammar.ARRAY));
    }

    /**
     * Adds the rules of {@code schema} to {@code rules} (its own under {@code prefix}, so several
     * schemas can share one grammar; the generic JSON rules shared) and returns the expression of a
     * value valid under it.
     */
    static Expr embed(JsonNode schema, Map<String, Expr> rules, String prefix) {
        JsonSchemaCompiler c = new JsonSchemaCompiler(schema, prefix, rules);
        String rootRule = prefix + "schema:#";
        c.ruleByPointer.put("#", rootRule);
        rules.put(rootRule, Expr.empty()); // reserved while compiling, for "$ref": "#"
        rules.put(rootRule, c.schema(schema, "$"));
        return new Expr.Ref(rootRule);
    }

    private Expr anyValue() {
        JsonGrammar.addGenericRules(rules);
        return new Expr.Ref(JsonGrammar.VALUE);
    }

    private Expr schema(JsonNode node, String path) {
        if (node.isBoolean()) {
            if (node.booleanValue()) return anyValue();
            throw new ConstraintException("schema at " + path + " is false: no value is allowed there");
        }
        if (!node.isObject()) throw new ConstraintException("schema at " + path + " must be an object or a boolean, not " + node.getNodeType());
        Set<String> assertions = new LinkedHashSet<>();
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (ANNOTATIONS.contains(k)) continue;
            if (!GENERAL.contains(k) && !OBJECT_KEYWORDS.contains(k) && !ARRAY_KEYWORDS.contains(k) && !STRING_KEYWORDS.contains(k)
                    && !NUMBER_KEYWORDS.contains(k)) {
                throw new ConstraintException("unsupported JSON Schema keyword '" + k + "' at " + path);
            }
            assertions.add(k);
        }
        if (assertions.contains("$id")) {
            if (node != root) throw new ConstraintException("unsupported JSON Schema keyword '$id' in a subschema at " + path);
            assertions.remove("$id");
        }
        if (assertions.contains("$ref")) {
            onlyWith(assertions, path, "$ref");
            return reference(node.get("$ref"), path);
        }
        if (assertions.contains("anyOf")) {
            onlyWith(assertions, path, "anyOf");
            JsonNode options = node.get("anyOf");
            if (!options.isArray() || options.isEmpty()) throw new ConstraintException("anyOf at " + path + " must be a non-empty array");
            List<Expr> alts = new ArrayList<>();
            for (int i = 0; i < options.size(); i++) alts.add(schema(options.get(i), path + ".anyOf[" + i + "]"));
            return Expr.alt(alts);
        }
        if (assertions.contains("allOf")) {
            onlyWith(assertions, path, "allOf");
            JsonNode all = node.get("allOf");
            if (!all.isArray() || all.size() != 1) {
                throw new ConstraintException("allOf at " + path + " with more than one schema is not supported (only a single schema)");
            }
            return schema(all.get(0), path + ".allOf[0]");
        }
        if (assertions.contains("enum") || assertions.contains("const")) return literals(node, assertions, path);
        List<String> types = types(node, assertions, path);
        if (types.isEmpty()) return anyValue();
        List<Expr> options = new ArrayList<>();
        for (String type : types) {
            options.add(switch (type) {
                case "object" -> object(node, path);
                case "array" -> array(node, path);
                case "string" -> string(node, path);
                case "integer" -> integer(node, path);
                case "number" -> number(node, path);
                case "boolean" -> JsonGrammar.BOOLEAN;
                case "null" -> JsonGrammar.NULL;
                default -> throw new ConstraintException("unknown type '" + type + "' at " + path);
            });
        }
        return Expr.alt(options);
    }

    private static void onlyWith(Set<String> assertions, String path, String keyword) {
        for (String other : assertions) {
            if (!other.equals(keyword)) {
                throw new ConstraintException("'" + keyword + "' together with '" + other + "' at " + path
                        + " is not supported (move '" + other + "' into the " + keyword + " schemas)");
            }
        }
    }

    /** The declared types, or those implied by the keywords present (a schema without either: any value). */
    private static List<String> types(JsonNode node, Set<String> assertions, String path) {
        JsonNode type = node.get("type");
        List<String> out = new ArrayList<>();
        if (type != null) {
            if (type.isTextual()) out.add(type.textValue());
            else if (type.isArray()) type.forEach(t -> out.add(t.asText()));
            else throw new ConstraintException("type at " + path + " must be a string or an array of strings");
            for (String t : out) {
                if (!TYPES.contains(t)) throw new ConstraintException("unknown type '" + t + "' at " + path);
            }
            if (out.contains("number")) out.remove("integer"); // every integer is a number
            return out;
        }
        for (String k : assertions) {
            String implied = OBJECT_KEYWORDS.contains(k) ? "object" : ARRAY_KEYWORDS.contains(k) ? "array"
                    : STRING_KEYWORDS.contains(k) ? "string" : NUMBER_KEYWORDS.contains(k) ? "number" : null;
            if (implied != null && !out.contains(implied)) out.add(implied);
        }
        return out;
    }

    private Expr literals(JsonNode node, Set<String> assertions, String path) {
        for (String k : assertions) {
            if (!k.equals("enum") && !k.equals("const") && !k.equals("type")) {
                throw new ConstraintException("'" + k + "' together with enum/const at " + path + " is not supported");
            }
        }
        List<JsonNode> values = new ArrayList<>();
        if (node.has("const")) values.add(node.get("const"));
        if (node.has("enum")) {
            JsonNode e = node.get("enum");
            if (!e.isArray() || e.isEmpty()) throw new ConstraintException("enum at " + path + " must be a non-empty array");
            if (node.has("const")) {
                boolean found = false;
                for (JsonNode v : e) found |= v.equals(node.get("const"));
                if (!found) throw new ConstraintException("const at " + path + " is not among its enum values");
            } else {
                e.forEach(values::add);
            }
        }
        List<String> types = node.has("type") ? types(node, Set.of(), path) : List.of();
        List<Expr> options = new ArrayList<>();
        for (JsonNode v : values) {
            if (!types.isEmpty() && !types.contains(typeOf(v)) && !(typeOf(v).equals("integer") && types.contains("number"))) continue;
            try {
                options.add(Expr.literal(JSON.writeValueAsString(v)));
            } catch (JsonProcessingException ex) {
                throw new IllegalStateException(ex);
            }
        }
        if (options.isEmpty()) throw new ConstraintException("no enum/const value at " + path + " has the declared type");
        return Expr.alt(options);
    }

    private static String typeOf(JsonNode v) {
        if (v.isObject()) return "object";
        if (v.isArray()) return "array";
        if (v.isTextual()) return "string";
        if (v.isIntegralNumber() || (v.isNumber() && v.decimalValue().stripTrailingZeros().scale() <= 0)) return "integer";
        if (v.isNumber()) return "number";
        if (v.isBoolean()) return "boolean";
        return "null";
    }

    private Expr reference(JsonNode ref, String path) {
        if (!ref.isTextual() || !ref.textValue().startsWith("#")) {
            throw new ConstraintException("$ref at " + path + " must point into this schema (#/$defs/...), not " + ref);
        }
        String pointer = ref.textValue();
        String existing = ruleByPointer.get(pointer);
        if (existing != null) return new Expr.Ref(existing);
        JsonNode target;
        try {
            target = root.at(pointer.substring(1));
        } catch (IllegalArgumentException e) {
            throw new ConstraintException("$ref '" + pointer + "' at " + path + " is not a JSON pointer");
        }
        if (target.isMissingNode()) throw new ConstraintException("$ref '" + pointer + "' at " + path + " points at nothing");
        String name = prefix + "schema:" + pointer;
        ruleByPointer.put(pointer, name);
        rules.put(name, Expr.empty());
        rules.put(name, schema(target, pointer));
        return new Expr.Ref(name);
    }

    // ---- objects ----

    private Expr object(JsonNode node, String path) {
        JsonNode props = node.get("properties");
        JsonNode additional = node.get("additionalProperties");
        JsonNode unevaluated = node.get("unevaluatedProperties");
        if (unevaluated != null && !(unevaluated.isBoolean() && !unevaluated.booleanValue())) {
            throw new ConstraintException("unevaluatedProperties at " + path + " is supported only as false");
        }
        Set<String> required = new LinkedHashSet<>();
        JsonNode req = node.get("required");
        if (req != null) {
            if (!req.isArray()) throw new ConstraintException("required at " + path + " must be an array of names");
            req.forEach(r -> required.add(r.asText()));
        }
        boolean closed = (additional != null && additional.isBoolean() && !additional.booleanValue()) || unevaluated != null;
        if ((props == null || props.isEmpty()) && required.isEmpty()) {
            if (closed) return Expr.literal("{}");
            if (additional == null || additional.isBoolean()) return freeObject();
            return JsonGrammar.object(JsonGrammar.STRING, schema(additional, path + ".additionalProperties"));
        }
        if (props != null && !props.isObject()) throw new ConstraintException("properties at " + path + " must be an object");
        List<Expr> members = new ArrayList<>();
        List<Boolean> isRequired = new ArrayList<>();
        Set<String> declared = new LinkedHashSet<>();
        if (props != null) {
            for (Iterator<Map.Entry<String, JsonNode>> it = props.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> p = it.next();
                declared.add(p.getKey());
                members.add(member(p.getKey(), schema(p.getValue(), path + ".properties." + p.getKey())));
                isRequired.add(required.contains(p.getKey()));
            }
        }
        for (String r : required) {
            if (declared.contains(r)) continue;
            // Required but undeclared: any value, unless additional properties are closed or typed.
            if (closed) throw new ConstraintException("required property '" + r + "' at " + path + " is not allowed by additionalProperties false");
            Expr value = additional == null || additional.isBoolean() ? anyValue() : schema(additional, path + ".additionalProperties");
            members.add(member(r, value));
            isRequired.add(true);
        }
        boolean[] flags = new boolean[isRequired.size()];
        for (int i = 0; i < flags.length; i++) flags[i] = isRequired.get(i);
        return Expr.seq(Expr.literal("{"), JsonGrammar.WS,
                new Expr.Members(members, flags, Expr.seq(Expr.literal(","), JsonGrammar.WS)), Expr.literal("}"));
    }

    private Expr freeObject() {
        JsonGrammar.addGenericRules(rules);
        return new Expr.Ref(JsonGrammar.OBJECT);
    }

    private static Expr member(String name, Expr value) {
        try {
            return Expr.seq(Expr.literal(JSON.writeValueAsString(name)), JsonGrammar.WS, Expr.literal(":"), JsonGrammar.WS, value,
                    JsonGrammar.WS);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---- arrays ----

    private Expr array(JsonNode node, String path) {
        int min = count(node, "minItems", path, 0);
        int max = count(node, "maxItems", path, -1);
        if (max != -1 && max < min) throw new ConstraintException("maxItems below minItems at " + path);
        if (min > MAX_BOUNDED_ITEMS || max > MAX_BOUNDED_ITEMS) {
            throw new ConstraintException("minItems/maxItems above " + MAX_BOUNDED_ITEMS + " at " + path + " is not supported");
        }
        JsonNode itemsNode = node.get("items");
        JsonNode prefixNode = node.get("prefixItems");
        if (itemsNode != null && itemsNode.isArray()) {
            throw new ConstraintException("items as an array (draft 4 tuples) at " + path + " is not supported; use prefixItems");
        }
        boolean restAllowed = itemsNode == null || !itemsNode.isBoolean() || itemsNode.booleanValue();
        Expr item = itemsNode == null || itemsNode.isBoolean() ? anyValue() : schema(itemsNode, path + ".items");
        List<Expr> prefix = new ArrayList<>();
        if (prefixNode != null) {
            if (!prefixNode.isArray()) throw new ConstraintException("prefixItems at " + path + " must be an array");
            for (int i = 0; i < prefixNode.size(); i++) prefix.add(schema(prefixNode.get(i), path + ".prefixItems[" + i + "]"));
        }
        if (prefix.isEmpty()) {
            if (!restAllowed) {
                if (min > 0) throw new ConstraintException("items false with minItems " + min + " at " + path + " allows no array");
                return Expr.literal("[]");
            }
            return JsonGrammar.array(item, min, max);
        }
        if (!restAllowed) max = max == -1 ? prefix.size() : Math.min(max, prefix.size());
        if (max != -1 && min > max) throw new ConstraintException("minItems " + min + " exceeds the items allowed at " + path);
        // [p0, p1, ..., rest...]: element i exists only if i-1 does; at least min, at most max.
        Expr tail = Expr.empty();
        int restMin = Math.max(0, min - prefix.size());
        int restMax = max == -1 ? -1 : Math.max(0, max - prefix.size());
        if (restMax != 0) tail = new Expr.Repeat(Expr.seq(Expr.literal(","), JsonGrammar.WS, item, JsonGrammar.WS), restMin, restMax);
        for (int i = prefix.size() - 1; i >= 0; i--) {
            if (max != -1 && i >= max) continue;
            Expr element = Expr.seq(i == 0 ? Expr.empty() : Expr.seq(Expr.literal(","), JsonGrammar.WS), prefix.get(i), JsonGrammar.WS, tail);
            tail = i < min ? element : Expr.optional(element);
        }
        return Expr.seq(Expr.literal("["), JsonGrammar.WS, tail, Expr.literal("]"));
    }

    private static int count(JsonNode node, String key, String path, int fallback) {
        JsonNode v = node.get(key);
        if (v == null) return fallback;
        if (!v.canConvertToInt() || !v.isIntegralNumber() || v.intValue() < 0) {
            throw new ConstraintException(key + " at " + path + " must be a non-negative integer");
        }
        return v.intValue();
    }

    // ---- strings ----

    private Expr string(JsonNode node, String path) {
        int min = count(node, "minLength", path, 0);
        int max = count(node, "maxLength", path, -1);
        JsonNode pattern = node.get("pattern");
        JsonNode format = node.get("format");
        boolean lengths = node.has("minLength") || node.has("maxLength");
        if (pattern != null || format != null) {
            if (lengths) throw new ConstraintException("minLength/maxLength together with pattern or format at " + path + " is not supported");
            if (pattern != null && format != null) throw new ConstraintException("pattern together with format at " + path + " is not supported");
            Expr content = pattern != null ? pattern(pattern, path) : Formats.of(format.asText(), path);
            return Expr.seq(JsonGrammar.QUOTE, JsonGrammar.asStringContent(content), JsonGrammar.QUOTE);
        }
        if (!lengths) return JsonGrammar.STRING;
        if (max != -1 && max < min) throw new ConstraintException("maxLength below minLength at " + path);
        if (min > MAX_BOUNDED_LENGTH || max > MAX_BOUNDED_LENGTH) {
            throw new ConstraintException("minLength/maxLength above " + MAX_BOUNDED_LENGTH + " at " + path + " is not supported");
        }
        return Expr.seq(JsonGrammar.QUOTE, new Expr.Repeat(JsonGrammar.STRING_CHAR, min, max), JsonGrammar.QUOTE);
    }

    private static Expr pattern(JsonNode pattern, String path) {
        if (!pattern.isTextual()) throw new ConstraintException("pattern at " + path + " must be a string");
        RegexParser.Parsed p;
        try {
            p = RegexParser.parse(pattern.textValue());
        } catch (ConstraintException e) {
            throw new ConstraintException("pattern at " + path + ": " + e.getMessage());
        }
        // JSON Schema patterns match anywhere in the string unless anchored.
        Expr any = Expr.star(Expr.complement(new Expr.CharSet(new int[0])));
        return Expr.seq(p.anchoredStart() ? Expr.empty() : any, p.expr(), p.anchoredEnd() ? Expr.empty() : any);
    }

    // ---- numbers ----

    private Expr integer(JsonNode node, String path) {
        Bounds b = bounds(node, path);
        if (b.lo == null && b.hi == null) return JsonGrammar.INTEGER;
        BigInteger lo = null, hi = null;
        if (b.lo != null) {
            BigDecimal ceil = b.lo.setScale(0, RoundingMode.CEILING);
            lo = ceil.toBigIntegerExact();
            if (b.loExclusive && ceil.compareTo(b.lo) == 0) lo = lo.add(BigInteger.ONE);
        }
        if (b.hi != null) {
            BigDecimal floor = b.hi.setScale(0, RoundingMode.FLOOR);
            hi = floor.toBigIntegerExact();
            if (b.hiExclusive && floor.compareTo(b.hi) == 0) hi = hi.subtract(BigInteger.ONE);
        }
        try {
            return NumberRanges.integers(lo, hi);
        } catch (ConstraintException e) {
            throw new ConstraintException(e.getMessage() + " (integer bounds at " + path + ")");
        }
    }

    private Expr number(JsonNode node, String path) {
        Bounds b = bounds(node, path);
        if (b.lo == null && b.hi == null) return JsonGrammar.NUMBER;
        int digits = FRACTION_DIGITS;
        if (b.lo != null) digits = Math.max(digits, b.lo.stripTrailingZeros().scale());
        if (b.hi != null) digits = Math.max(digits, b.hi.stripTrailingZeros().scale());
        try {
            return NumberRanges.decimals(b.lo, b.loExclusive, b.hi, b.hiExclusive, digits);
        } catch (ConstraintException e) {
            throw new ConstraintException(e.getMessage() + " (number bounds at " + path + ")");
        }
    }

    private record Bounds(BigDecimal lo, boolean loExclusive, BigDecimal hi, boolean hiExclusive) {}

    private static Bounds bounds(JsonNode node, String path) {
        BigDecimal lo = decimal(node, "minimum", path), hi = decimal(node, "maximum", path);
        boolean loEx = false, hiEx = false;
        JsonNode exMin = node.get("exclusiveMinimum"), exMax = node.get("exclusiveMaximum");
        if (exMin != null) {
            if (exMin.isBoolean()) loEx = exMin.booleanValue() && lo != null;
            else {
                BigDecimal v = decimal(node, "exclusiveMinimum", path);
                if (lo == null || v.compareTo(lo) >= 0) {
                    lo = v;
                    loEx = true;
                }
            }
        }
        if (exMax != null) {
            if (exMax.isBoolean()) hiEx = exMax.booleanValue() && hi != null;
            else {
                BigDecimal v = decimal(node, "exclusiveMaximum", path);
                if (hi == null || v.compareTo(hi) <= 0) {
                    hi = v;
                    hiEx = true;
                }
            }
        }
        return new Bounds(lo, loEx, hi, hiEx);
    }

    private static BigDecimal decimal(JsonNode node, String key, String path) {
        JsonNode v = node.get(key);
        if (v == null) return null;
        if (!v.isNumber()) throw new ConstraintException(key + " at " + path + " must be a number");
        return v.decimalValue();
    }
}
