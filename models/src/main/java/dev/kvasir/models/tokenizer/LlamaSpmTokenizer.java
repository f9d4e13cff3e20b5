package dev.kvasir.models.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * GGUF {@code llama} tokenizer: SentencePiece BPE by piece scores, as llama.cpp's
 * {@code llm_tokenizer_spm} and llama2.c's {@code encode} do it. Spaces become {@code ▁}, a
 * {@code ▁} goes before the text (at the start and after each special token) when the vocabulary
 * says so, characters start as symbols, the adjacent pair whose joined piece scores highest merges
 * first (leftmost on ties), and a character with no piece falls back to {@code <0xNN>} byte tokens.
 */
public final class LlamaSpmTokenizer extends GgufVocabTokenizer {

    static final char SPACE_MARK = '\u2581';

    /** Pieces that text may become: NORMAL tokens only, so no text can turn into a control or byte token. */
    private final Map<String, Integer> pieces = new HashMap<>();
    private final int[] byteTokens = new int[256];

    public LlamaSpmTokenizer(Vocabulary vocabulary) {
        super(vocabulary);
        Arrays.fill(byteTokens, -1);
        String[] tokens = vocabulary.tokens();
        for (int id = 0; id < tokens.length; id++) {
            TokenType type = vocabulary.type(id);
            if (type == TokenType.NORMAL) pieces.put(tokens[id], id);
            else if (type == TokenType.BYTE) {
                int b = parseByteToken(tokens[id]);
                if (b >= 0) byteTokens[b] = id;
            }
        }
        computeTokenBytes();
    }

    @Override
    public boolean addsSpacePrefix() {
        return vocabulary.addSpacePrefix();
    }

    /** One bigram candidate: symbols {@code left} and {@code right}, {@code size} chars together. */
    private record Bigram(int left, int right, float score, int size) {}

    @Override
    protected void encodeText(String text, boolean afterSpecial, IntArrayBuilder out) {
        String s = ((vocabulary.addSpacePrefix() && afterSpecial ? " " : "") + text).replace(' ', SPACE_MARK);
        // Symbols: one per code point, as a doubly linked list over arrays.
        int n = s.codePointCount(0, s.length());
        int[] start = new int[n], len = new int[n], prev = new int[n], next = new int[n];
        for (int i = 0, offset = 0; i < n; i++) {
            start[i] = offset;
            len[i] = Character.charCount(s.codePointAt(offset));
            offset += len[i];
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        PriorityQueue<Bigram> queue = new PriorityQueue<>((a, b) ->
                a.score != b.score ? Float.compare(b.score, a.score) : Integer.compare(a.left, b.left));
        for (int i = 1; i < n; i++) addBigram(s, start, len, i - 1, i, queue);
        while (!queue.isEmpty()) {
            Bigram bigram = queue.poll();
            int l = bigram.left, r = bigram.right;
            // Stale entries: one side was merged away or grew since this pair was queued.
            if (len[l] == 0 || len[r] == 0 || len[l] + len[r] != bigram.size) continue;
            len[l] += len[r];
            len[r] = 0;
            next[l] = next[r];
            if (next[r] >= 0) prev[next[r]] = l;
            if (prev[l] >= 0) addBigram(s, start, len, prev[l], l, queue);
            if (next[l] >= 0) addBigram(s, start, len, l, next[l], queue);
        }
        for (int i = n > 0 ? 0 : -1; i >= 0; i = next[i]) {
            String piece = s.substring(start[i], start[i] + len[i]);
            Integer id = pieces.get(piece);
            if (id != null) {
                out.add(id);
                continue;
            }
            for (byte b : piece.getBytes(StandardCharsets.UTF_8)) {
                int byteId = byteTokens[b & 0xFF] >= 0 ? byteTokens[b & 0xFF] : vocabulary.unkId();
                if (byteId < 0) {
                    throw new IllegalStateException("vocabulary has neither a piece for '" + piece
                            + "' nor a byte token <0x" + String.format("%02X", b & 0xFF) + "> nor an unknown token");
                }
                out.add(byteId);
            }
        }
    }

    private void addBigram(String s, int[] start, int[] len, int left, int right, PriorityQueue<Bigram> queue) {
        int size = len[left] + len[right];
        Integer id = pieces.get(s.substring(start[left], start[left] + size));
        if (id != null) queue.add(new Bigram(left, right, vocabulary.scores()[id], size));
    }

    @Override
    protected byte[] bytesOf(int id) {
        if (isSilent(id)) return new byte[0];
        String token = vocabulary.tokens()[id];
        if (vocabulary.type(id) == TokenType.BYTE) {
            int b = parseByteToken(token);
            if (b >= 0) return new byte[] {(byte) b};
        }
        return token.replace(SPACE_MARK, ' ').getBytes(StandardCharsets.UTF_8);
    }

    /** The byte of a {@code <0xNN>} token, or -1. */
    static int parseByteToken(String token) {
        if (token.length() != 6 || !token.startsWith("<0x") || token.charAt(5) != '>') return -1;
        try {
            return Integer.parseInt(token.substring(3, 5), 16);
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
