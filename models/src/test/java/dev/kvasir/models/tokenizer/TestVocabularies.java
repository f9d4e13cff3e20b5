package dev.kvasir.models.tokenizer;

import dev.kvasir.models.ModelLocator;
import dev.kvasir.models.loader.GgufFile;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Vocabularies the tokenizer tests share: the two real GGUF ones and a small byte-level one. */
final class TestVocabularies {

    private static Map<String, Object> llama2Metadata;
    private static Map<String, Object> storiesMetadata;

    private TestVocabularies() {}

    /** Llama 2's 32,000-token SentencePiece vocabulary, from llama-2-tiny-random.gguf. */
    static synchronized LlamaSpmTokenizer llama2() {
        if (llama2Metadata == null) llama2Metadata = metadata("llama-2-tiny-random.gguf");
        return new LlamaSpmTokenizer(Vocabulary.fromGgufMetadata(llama2Metadata));
    }

    /** stories260K's 512-token SentencePiece vocabulary. */
    static synchronized LlamaSpmTokenizer stories() {
        if (storiesMetadata == null) storiesMetadata = metadata("stories260K.gguf");
        return new LlamaSpmTokenizer(Vocabulary.fromGgufMetadata(storiesMetadata));
    }

    static Map<String, Object> metadata(String model) {
        try (GgufFile file = GgufFile.open(ModelLocator.testModel(model))) {
            return new HashMap<>(file.metadata());
        }
    }

    /** Merges of the small byte-level vocabulary, best first; each result is also a token. */
    static final String[] SMALL_MERGES = {
            "Ġ t", "h e", "Ġt he", "t h", "H e", "l l", "He ll", "Hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld",
            "i n", "Ġ in", "Ġ a", "1 2", "Ċ Ċ", "Ġ Ġ"};

    static final String[] SMALL_SPECIALS = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    static final String SMALL_USER_DEFINED = "<think>";

    /**
     * A byte-level BPE vocabulary built here: the 256 byte characters (id = position in GPT-2's
     * byte order), the merge results, three control tokens and one user-defined token.
     */
    static Map<String, Object> smallGpt2Metadata(String pre) {
        List<String> tokens = new ArrayList<>();
        for (int b = 0; b < 256; b++) tokens.add(ByteLevel.encode(new byte[] {(byte) b}));
        for (String merge : SMALL_MERGES) tokens.add(merge.replace(" ", ""));
        int[] types = new int[tokens.size() + SMALL_SPECIALS.length + 1];
        Arrays.fill(types, 1);
        for (String special : SMALL_SPECIALS) {
            types[tokens.size()] = 3;
            tokens.add(special);
        }
        types[tokens.size()] = 4;
        tokens.add(SMALL_USER_DEFINED);
        Map<String, Object> metadata = new HashMap<>();
        metadata.put("tokenizer.ggml.model", "gpt2");
        if (pre != null) metadata.put("tokenizer.ggml.pre", pre);
        metadata.put("tokenizer.ggml.tokens", tokens.toArray(String[]::new));
        metadata.put("tokenizer.ggml.token_type", types);
        metadata.put("tokenizer.ggml.merges", SMALL_MERGES.clone());
        metadata.put("tokenizer.ggml.eos_token_id", (long) tokens.indexOf("<|im_end|>"));
        metadata.put("tokenizer.ggml.bos_token_id", (long) tokens.indexOf("<|endoftext|>"));
        metadata.put("tokenizer.ggml.add_bos_token", Boolean.FALSE);
        return metadata;
    }

    static Gpt2BpeTokenizer smallGpt2(String pre) {
        return new Gpt2BpeTokenizer(Vocabulary.fromGgufMetadata(smallGpt2Metadata(pre)));
    }

    /** The id of a vocabulary string in {@code tokenizer}. */
    static int id(Tokenizer tokenizer, String token) {
        for (int i = 0; i < tokenizer.vocabSize(); i++) if (tokenizer.tokenString(i).equals(token)) return i;
        throw new IllegalArgumentException("no token " + token);
    }
}
