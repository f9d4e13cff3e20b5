package dev.kvasir.models.sampling.constraint;

import java.util.ArrayList;
import java.util.List;

/**
 * Regular expressions ({@code guided_regex}, JSON Schema {@code pattern}) to {@link Expr}: the
 * regular subset that java.util.regex and ECMAScript read alike. Literals, {@code .}, classes with
 * ranges and negation, {@code \d \w \s} and their negations, {@code \n \r \t \f}, {@code \xHH},
 * {@code \\uHHHH}, escaped punctuation, groups ({@code (...)}, {@code (?:...)}, {@code (?<name>...)}),
 * alternation, and greedy or lazy quantifiers ({@code * + ? {n} {n,} {n,m}}); {@code ^} and
 * {@code $} only at the two ends. Everything else (backreferences, lookaround, word boundaries,
 * flags, possessive quantifiers, Unicode properties, class intersections) is refused by name: those
 * are not regular, or mean different things in the two dialects.
 *
 * <p>{@code \s} is ASCII whitespace (both dialects agree it is whitespace) and {@code \S} excludes
 * every Unicode space ECMAScript counts, so text generated for either matches under both.
 */
final class RegexParser {

    /** The parsed pattern and whether it was anchored at each end. */
    record Parsed(Expr expr, boolean anchoredStart, boolean anchoredEnd) {}

    private static final Expr.CharSet DIGIT = Expr.range('0', '9');
    private static final Expr.CharSet WORD = Expr.charSet(List.of(new int[] {'a', 'z'}, new int[] {'A', 'Z'},
            new int[] {'0', '9'}, new int[] {'_', '_'}));
    private static final Expr.CharSet SPACE = Expr.anyOf(" \t\n\u000B\f\r");
    /** ECMAScript's WhiteSpace and LineTerminator: \S must avoid all of them. */
    private static final Expr.CharSet ANY_SPACE = Expr.charSet(List.of(new int[] {'\t', '\r'}, new int[] {' ', ' '},
            new int[] {0x85, 0x85}, new int[] {0xA0, 0xA0}, new int[] {0x1680, 0x1680}, new int[] {0x2000, 0x200A},
            new int[] {0x2028, 0x2029}, new int[] {0x202F, 0x202F}, new int[] {0x205F, 0x205F}, new int[] {0x3000, 0x3000},
            new int[] {0xFEFF, 0xFEFF}));
    /** What {@code .} matches: anything but the line terminators (java.util.regex's set, which contains ECMAScript's). */
    static final Expr.CharSet DOT = Expr.complement(Expr.anyOf("\n\r\u0085\u2028\u2029"));

    private final String p;
    private int pos;

    private RegexParser(String pattern) {
        this.p = pattern;
    }

    static Parsed parse(String pattern) {
        return new RegexParser(pattern).parseWhole();
    }

    private Parsed parseWhole() {
        boolean start = false, end = false;
        int from = 0, to = p.length();
        if (to > 0 && p.charAt(0) == '^') {
            start = true;
            from = 1;
        }
        if (to > from && p.charAt(to - 1) == '$' && !escapedAt(to - 1)) {
            end = true;
            to--;
        }
        RegexParser inner = new RegexParser(p.substring(0, to));
        inner.pos = from;
        List<Expr> options = new ArrayList<>();
        options.add(inner.concatenation());
        while (inner.pos < to && p.charAt(inner.pos) == '|') {
            inner.pos++;
            options.add(inner.concatenation());
        }
        if (inner.pos != to) throw inner.error("unexpected '" + p.charAt(inner.pos) + "'");
        Expr e = Expr.alt(options);
        if ((start || end) && options.size() > 1) {
            throw new ConstraintException("regex " + quote() + ": ^ or $ with a top-level alternation is not supported; "
                    + "group the alternatives: ^(a|b)$");
        }
        return new Parsed(e, start, end);
    }

    private boolean escapedAt(int i) {
        int backslashes = 0;
        for (int j = i - 1; j >= 0 && p.charAt(j) == '\\'; j--) backslashes++;
        return backslashes % 2 == 1;
    }

    private Expr alternation() {
        List<Expr> options = new ArrayList<>();
        options.add(concatenation());
        while (pos < p.length() && p.charAt(pos) == '|') {
            pos++;
            options.add(concatenation());
        }
        return Expr.alt(options);
    }

    private Expr concatenation() {
        List<Expr> items = new ArrayList<>();
        while (pos < p.length() && p.charAt(pos) != '|' && p.charAt(pos) != ')') items.add(repetition());
        return items.isEmpty() ? Expr.empty() : Expr.seq(items);
    }

    private Expr repetition() {
        Expr atom = atom();
        while (pos < p.length()) {
            char c = p.charAt(pos);
            int min, max;
            if (c == '*') {
                min = 0;
                max = -1;
                pos++;
            } else if (c == '+') {
                min = 1;
                max = -1;
                pos++;
            } else if (c == '?') {
                min = 0;
                max = 1;
                pos++;
            } else if (c == '{') {
                int close = p.indexOf('}', pos);
                if (close < 0) throw error("unclosed {");
                String body = p.substring(pos + 1, close);
                if (!body.matches("\\d+(,\\d*)?")) throw error("bad quantifier {" + body + "}");
                int comma = body.indexOf(',');
                min = Integer.parseInt(comma < 0 ? body : body.substring(0, comma));
                max = comma < 0 ? min : comma == body.length() - 1 ? -1 : Integer.parseInt(body.substring(comma + 1));
                if (max != -1 && max < min) throw error("quantifier {" + body + "} has max below min");
                pos = close + 1;
            } else {
                break;
            }
            if (pos < p.length() && p.charAt(pos) == '?') pos++; // lazy: the same language
            else if (pos < p.length() && p.charAt(pos) == '+') throw error("possessive quantifiers are not supported");
            atom = new Expr.Repeat(atom, min, max);
        }
        return atom;
    }

    private Expr atom() {
        char c = p.charAt(pos);
        switch (c) {
            case '(' -> {
                pos++;
                if (p.startsWith("?:", pos)) pos += 2;
                else if (p.startsWith("?<", pos) && pos + 2 < p.length() && Character.isLetter(p.charAt(pos + 2))) {
                    int close = p.indexOf('>', pos);
                    if (close < 0) throw error("unclosed group name");
                    pos = close + 1;
                } else if (p.startsWith("?", pos)) {
                    String what = p.startsWith("?=", pos) ? "lookahead (?=" : p.startsWith("?!", pos) ? "negative lookahead (?!"
                            : p.startsWith("?<=", pos) ? "lookbehind (?<=" : p.startsWith("?<!", pos) ? "negative lookbehind (?<!"
                            : "inline flags or special group (?";
                    throw error(what + " is not supported");
                }
                Expr inner = alternation();
                if (pos >= p.length() || p.charAt(pos) != ')') throw error("unclosed (");
                pos++;
                return inner;
            }
            case '[' -> {
                return charClass();
            }
            case '.' -> {
                pos++;
                return DOT;
            }
            case '\\' -> {
                return escape(false);
            }
            case '^', '$' -> throw error("anchor " + c + " inside the pattern is not supported (only at its two ends)");
            case '*', '+', '?', '{' -> throw error("quantifier '" + c + "' with nothing to repeat");
            default -> {
                int cp = p.codePointAt(pos);
                pos += Character.charCount(cp);
                return Expr.range(cp, cp);
            }
        }
    }

    private Expr.CharSet charClass() {
        pos++; // [
        boolean negate = false;
        if (pos < p.length() && p.charAt(pos) == '^') {
            negate = true;
            pos++;
        }
        List<int[]> ranges = new ArrayList<>();
        Expr.CharSet set = new Expr.CharSet(new int[0]);
        boolean firstItem = true;
        while (true) {
            if (pos >= p.length()) throw error("unclosed [");
            char c = p.charAt(pos);
            if (c == ']' && !firstItem) {
                pos++;
                break;
            }
            firstItem = false;
            if (c == '[') throw error("nested classes and class unions are not supported");
            if (c == '&' && p.startsWith("&&", pos)) throw error("class intersection && is not supported");
            int lo;
            if (c == '\\') {
                Expr e = escape(true);
                Expr.CharSet cs = (Expr.CharSet) e;
                if (cs.ranges().length != 2 || cs.ranges()[0] != cs.ranges()[1]) {
                    set = Expr.union(set, cs);
                    continue;
                }
                lo = cs.ranges()[0];
            } else {
                lo = p.codePointAt(pos);
                pos += Character.charCount(lo);
            }
            int hi = lo;
            if (pos + 1 < p.length() && p.charAt(pos) == '-' && p.charAt(pos + 1) != ']') {
                pos++;
                if (p.charAt(pos) == '\\') {
                    Expr.CharSet cs = (Expr.CharSet) escape(true);
                    if (cs.ranges().length != 2 || cs.ranges()[0] != cs.ranges()[1]) throw error("a class cannot end a range");
                    hi = cs.ranges()[0];
                } else {
                    hi = p.codePointAt(pos);
                    pos += Character.charCount(hi);
                }
                if (hi < lo) throw error("range out of order");
            }
            ranges.add(new int[] {lo, hi});
        }
        set = Expr.union(set, Expr.charSet(ranges));
        return negate ? Expr.complement(set) : set;
    }

    /** {@code \x} at pos: a one-character set for a literal, or a class. */
    private Expr escape(boolean inClass) {
        pos++;
        if (pos >= p.length()) throw error("trailing backslash");
        char c = p.charAt(pos++);
        switch (c) {
            case 'd' -> { return DIGIT; }
            case 'D' -> { return Expr.complement(DIGIT); }
            case 'w' -> { return WORD; }
            case 'W' -> { return Expr.complement(WORD); }
            case 's' -> { return SPACE; }
            case 'S' -> { return Expr.complement(ANY_SPACE); }
            case 'n' -> { return Expr.range('\n', '\n'); }
            case 'r' -> { return Expr.range('\r', '\r'); }
            case 't' -> { return Expr.range('\t', '\t'); }
            case 'f' -> { return Expr.range('\f', '\f'); }
            case 'x' -> {
                int cp;
                if (pos < p.length() && p.charAt(pos) == '{') {
                    int close = p.indexOf('}', pos);
                    if (close < 0) throw error("unclosed \\x{");
                    cp = hex(p.substring(pos + 1, close));
                    pos = close + 1;
                } else {
                    if (pos + 2 > p.length()) throw error("\\x needs two hex digits");
                    cp = hex(p.substring(pos, pos + 2));
                    pos += 2;
                }
                return Expr.range(cp, cp);
            }
            case 'u' -> {
                if (pos + 4 > p.length()) throw error("\\u needs four hex digits");
                int cp = hex(p.substring(pos, pos + 4));
                pos += 4;
                return Expr.range(cp, cp);
            }
            case 'b' -> throw error(inClass ? "\\b in a class (backspace in Java, a boundary elsewhere) is not supported"
                    : "word boundary \\b is not supported");
            case 'B' -> throw error("\\B is not supported");
            case 'A', 'z', 'Z', 'G' -> throw error("anchor \\" + c + " is not supported");
            case 'p', 'P' -> throw error("Unicode property \\" + c + " is not supported");
            case 'k' -> throw error("backreference \\k is not supported");
            case 'v' -> throw error("\\v is not supported (vertical space in Java, a tab in ECMAScript)");
            case 'Q', 'E' -> throw error("quoting \\Q...\\E is not supported");
            case 'c' -> throw error("control escape \\c is not supported");
            default -> {
                if (c >= '0' && c <= '9') throw error("backreference or octal escape \\" + c + " is not supported");
                if (Character.isLetter(c)) throw error("unknown escape \\" + c);
                return Expr.range(c, c);
            }
        }
    }

    private int hex(String digits) {
        try {
            int cp = Integer.parseInt(digits, 16);
            if (cp > Expr.MAX_CODE_POINT || (cp >= 0xD800 && cp <= 0xDFFF)) throw error("code point " + digits + " cannot be matched");
            return cp;
        } catch (NumberFormatException e) {
            throw error("bad hex digits '" + digits + "'");
        }
    }

    private String quote() {
        return "'" + p + "'";
    }

    private ConstraintException error(String message) {
        return new ConstraintException("regex " + quote() + " at " + pos + ": " + message);
    }
}
