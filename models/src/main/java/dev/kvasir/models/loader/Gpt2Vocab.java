package dev.kvasir.models.loader;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A synthetic but valid GPT-2 style byte-level BPE vocabulary for random test models: special
 * tokens, the 256 byte tokens in GPT-2's byte-to-unicode alphabet, then merges that grow
 * lower-case words (with and without the leading-space marker Ġ) letter by letter, breadth first.
 * Every merge "a b" joins two earlier tokens into the token "ab", which follows them.
 *
 * @param tokens     all token strings, by id
 * @param tokenTypes GGUF token types (1 normal, 3 control)
 * @param merges     "a b" pairs in rank order
 */
record Gpt2Vocab(String[] tokens, int[] tokenTypes, String[] merges) {

    static final List<String> SPECIALS = List.of("<|endoftext|>", "<|im_start|>", "<|im_end|>");
    private static final String LETTERS = "etaoinshrdlcumwfgypbvkjxqz";

    /** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 upward. */
    static char[] byteToUnicode() {
        char[] map = new char[256];
        boolean[] printable = new boolean[256];
        for (int b = '!'; b <= '~'; b++) printable[b] = true;
        for (int b = 0xA1; b <= 0xAC; b++) printable[b] = true;
        for (int b = 0xAE; b <= 0xFF; b++) printable[b] = true;
        int next = 256;
        for (int b = 0; b < 256; b++) map[b] = printable[b] ? (char) b : (char) next++;
        return map;
    }

    static Gpt2Vocab build(int vocabSize) {
        char[] bytes = byteToUnicode();
        List<String> tokens = new ArrayList<>(SPECIALS);
        for (char c : bytes) tokens.add(String.valueOf(c));
        if (vocabSize < tokens.size()) throw new IllegalArgumentException("vocabulary of " + vocabSize + " is too small");
        Set<String> known = new HashSet<>(tokens);
        List<String> merges = new ArrayList<>();
        Deque<String> queue = new ArrayDeque<>();
        queue.add(String.valueOf(bytes[' ']));
        for (char c : LETTERS.toCharArray()) queue.add(String.valueOf(c));
        while (tokens.size() < vocabSize) {
            String left = queue.poll();
            for (int i = 0; i < LETTERS.length() && tokens.size() < vocabSize; i++) {
                String right = String.valueOf(LETTERS.charAt(i));
                String joined = left + right;
                if (known.add(joined)) {
                    tokens.add(joined);
                    merges.add(left + " " + right);
                    queue.add(joined);
                }
            }
        }
        int[] types = new int[tokens.size()];
        for (int i = 0; i < types.length; i++) types[i] = i < SPECIALS.size() ? 3 : 1;
        return new Gpt2Vocab(tokens.toArray(String[]::new), types, merges.toArray(String[]::new));
    }
}
