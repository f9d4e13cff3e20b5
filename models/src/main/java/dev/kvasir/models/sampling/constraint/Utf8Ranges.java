package dev.kvasir.models.sampling.constraint;

import java.util.ArrayList;
import java.util.List;

/**
 * Code-point ranges as UTF-8 byte-range sequences (RE2's construction): {@code [U+0080, U+07FF]}
 * becomes the one sequence {@code [C2-DF][80-BF]}, and so on. Each sequence is an array of
 * {@code [lo, hi]} byte pairs; a byte string matches the set exactly when it matches one sequence.
 * Surrogates are left out, as UTF-8 cannot encode them.
 */
final class Utf8Ranges {

    private static final int[] MAX_BY_LENGTH = {0x7F, 0x7FF, 0xFFFF, 0x10FFFF};

    private Utf8Ranges() {}

    /** The byte-range sequences of every code point in {@code [lo, hi]}. */
    static List<int[][]> of(int lo, int hi) {
        List<int[][]> out = new ArrayList<>();
        if (lo <= 0xD7FF) split(lo, Math.min(hi, 0xD7FF), out);
        if (hi >= 0xE000) split(Math.max(lo, 0xE000), hi, out);
        return out;
    }

    private static void split(int lo, int hi, List<int[][]> out) {
        if (lo > hi) return;
        for (int max : MAX_BY_LENGTH) {
            if (lo <= max && hi > max) {
                split(lo, max, out);
                split(max + 1, hi, out);
                return;
            }
        }
        if (hi <= 0x7F) {
            out.add(new int[][] {{lo, hi}});
            return;
        }
        for (int i = 1; i < 4; i++) {
            int m = (1 << (6 * i)) - 1;
            if ((lo & ~m) != (hi & ~m)) {
                if ((lo & m) != 0) {
                    split(lo, lo | m, out);
                    split((lo | m) + 1, hi, out);
                    return;
                }
                if ((hi & m) != m) {
                    split(lo, (hi & ~m) - 1, out);
                    split(hi & ~m, hi, out);
                    return;
                }
            }
        }
        byte[] a = encode(lo), b = encode(hi);
        int[][] seq = new int[a.length][];
        for (int i = 0; i < a.length; i++) seq[i] = new int[] {a[i] & 0xFF, b[i] & 0xFF};
        out.add(seq);
    }

    static byte[] encode(int cp) {
        return new String(Character.toChars(cp)).getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }
}
