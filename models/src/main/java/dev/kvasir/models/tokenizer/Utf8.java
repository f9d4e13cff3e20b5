package dev.kvasir.models.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * The one UTF-8 rule every tokenizer and the incremental detokenizer share, so that decoding a
 * byte stream in pieces gives exactly the text of decoding it at once.
 *
 * <p>Text in: unpaired surrogates (which Java strings can hold) become U+FFFD before encoding.
 * Bytes out: each maximal ill-formed subpart becomes one U+FFFD (the Unicode "best practice" that
 * browsers and Python follow), so a cut that does not fall inside a well-formed prefix never
 * changes the result.
 */
public final class Utf8 {

    private Utf8() {}

    /** {@code text} with every unpaired surrogate replaced by U+FFFD. */
    public static String wellFormed(String text) {
        int n = text.length();
        StringBuilder out = null;
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            boolean paired = Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(text.charAt(i + 1));
            if (paired) {
                if (out != null) out.append(c).append(text.charAt(i + 1));
                i++;
            } else if (Character.isSurrogate(c)) {
                if (out == null) out = new StringBuilder(n).append(text, 0, i);
                out.append('\uFFFD');
            } else if (out != null) {
                out.append(c);
            }
        }
        return out == null ? text : out.toString();
    }

    /** UTF-8 bytes of {@code text}, unpaired surrogates encoded as U+FFFD. */
    public static byte[] encode(String text) {
        return wellFormed(text).getBytes(StandardCharsets.UTF_8);
    }

    /** Text of {@code bytes[from, to)}, each maximal ill-formed subpart replaced by U+FFFD. */
    public static String decode(byte[] bytes, int from, int to) {
        StringBuilder out = new StringBuilder(to - from);
        int i = from;
        while (i < to) {
            int b = bytes[i] & 0xFF;
            if (b < 0x80) {
                out.append((char) b);
                i++;
                continue;
            }
            int need = sequenceLength(b);
            int valid = validPrefixLength(bytes, i, Math.min(to, i + Math.max(need, 1)));
            if (need > 0 && valid == need) {
                out.appendCodePoint(codePoint(bytes, i, need));
                i += need;
            } else {
                out.append('\uFFFD');
                i += Math.max(valid, 1);
            }
        }
        return out.toString();
    }

    /** Text of all of {@code bytes}. */
    public static String decode(byte[] bytes) {
        return decode(bytes, 0, bytes.length);
    }

    /**
     * How many bytes at the end of {@code bytes[0, len)} start a well-formed sequence that is not
     * complete yet (0 to 3): the bytes to hold back until more arrive.
     */
    public static int incompleteTail(byte[] bytes, int len) {
        for (int back = 1; back <= 3 && back <= len; back++) {
            int start = len - back;
            int b = bytes[start] & 0xFF;
            if ((b & 0xC0) == 0x80) continue; // a continuation byte: its lead lies further back
            int need = sequenceLength(b);
            return need > back && validPrefixLength(bytes, start, len) == back ? back : 0;
        }
        return 0;
    }

    /** Length a lead byte announces (2 to 4), or 0 when it cannot start a sequence. */
    private static int sequenceLength(int lead) {
        if (lead >= 0xC2 && lead <= 0xDF) return 2;
        if (lead >= 0xE0 && lead <= 0xEF) return 3;
        if (lead >= 0xF0 && lead <= 0xF4) return 4;
        return 0;
    }

    /**
     * How many bytes from {@code start} (before {@code end}) form a well-formed prefix of one
     * sequence, per the Unicode table of well-formed byte sequences (no overlongs, no surrogates,
     * nothing above U+10FFFF).
     */
    private static int validPrefixLength(byte[] bytes, int start, int end) {
        int lead = bytes[start] & 0xFF;
        int need = sequenceLength(lead);
        if (need == 0) return 0;
        int n = 1;
        while (n < need && start + n < end) {
            int b = bytes[start + n] & 0xFF;
            int lo = 0x80, hi = 0xBF;
            if (n == 1) {
                if (lead == 0xE0) lo = 0xA0;
                else if (lead == 0xED) hi = 0x9F;
                else if (lead == 0xF0) lo = 0x90;
                else if (lead == 0xF4) hi = 0x8F;
            }
            if (b < lo || b > hi) break;
            n++;
        }
        return n;
    }

    private static int codePoint(byte[] bytes, int start, int length) {
        int cp = (bytes[start] & 0xFF) & (0xFF >> (length + 1));
        for (int k = 1; k < length; k++) cp = (cp << 6) | (bytes[start + k] & 0x3F);
        return cp;
    }
}
