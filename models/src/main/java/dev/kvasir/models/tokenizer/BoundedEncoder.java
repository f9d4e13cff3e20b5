package dev.kvasir.models.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Encodes prompts with a cut-off, so an oversized request costs time in proportion to the limit,
 * never to its size (a legal 8 MB body once took 15 s to encode whole before being refused):
 * <ol>
 * <li>No token is longer than the vocabulary's longest, so a text of {@code B} bytes takes at least
 *     {@code ceil(B / maxTokenBytes)} tokens; past the limit it is refused without encoding.</li>
 * <li>A large text is first counted in pieces of about {@link #PIECE_BYTES} bytes cut before
 *     whitespace, stopping as soon as the pieces' count, less a margin per cut (merges across a cut
 *     can only save a token or two there), is past the limit.</li>
 * <li>Only then is it encoded whole, exactly, and checked once more.</li>
 * </ol>
 */
public final class BoundedEncoder {

    /** Texts longer than this are counted in pieces before they are encoded whole. */
    static final int PIECE_BYTES = 8192;
    /** Tokens a cut between two pieces may save at most (a merge across it). */
    private static final int MARGIN_PER_CUT = 2;

    private final Tokenizer tokenizer;
    private final int maxTokenBytes;

    public BoundedEncoder(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
        int longest = 1;
        for (int id = 0; id < tokenizer.vocabSize(); id++) {
            longest = Math.max(longest, tokenizer.tokenBytes(id).length);
            // A special token's text (<|im_start|>) becomes one token: count its string too.
            if (tokenizer.isSpecial(id)) longest = Math.max(longest, tokenizer.tokenString(id).getBytes(StandardCharsets.UTF_8).length);
        }
        this.maxTokenBytes = longest;
    }

    /** Bytes of the longest token's text. */
    public int maxTokenBytes() {
        return maxTokenBytes;
    }

    /** The fewest tokens a text of {@code utf8Bytes} bytes can become. */
    public long minTokens(long utf8Bytes) {
        return (utf8Bytes + maxTokenBytes - 1) / maxTokenBytes;
    }

    /** Refuses a text of {@code utf8Bytes} bytes that cannot fit {@code limit} tokens, without encoding it. */
    public void checkBytes(long utf8Bytes, int limit) {
        long min = minTokens(utf8Bytes);
        if (min > limit) throw new PromptTooLongException(min, limit, false);
    }

    /** {@link Tokenizer#encode(String, boolean, boolean)} with a cut-off of {@code limit} tokens. */
    public int[] encode(String text, boolean addBos, int limit) {
        return encode(List.of(new TextSpan(text, false)), addBos, limit);
    }

    /**
     * {@link Tokenizer#encode(List, boolean)}, or {@link PromptTooLongException} as soon as the spans are
     * known to take more than {@code limit} tokens.
     */
    public int[] encode(List<TextSpan> spans, boolean addBos, int limit) {
        long bytes = 0;
        for (TextSpan s : spans) bytes += utf8Length(s.text());
        checkBytes(bytes, limit);
        if (bytes > 2L * PIECE_BYTES) countInPieces(spans, limit);
        int[] ids = tokenizer.encode(spans, addBos);
        if (ids.length > limit) throw new PromptTooLongException(ids.length, limit, true);
        return ids;
    }

    /** Counts the spans piece by piece and stops at the first proof that they exceed the limit. */
    private void countInPieces(List<TextSpan> spans, int limit) {
        long tokens = 0;
        int cuts = 0;
        for (TextSpan span : spans) {
            String text = span.text();
            int from = 0;
            while (from < text.length()) {
                int to = cut(text, from);
                tokens += tokenizer.encode(List.of(new TextSpan(text.substring(from, to), span.parseSpecial())), false).length;
                cuts++;
                from = to;
                long atLeast = tokens - (long) MARGIN_PER_CUT * cuts;
                if (atLeast > limit) throw new PromptTooLongException(atLeast, limit, false);
            }
        }
    }

    /** The end of the piece starting at {@code from}: about PIECE_BYTES on, just before a whitespace that follows a non-space. */
    private static int cut(String text, int from) {
        int target = from + PIECE_BYTES;
        if (target >= text.length()) return text.length();
        int limit = Math.min(text.length(), target + PIECE_BYTES);
        for (int i = target; i < limit; i++) {
            if (Character.isWhitespace(text.charAt(i)) && !Character.isWhitespace(text.charAt(i - 1))) return i;
        }
        // No whitespace nearby (one long word): cut anywhere but inside a surrogate pair.
        return Character.isLowSurrogate(text.charAt(target)) ? target + 1 : target;
    }

    private static long utf8Length(String s) {
        long n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) n++;
            else if (c < 0x800) n += 2;
            else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                n += 4;
                i++;
            } else n += 3;
        }
        return n;
    }
}
