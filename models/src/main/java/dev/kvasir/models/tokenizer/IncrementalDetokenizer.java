package dev.kvasir.models.tokenizer;

import java.util.Arrays;

/**
 * Streaming detokenization: text as tokens arrive, never half a UTF-8 character. Bytes that start
 * a character not complete yet are held until it is (or until {@link #flush}); everything else is
 * emitted at once. Follows {@link Tokenizer#decode}'s rules, so the pushes and the flush together
 * give exactly {@code decode(all ids)}. One per sequence; not thread-safe.
 */
public final class IncrementalDetokenizer {

    private final Tokenizer tokenizer;
    private byte[] pending = new byte[16];
    private int pendingLength;
    private int position;
    private int firstId = -1;

    public IncrementalDetokenizer(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /**
     * A detokenizer for the tokens that follow {@code context} (a prompt): the pushes give exactly
     * what {@code decode(context + continuation)} adds to {@code decode(context)} when the context
     * ends on a character boundary. SentencePiece drops the dummy-prefix space of the first text
     * token only, so a continuation keeps its leading space (" time" after "Once upon a"), as
     * llama.cpp and vLLM return it.
     */
    public static IncrementalDetokenizer after(Tokenizer tokenizer, int[] context) {
        IncrementalDetokenizer d = new IncrementalDetokenizer(tokenizer);
        d.position = context.length;
        if (context.length > 0) d.firstId = context[0];
        return d;
    }

    /** Text completed by {@code tokenId}; empty while a character is still incomplete. */
    public String push(int tokenId) {
        byte[] bytes = tokenizer.tokenBytes(tokenId);
        int skip = LeadingSpaceRule.isFirstTextToken(tokenizer, position, tokenId, firstId)
                && bytes.length > 0 && bytes[0] == ' ' ? 1 : 0;
        if (position == 0) firstId = tokenId;
        position++;
        append(bytes, skip);
        int hold = Utf8.incompleteTail(pending, pendingLength);
        int ready = pendingLength - hold;
        if (ready == 0) return "";
        String text = Utf8.decode(pending, 0, ready);
        System.arraycopy(pending, ready, pending, 0, hold);
        pendingLength = hold;
        return text;
    }

    /** Whatever is held back, incomplete sequences as U+FFFD; the stream can go on afterwards. */
    public String flush() {
        String text = Utf8.decode(pending, 0, pendingLength);
        pendingLength = 0;
        return text;
    }

    /** Tokens pushed so far. */
    public int tokenCount() {
        return position;
    }

    private void append(byte[] bytes, int from) {
        int n = bytes.length - from;
        if (pendingLength + n > pending.length) pending = Arrays.copyOf(pending, Math.max(pending.length * 2, pendingLength + n));
        System.arraycopy(bytes, from, pending, pendingLength, n);
        pendingLength += n;
    }
}
