package dev.kvasir.models.sampling.constraint;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * GBNF, llama.cpp's grammar format, to grammar rules. {@code name ::= alternatives} per rule, the
 * output derives from {@code root}; literals in double quotes, character classes {@code [a-z]} and
 * {@code [^...]} (escapes {@code \n \r \t \\ \" \[ \] \xHH \\uHHHH \UHHHHHHHH}), {@code .} for any
 * character, grouping, {@code |}, and {@code * + ?} and {@code {m} {m,} {m,n} {,n}} repetition;
 * {@code #} comments. A rule's alternatives end at a newline outside parentheses, unless the next
 * line begins with {@code |}. Token references ({@code <[id]>}, {@code <|name|>}) and negation are
 * refused; so is left recursion (as in llama.cpp).
 */
final class GbnfParser {

    private final String src;
    private int pos;

    private GbnfParser(String src) {
        this.src = src;
    }

    static GrammarRules parse(String gbnf) {
        return new GbnfParser(gbnf).grammar();
    }

    private GrammarRules grammar() {
        Map<String, Expr> rules = new LinkedHashMap<>();
        skipSpace(true);
        while (pos < src.length()) {
            String name = name();
            skipSpace(false);
            if (!src.startsWith("::=", pos)) throw error("expected ::= after rule name '" + name + "'");
            pos += 3;
            skipSpace(true);
            Expr body = alternatives(false);
            if (rules.containsKey(name)) {
                // llama.cpp treats a repeated rule as more alternatives of it.
                body = Expr.alt(rules.get(name), body);
            }
            rules.put(name, body);
            if (pos < src.length() && src.charAt(pos) != '\n' && src.charAt(pos) != '\r') throw error("unexpected '" + src.charAt(pos) + "'");
            skipSpace(true);
        }
        if (!rules.containsKey("root")) throw new ConstraintException("grammar has no 'root' rule");
        return new GrammarRules(rules, "root", Set.of());
    }

    private String name() {
        int start = pos;
        while (pos < src.length() && isNameChar(src.charAt(pos))) pos++;
        if (pos == start) throw error("expected a rule name");
        return src.substring(start, pos);
    }

    private static boolean isNameChar(char c) {
        return Character.isLetterOrDigit(c) || c == '-' || c == '_';
    }

    private Expr alternatives(boolean nested) {
        List<Expr> options = new ArrayList<>();
        options.add(sequence(nested));
        while (true) {
            if (pos < src.length() && src.charAt(pos) == '|') {
                pos++;
                skipSpace(true);
                options.add(sequence(nested));
                continue;
            }
            // A continuation line that starts with |.
            int save = pos;
            skipSpace(true);
            if (!nested && pos < src.length() && src.charAt(pos) == '|') continue;
            if (!nested) pos = save;
            return Expr.alt(options);
        }
    }

    private Expr sequence(boolean nested) {
        List<Expr> items = new ArrayList<>();
        while (pos < src.length()) {
            char c = src.charAt(pos);
            if (c == '|' || c == ')' || c == '\n' || c == '\r') break;
            Expr item = element(nested);
            item = repetitions(item, nested);
            items.add(item);
            skipSpace(nested);
        }
        return items.isEmpty() ? Expr.empty() : Expr.seq(items);
    }

    private Expr element(boolean nested) {
        char c = src.charAt(pos);
        switch (c) {
            case '"' -> {
                pos++;
                StringBuilder sb = new StringBuilder();
                while (true) {
                    if (pos >= src.length()) throw error("unterminated string literal");
                    char d = src.charAt(pos);
                    if (d == '"') {
                        pos++;
                        break;
                    }
                    sb.appendCodePoint(character());
                }
                return Expr.literal(sb.toString());
            }
            case '[' -> {
                pos++;
                boolean negate = pos < src.length() && src.charAt(pos) == '^';
                if (negate) pos++;
                List<int[]> ranges = new ArrayList<>();
                while (true) {
                    if (pos >= src.length()) throw error("unterminated character class");
                    if (src.charAt(pos) == ']') {
                        pos++;
                        break;
                    }
                    int lo = character();
                    int hi = lo;
                    if (pos + 1 < src.length() && src.charAt(pos) == '-' && src.charAt(pos + 1) != ']') {
                        pos++;
                        hi = character();
                        if (hi < lo) throw error("character range out of order");
                    }
                    ranges.add(new int[] {lo, hi});
                }
                Expr.CharSet set = Expr.charSet(ranges);
                return negate ? Expr.complement(set) : set;
            }
            case '.' -> {
                pos++;
                return Expr.complement(new Expr.CharSet(new int[0]));
            }
            case '(' -> {
                pos++;
                skipSpace(true);
                Expr inner = alternatives(true);
                skipSpace(true);
                if (pos >= src.length() || src.charAt(pos) != ')') throw error("expected )");
                pos++;
                return inner;
            }
            case '<' -> throw error("token references (<[id]>, <|name|>) are not supported");
            case '!' -> throw error("token negation (!) is not supported");
            default -> {
                if (isNameChar(c)) return new Expr.Ref(name());
                throw error("unexpected '" + c + "'");
            }
        }
    }

    private Expr repetitions(Expr item, boolean nested) {
        while (pos < src.length()) {
            char c = src.charAt(pos);
            if (c == '*') item = Expr.star(item);
            else if (c == '+') item = Expr.plus(item);
            else if (c == '?') item = Expr.optional(item);
            else if (c == '{') {
                int close = src.indexOf('}', pos);
                if (close < 0) throw error("unterminated {");
                String body = src.substring(pos + 1, close).replace(" ", "");
                if (!body.matches("\\d*(,\\d*)?") || body.isEmpty() || body.equals(",")) throw error("bad repetition {" + body + "}");
                int comma = body.indexOf(',');
                int min, max;
                if (comma < 0) {
                    min = max = Integer.parseInt(body);
                } else {
                    min = comma == 0 ? 0 : Integer.parseInt(body.substring(0, comma));
                    max = comma == body.length() - 1 ? -1 : Integer.parseInt(body.substring(comma + 1));
                }
                if (max != -1 && max < min) throw error("repetition {" + body + "} has max below min");
                item = new Expr.Repeat(item, min, max);
                pos = close;
            } else {
                break;
            }
            pos++;
            skipSpace(nested);
        }
        return item;
    }

    /** One character of a literal or class, escapes decoded. */
    private int character() {
        char c = src.charAt(pos);
        if (c != '\\') {
            int cp = src.codePointAt(pos);
            pos += Character.charCount(cp);
            return cp;
        }
        if (pos + 1 >= src.length()) throw error("trailing backslash");
        char e = src.charAt(pos + 1);
        pos += 2;
        return switch (e) {
            case 'n' -> '\n';
            case 'r' -> '\r';
            case 't' -> '\t';
            case '\\', '"', '[', ']', '-', '^' -> e;
            case 'x' -> hex(2);
            case 'u' -> hex(4);
            case 'U' -> hex(8);
            default -> throw error("unknown escape \\" + e);
        };
    }

    private int hex(int digits) {
        if (pos + digits > src.length()) throw error("expected " + digits + " hex digits");
        try {
            int cp = Integer.parseInt(src.substring(pos, pos + digits), 16);
            pos += digits;
            if (cp > Expr.MAX_CODE_POINT) throw error("code point beyond U+10FFFF");
            return cp;
        } catch (NumberFormatException ex) {
            throw error("bad hex digits");
        }
    }

    private void skipSpace(boolean newlines) {
        while (pos < src.length()) {
            char c = src.charAt(pos);
            if (c == ' ' || c == '\t' || (newlines && (c == '\n' || c == '\r'))) pos++;
            else if (c == '#') {
                while (pos < src.length() && src.charAt(pos) != '\n') pos++;
            } else break;
        }
    }

    private ConstraintException error(String message) {
        int line = 1, col = 1;
        for (int i = 0; i < Math.min(pos, src.length()); i++) {
            if (src.charAt(i) == '\n') {
                line++;
                col = 1;
            } else col++;
        }
        return new ConstraintException("grammar line " + line + " column " + col + ": " + message);
    }
}
