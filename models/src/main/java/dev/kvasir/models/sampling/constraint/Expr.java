package dev.kvasir.models.sampling.constraint;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The grammar language every front-end (JSON Schema, regex, choice, GBNF, tool calls) produces:
 * expressions over Unicode text, matched as UTF-8 bytes. {@link AutomatonCompiler} turns named rules
 * of these into byte automata.
 */
sealed interface Expr {

    /** Exactly these bytes. */
    record Literal(byte[] bytes) implements Expr {}

    /**
     * One code point from sorted, non-overlapping, non-adjacent inclusive ranges {@code [lo0, hi0,
     * lo1, hi1, ...]}; surrogates are never matched (UTF-8 cannot hold them).
     */
    record CharSet(int[] ranges) implements Expr {}

    record Seq(List<Expr> items) implements Expr {}

    record Alt(List<Expr> options) implements Expr {}

    /** {@code min} to {@code max} repetitions; {@code max == -1}: unbounded. */
    record Repeat(Expr item, int min, int max) implements Expr {}

    /** A reference to a named rule. */
    record Ref(String rule) implements Expr {}

    /**
     * JSON object members: {@code items} in order, each present or (when not required) absent, with
     * {@code separator} between two present ones. Compiled in O(n) states, where an expression
     * tree of the choices would grow as 2^n.
     */
    record Members(List<Expr> items, boolean[] required, Expr separator) implements Expr {}

    int MAX_CODE_POINT = 0x10FFFF;

    static Expr literal(String text) {
        return new Literal(text.getBytes(StandardCharsets.UTF_8));
    }

    static Expr seq(Expr... items) {
        return items.length == 1 ? items[0] : new Seq(List.of(items));
    }

    static Expr seq(List<Expr> items) {
        return items.size() == 1 ? items.getFirst() : new Seq(List.copyOf(items));
    }

    static Expr alt(Expr... options) {
        return options.length == 1 ? options[0] : new Alt(List.of(options));
    }

    static Expr alt(List<Expr> options) {
        return options.size() == 1 ? options.getFirst() : new Alt(List.copyOf(options));
    }

    static Expr optional(Expr e) {
        return new Repeat(e, 0, 1);
    }

    static Expr star(Expr e) {
        return new Repeat(e, 0, -1);
    }

    static Expr plus(Expr e) {
        return new Repeat(e, 1, -1);
    }

    static Expr empty() {
        return new Literal(new byte[0]);
    }

    /** Matches nothing at all. */
    static Expr nothing() {
        return new Alt(List.of());
    }

    /** One code point in {@code [lo, hi]}. */
    static CharSet range(int lo, int hi) {
        return new CharSet(new int[] {lo, hi});
    }

    /** One of the characters of {@code chars}. */
    static CharSet anyOf(String chars) {
        List<int[]> ranges = new ArrayList<>();
        chars.codePoints().forEach(c -> ranges.add(new int[] {c, c}));
        return charSet(ranges);
    }

    /** A set from unsorted, possibly overlapping {@code [lo, hi]} pairs. */
    static CharSet charSet(List<int[]> ranges) {
        List<int[]> sorted = new ArrayList<>(ranges);
        sorted.sort((a, b) -> Integer.compare(a[0], b[0]));
        int[] out = new int[sorted.size() * 2];
        int n = 0;
        for (int[] r : sorted) {
            if (r[0] > r[1]) continue;
            if (n > 0 && r[0] <= out[n - 1] + 1) {
                out[n - 1] = Math.max(out[n - 1], r[1]);
            } else {
                out[n++] = r[0];
                out[n++] = r[1];
            }
        }
        return new CharSet(Arrays.copyOf(out, n));
    }

    /** Every code point not in {@code set}. */
    static CharSet complement(CharSet set) {
        int[] r = set.ranges();
        List<int[]> out = new ArrayList<>();
        int next = 0;
        for (int i = 0; i < r.length; i += 2) {
            if (r[i] > next) out.add(new int[] {next, r[i] - 1});
            next = r[i + 1] + 1;
        }
        if (next <= MAX_CODE_POINT) out.add(new int[] {next, MAX_CODE_POINT});
        return charSet(out);
    }

    /** Code points in {@code a} but not in {@code b}. */
    static CharSet minus(CharSet a, CharSet b) {
        CharSet notB = complement(b);
        List<int[]> out = new ArrayList<>();
        int[] x = a.ranges(), y = notB.ranges();
        for (int i = 0, j = 0; i < x.length && j < y.length; ) {
            int lo = Math.max(x[i], y[j]), hi = Math.min(x[i + 1], y[j + 1]);
            if (lo <= hi) out.add(new int[] {lo, hi});
            if (x[i + 1] < y[j + 1]) i += 2;
            else j += 2;
        }
        return charSet(out);
    }

    static CharSet union(CharSet a, CharSet b) {
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < a.ranges().length; i += 2) out.add(new int[] {a.ranges()[i], a.ranges()[i + 1]});
        for (int i = 0; i < b.ranges().length; i += 2) out.add(new int[] {b.ranges()[i], b.ranges()[i + 1]});
        return charSet(out);
    }
}
