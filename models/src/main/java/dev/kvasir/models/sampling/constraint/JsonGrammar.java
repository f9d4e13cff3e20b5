package dev.kvasir.models.sampling.constraint;

import java.util.List;
import java.util.Map;

/**
 * The pieces of JSON every JSON constraint shares: whitespace, strings, numbers, and the generic
 * value / object / array rules ({@code json_object} mode, free-form parts of schemas).
 *
 * <p>Whitespace between tokens is llama.cpp's: nothing, one space, or a newline and up to 20
 * spaces or tabs of indentation. Enough for compact and pretty-printed JSON, and bounded, so a
 * model cannot fill its budget with blank lines.
 */
final class JsonGrammar {

    static final String VALUE = "json:value", OBJECT = "json:object", ARRAY = "json:array";

    static final Expr WS = Expr.alt(Expr.empty(), Expr.literal(" "),
            Expr.seq(Expr.literal("\n"), new Expr.Repeat(Expr.anyOf(" \t"), 0, 20)));

    /** Characters a JSON string holds as themselves: not a quote, a backslash or a control character. */
    static final Expr.CharSet PLAIN_CHAR = Expr.complement(Expr.union(Expr.anyOf("\"\\"), Expr.range(0, 0x1F)));

    static final Expr HEX = Expr.charSet(List.of(new int[] {'0', '9'}, new int[] {'a', 'f'}, new int[] {'A', 'F'}));

    /** One character of a string's content, plain or escaped. */
    static final Expr STRING_CHAR = Expr.alt(PLAIN_CHAR, Expr.seq(Expr.literal("\\"),
            Expr.alt(Expr.anyOf("\"\\/bfnrt"), Expr.seq(Expr.literal("u"), new Expr.Repeat(HEX, 4, 4)))));

    static final Expr QUOTE = Expr.literal("\"");

    static final Expr STRING = Expr.seq(QUOTE, Expr.star(STRING_CHAR), QUOTE);

    static final Expr DIGITS = Expr.plus(Expr.range('0', '9'));

    static final Expr INTEGER = Expr.seq(Expr.optional(Expr.literal("-")),
            Expr.alt(Expr.literal("0"), Expr.seq(Expr.range('1', '9'), Expr.star(Expr.range('0', '9')))));

    static final Expr NUMBER = Expr.seq(INTEGER, Expr.optional(Expr.seq(Expr.literal("."), DIGITS)),
            Expr.optional(Expr.seq(Expr.anyOf("eE"), Expr.optional(Expr.anyOf("+-")), DIGITS)));

    static final Expr BOOLEAN = Expr.alt(Expr.literal("true"), Expr.literal("false"));

    static final Expr NULL = Expr.literal("null");

    private JsonGrammar() {}

    /** Adds the generic value, object and array rules to {@code rules}. */
    static void addGenericRules(Map<String, Expr> rules) {
        rules.put(VALUE, Expr.alt(new Expr.Ref(OBJECT), new Expr.Ref(ARRAY), STRING, NUMBER, BOOLEAN, NULL));
        rules.put(OBJECT, object(STRING, new Expr.Ref(VALUE)));
        rules.put(ARRAY, array(new Expr.Ref(VALUE), 0, -1));
    }

    /** {@code {"k": v, ...}} with any number of members, keys matching {@code key}, values {@code value}. */
    static Expr object(Expr key, Expr value) {
        Expr member = Expr.seq(key, WS, Expr.literal(":"), WS, value, WS);
        return Expr.seq(Expr.literal("{"), WS,
                Expr.optional(Expr.seq(member, Expr.star(Expr.seq(Expr.literal(","), WS, member)))), Expr.literal("}"));
    }

    /** {@code [item, ...]} with {@code min} to {@code max} (-1: any number of) items. */
    static Expr array(Expr item, int min, int max) {
        Expr element = Expr.seq(item, WS);
        Expr more = new Expr.Repeat(Expr.seq(Expr.literal(","), WS, element), Math.max(0, min - 1), max == -1 ? -1 : max - 1);
        Expr items = Expr.seq(element, more);
        if (max == 0) items = Expr.empty();
        else if (min == 0) items = Expr.optional(items);
        return Expr.seq(Expr.literal("["), WS, items, Expr.literal("]"));
    }

    /**
     * The expression with every character spelled as JSON string content: quote, backslash and
     * control characters become escapes, everything else stays as it is.
     */
    static Expr asStringContent(Expr e) {
        return switch (e) {
            case Expr.CharSet cs -> {
                Expr.CharSet plain = Expr.minus(cs, Expr.complement(PLAIN_CHAR));
                Expr.CharSet special = Expr.minus(cs, PLAIN_CHAR);
                java.util.List<Expr> options = new java.util.ArrayList<>();
                if (plain.ranges().length > 0) options.add(plain);
                int[] r = special.ranges();
                for (int i = 0; i < r.length; i += 2) {
                    for (int c = r[i]; c <= r[i + 1]; c++) options.add(Expr.literal(escape(c)));
                }
                yield Expr.alt(options);
            }
            case Expr.Literal l -> {
                String text = new String(l.bytes(), java.nio.charset.StandardCharsets.UTF_8);
                StringBuilder sb = new StringBuilder();
                text.codePoints().forEach(c -> sb.append(c < 0x20 || c == '"' || c == '\\' ? escape(c) : Character.toString(c)));
                yield Expr.literal(sb.toString());
            }
            case Expr.Seq s -> new Expr.Seq(s.items().stream().map(JsonGrammar::asStringContent).toList());
            case Expr.Alt a -> new Expr.Alt(a.options().stream().map(JsonGrammar::asStringContent).toList());
            case Expr.Repeat r -> new Expr.Repeat(asStringContent(r.item()), r.min(), r.max());
            case Expr.Ref r -> throw new IllegalArgumentException("rule reference inside string content: " + r.rule());
            case Expr.Members m -> throw new IllegalArgumentException("members inside string content");
        };
    }

    private static String escape(int c) {
        return switch (c) {
            case '"' -> "\\\"";
            case '\\' -> "\\\\";
            case '\n' -> "\\n";
            case '\r' -> "\\r";
            case '\t' -> "\\t";
            case '\b' -> "\\b";
            case '\f' -> "\\f";
            default -> String.format("\\u%04x", c);
        };
    }
}
