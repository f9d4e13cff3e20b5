package dev.kvasir.models.tokenizer;

import dev.kvasir.models.loader.LoadedModel;

import java.nio.file.Path;
import java.util.Map;

/** Picks the tokenizer a model needs. */
public final class Tokenizers {

    private Tokenizers() {}

    /**
     * The model's tokenizer: a Hugging Face directory's {@code tokenizer.json} through DJL; a GGUF
     * file's vocabulary by {@code tokenizer.ggml.model} ({@code llama} or {@code gpt2}). Throws
     * naming the file when there is no tokenizer or its kind is unsupported.
     */
    public static Tokenizer load(LoadedModel model) {
        if (model.tokenizerJson() != null) return HfTokenizer.open(model.tokenizerJson());
        return fromGgufMetadata(model.metadata(), model.source());
    }

    /** The tokenizer in GGUF metadata; {@code source} names the file in errors. */
    public static Tokenizer fromGgufMetadata(Map<String, Object> metadata, Path source) {
        Object kind = metadata.get(Vocabulary.KEY_PREFIX + "model");
        if (kind == null) {
            throw new IllegalArgumentException(source + " has no tokenizer (no tokenizer.ggml.model key and no tokenizer.json)");
        }
        try {
            Vocabulary vocabulary = Vocabulary.fromGgufMetadata(metadata);
            return switch (vocabulary.model()) {
                case "llama" -> new LlamaSpmTokenizer(vocabulary);
                case "gpt2" -> new Gpt2BpeTokenizer(vocabulary);
                default -> throw new IllegalArgumentException("unsupported tokenizer.ggml.model '" + kind
                        + "' (supported: llama, gpt2)");
            };
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
    }
}
