package dev.kvasir.models.template;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;

import java.math.BigDecimal;
import java.util.Map;

/**
 * {@code tojson} as Hugging Face's chat-template renderer defines it: Python's
 * {@code json.dumps(value, ensure_ascii=False, indent=indent)}, so {@code {"a": 1, "b": [1, 2]}}
 * with a space after each {@code :} and {@code ,} (Jinjava's own filter writes Jackson's compact
 * form), non-ASCII kept as is, and {@code indent=N} honoured. Tool definitions and tool-call
 * arguments reach the prompt through it, so the text must be the model's training format exactly.
 */
final class PythonJsonFilter implements Filter {

    @Override
    public String getName() {
        return "tojson";
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
        Integer indent = args.length > 0 && args[0] != null ? Integer.valueOf(args[0]) : null;
        return dumps(var, indent);
    }

    @Override
    public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
        Object indent = kwargs.containsKey("indent") ? kwargs.get("indent") : args.length > 0 ? args[0] : null;
        return dumps(var, indent == null ? null : ((Number) (indent instanceof Number ? indent : Long.valueOf(indent.toString()))).intValue());
    }

    /** {@code value} as Python's {@code json.dumps} writes it; {@code indent} null for one line. */
    static String dumps(Object value, Integer indent) {
        StringBuilder out = new StringBuilder();
        write(value, indent, 0, out);
        return out.toString();
    }

    private static void write(Object value, Integer indent, int depth, StringBuilder out) {
        switch (value) {
            case null -> out.append("null");
            case CharSequence s -> string(s, out);
            case Boolean b -> out.append(b ? "true" : "false");
            case Double d -> out.append(pythonFloat(d));
            case Float f -> out.append(pythonFloat(f.doubleValue()));
            case BigDecimal d -> out.append(pythonFloat(d.doubleValue()));
            case Number n -> out.append(n);
            case Map<?, ?> map -> {
                if (map.isEmpty()) {
                    out.append("{}");
                    return;
                }
                out.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : map.entrySet()) {
                    separator(first, indent, depth + 1, out);
                    first = false;
                    string(String.valueOf(e.getKey()), out);
                    out.append(": ");
                    write(e.getValue(), indent, depth + 1, out);
                }
                close(indent, depth, out);
                out.append('}');
            }
            case Iterable<?> items -> {
                if (!items.iterator().hasNext()) {
                    out.append("[]");
                    return;
                }
                out.append('[');
                boolean first = true;
                for (Object item : items) {
                    separator(first, indent, depth + 1, out);
                    first = false;
                    write(item, indent, depth + 1, out);
                }
                close(indent, depth, out);
                out.append(']');
            }
            case Object[] items -> write(java.util.Arrays.asList(items), indent, depth, out);
            default -> string(value.toString(), out);
        }
    }

    /** Between items: {@code ", "} on one line; with an indent, {@code ","} and a new indented line. */
    private static void separator(boolean first, Integer indent, int depth, StringBuilder out) {
        if (indent == null) {
            if (!first) out.append(", ");
            return;
        }
        if (!first) out.append(',');
        out.append('\n').append(" ".repeat(indent * depth));
    }

    private static void close(Integer indent, int depth, StringBuilder out) {
        if (indent != null) out.append('\n').append(" ".repeat(indent * depth));
    }

    private static void string(CharSequence s, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
                    else out.append(c);
                }
            }
        }
        out.append('"');
    }

    /** Python's {@code repr(float)}: shortest digits, {@code 1.0}, {@code 1e-05}, {@code 1e+16}, {@code NaN}. */
    static String pythonFloat(double d) {
        if (Double.isNaN(d)) return "NaN";
        if (Double.isInfinite(d)) return d > 0 ? "Infinity" : "-Infinity";
        if (d == 0) return (1 / d < 0) ? "-0.0" : "0.0";
        BigDecimal shortest = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
        String digits = shortest.unscaledValue().toString();
        int exponent = digits.length() - 1 - shortest.scale();
        String sign = d < 0 ? "-" : "";
        if (exponent >= -4 && exponent < 16) {
            String plain = shortest.toPlainString();
            return sign + (plain.contains(".") ? plain : plain + ".0");
        }
        String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + String.format("%02d", Math.abs(exponent));
    }
}
