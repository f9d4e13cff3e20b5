package dev.kvasir.models.tokenizer;

import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * A GGUF tokenizer's vocabulary, as the {@code tokenizer.ggml.*} metadata states it.
 *
 * @param model          {@code tokenizer.ggml.model}: {@code llama} (SentencePiece) or {@code gpt2} (byte-level BPE)
 * @param pre            {@code tokenizer.ggml.pre}: which pre-tokenizer regex a gpt2 vocabulary needs, or null
 * @param tokens         token strings by id
 * @param scores         SentencePiece merge scores by id (all zero when the file has none)
 * @param types          token types by id (all NORMAL when the file has none)
 * @param merges         byte-level BPE merges {@code "a b"}, best first (empty for llama)
 * @param bosId          beginning-of-sequence id, or -1
 * @param eosId          end-of-sequence id, or -1
 * @param unkId          unknown-token id, or -1
 * @param stopIds        ids that end generation: EOS, EOT, EOM and control tokens that end a turn
 * @param addBos         whether prompts start with BOS
 * @param addSpacePrefix whether SentencePiece text gets a leading {@code ▁}
 */
public record Vocabulary(
        String model,
        String pre,
        String[] tokens,
        float[] scores,
        TokenType[] types,
        String[] merges,
        int bosId,
        int eosId,
        int unkId,
        int[] stopIds,
        boolean addBos,
        boolean addSpacePrefix) {

    static final String KEY_PREFIX = "tokenizer.ggml.";

    /** Control tokens that end a turn in common chat formats, found by text when no id names them. */
    private static final Set<String> END_OF_TURN_TEXTS = Set.of(
            "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "</s>");

    public Vocabulary {
        if (tokens.length == 0) throw new IllegalArgumentException("vocabulary has no tokens");
        if (scores.length != tokens.length || types.length != tokens.length) {
            throw new IllegalArgumentException("vocabulary arrays disagree: " + tokens.length + " tokens, "
                    + scores.length + " scores, " + types.length + " token types");
        }
    }

    public int size() {
        return tokens.length;
    }

    public TokenType type(int id) {
        return types[id];
    }

    /**
     * The vocabulary in GGUF metadata ({@code tokenizer.ggml.*}), with llama.cpp's defaults for
     * keys a file leaves out. Throws naming the key that is missing or of the wrong type.
     */
    public static Vocabulary fromGgufMetadata(Map<String, Object> metadata) {
        String model = require(metadata, "model", String.class);
        String[] tokens = require(metadata, "tokens", String[].class);
        int n = tokens.length;
        float[] scores = optional(metadata, "scores", float[].class, new float[n]);
        int[] typeCodes = optional(metadata, "token_type", int[].class, null);
        if (scores.length != n || (typeCodes != null && typeCodes.length != n)) {
            throw new IllegalArgumentException("tokenizer.ggml.scores/token_type lengths (" + scores.length + ", "
                    + (typeCodes == null ? "none" : typeCodes.length) + ") differ from tokenizer.ggml.tokens (" + n + ")");
        }
        TokenType[] types = new TokenType[n];
        for (int i = 0; i < n; i++) types[i] = typeCodes == null ? TokenType.NORMAL : TokenType.of(typeCodes[i]);
        String[] merges = optional(metadata, "merges", String[].class, new String[0]);
        boolean llama = model.equals("llama");
        int bos = id(metadata, "bos_token_id", llama ? 1 : -1, n);
        int eos = id(metadata, "eos_token_id", llama ? 2 : -1, n);
        int unk = id(metadata, "unknown_token_id", llama ? 0 : -1, n);
        Set<Integer> stops = new LinkedHashSet<>();
        if (eos >= 0) stops.add(eos);
        for (String key : new String[] {"eot_token_id", "eom_token_id"}) {
            int id = id(metadata, key, -1, n);
            if (id >= 0) stops.add(id);
        }
        for (int i = 0; i < n; i++) {
            if (types[i] == TokenType.CONTROL && END_OF_TURN_TEXTS.contains(tokens[i])) stops.add(i);
        }
        boolean addBos = optional(metadata, "add_bos_token", Boolean.class, llama) && bos >= 0;
        boolean addSpacePrefix = optional(metadata, "add_space_prefix", Boolean.class, llama);
        String pre = optional(metadata, "pre", String.class, null);
        return new Vocabulary(model, pre, tokens, scores, types, merges, bos, eos, unk,
                stops.stream().mapToInt(Integer::intValue).toArray(), addBos, addSpacePrefix);
    }

    private static <T> T require(Map<String, Object> metadata, String key, Class<T> type) {
        T value = optional(metadata, key, type, null);
        if (value == null) throw new IllegalArgumentException("GGUF metadata has no " + KEY_PREFIX + key);
        return value;
    }

    private static <T> T optional(Map<String, Object> metadata, String key, Class<T> type, T fallback) {
        Object value = metadata.get(KEY_PREFIX + key);
        if (value == null) return fallback;
        if (!type.isInstance(value)) {
            throw new IllegalArgumentException("GGUF metadata " + KEY_PREFIX + key + " is a "
                    + value.getClass().getSimpleName() + ", expected " + type.getSimpleName());
        }
        return type.cast(value);
    }

    /** A token id key: {@code fallback} when absent; -1 when out of range (which includes GGUF's "none", 0xFFFFFFFF). */
    private static int id(Map<String, Object> metadata, String key, int fallback, int vocabSize) {
        Object value = metadata.get(KEY_PREFIX + key);
        if (!(value instanceof Number number)) return fallback;
        long id = number.longValue();
        return id >= 0 && id < vocabSize ? (int) id : -1;
    }

    @Override
    public String toString() {
        return "Vocabulary[" + model + (pre == null ? "" : "/" + pre) + ", " + tokens.length + " tokens, "
                + merges.length + " merges, bos=" + bosId + ", eos=" + eosId + ", stops=" + Arrays.toString(stopIds) + "]";
    }
}
