package dev.kvasir.models.sampling.constraint;

import dev.kvasir.models.tokenizer.Tokenizer;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * A served model's vocabulary as constraints see it: each token's bytes (byte-fallback and
 * byte-level tokens decoded, SentencePiece's {@code ▁} as a space), which tokens may appear in
 * constrained text (not special tokens, not tokens with no bytes), the stop tokens that may end it,
 * and a byte trie of the text tokens. Built once per model and shared by every constraint and thread.
 *
 * <p>The leading-space rule: where the tokenizer adds a space prefix (SentencePiece), decoding drops
 * the first generated token's leading space, so at the first position of an output a token's text
 * is its bytes without that space.
 */
public final class TokenVocabulary {

    private final int size;
    /** Bytes of token t: {@code bytes[offset[t] .. offset[t + 1])}. */
    private final byte[] bytes;
    private final int[] offset;
    private final boolean[] text;
    private final int[] stopTokens;
    private final boolean dropsFirstLeadingSpace;
    private final TokenTrie trie;
    private final String fingerprint;
    private final int maxTokenBytes;

    private TokenVocabulary(Tokenizer tokenizer) {
        size = tokenizer.vocabSize();
        offset = new int[size + 1];
        text = new boolean[size];
        byte[][] all = new byte[size][];
        for (int t = 0; t < size; t++) {
            all[t] = tokenizer.tokenBytes(t);
            text[t] = !tokenizer.isSpecial(t) && all[t].length > 0;
            offset[t + 1] = offset[t] + all[t].length;
        }
        bytes = new byte[offset[size]];
        int longest = 0;
        for (int t = 0; t < size; t++) {
            System.arraycopy(all[t], 0, bytes, offset[t], all[t].length);
            if (text[t]) longest = Math.max(longest, all[t].length);
        }
        maxTokenBytes = longest;
        stopTokens = Arrays.stream(tokenizer.stopTokenIds()).filter(t -> t >= 0 && t < size).distinct().sorted().toArray();
        dropsFirstLeadingSpace = tokenizer.addsSpacePrefix();
        trie = TokenTrie.build(bytes, offset, text);
        fingerprint = digest();
    }

    /** The vocabulary of {@code tokenizer} (a few hundred milliseconds for 128k tokens: build once per model). */
    public static TokenVocabulary of(Tokenizer tokenizer) {
        return new TokenVocabulary(tokenizer);
    }

    public int size() {
        return size;
    }

    /** Whether the token stands for text a constraint can allow (not special, not empty). */
    public boolean isText(int token) {
        return text[token];
    }

    public int[] stopTokens() {
        return stopTokens.clone();
    }

    boolean isStop(int token) {
        return Arrays.binarySearch(stopTokens, token) >= 0;
    }

    int[] stopTokensShared() {
        return stopTokens;
    }

    boolean dropsFirstLeadingSpace() {
        return dropsFirstLeadingSpace;
    }

    int start(int token) {
        return offset[token];
    }

    int end(int token) {
        return offset[token + 1];
    }

    byte[] bytes() {
        return bytes;
    }

    TokenTrie trie() {
        return trie;
    }

    int maxTokenBytes() {
        return maxTokenBytes;
    }

    /** SHA-256 of every token's bytes and kind, the stop tokens and the space rule: a cache key part. */
    public String fingerprint() {
        return fingerprint;
    }

    private String digest() {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] n = new byte[4];
            for (int t = 0; t < size; t++) {
                int len = offset[t + 1] - offset[t];
                n[0] = (byte) (len >>> 16);
                n[1] = (byte) (len >>> 8);
                n[2] = (byte) len;
                n[3] = (byte) (text[t] ? 1 : 0);
                md.update(n);
                md.update(bytes, offset[t], len);
            }
            for (int s : stopTokens) md.update(Integer.toString(s).getBytes());
            md.update((byte) (dropsFirstLeadingSpace ? 1 : 0));
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return "TokenVocabulary[" + size + " tokens, " + trie.tokenCount() + " text tokens, " + trie.nodeCount() + " trie nodes]";
    }
}
