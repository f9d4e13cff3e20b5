package dev.kvasir.models.loader;

import dev.kvasir.models.LlamaConfig;
import dev.kvasir.models.ModelWeights;

import java.nio.file.Path;
import java.util.Map;

/**
 * A model ready to run: config, memory-mapped weights and what the tokenizer and chat template need.
 *
 * @param source        the GGUF file or Hugging Face directory loaded
 * @param config        hyperparameters and special token ids
 * @param weights       tensors by GGUF name, memory-mapped
 * @param metadata      GGUF: the file's metadata (types as {@link GgufFile} documents). Hugging Face:
 *                      every key of {@code config.json} as {@code hf.config.KEY} and of
 *                      {@code tokenizer_config.json} as {@code hf.tokenizer_config.KEY} (JSON values as
 *                      String / Long / Double / Boolean / List / Map), plus safetensors
 *                      {@code __metadata__} entries as {@code hf.safetensors.KEY}
 * @param tokenizerJson the directory's {@code tokenizer.json} (Hugging Face only), else null
 * @param chatTemplate  the model's own Jinja chat template, or null when it has none
 */
public record LoadedModel(Path source, LlamaConfig config, ModelWeights weights, Map<String, Object> metadata,
                          Path tokenizerJson, String chatTemplate) implements AutoCloseable {

    /** Unmaps the weights. */
    @Override
    public void close() {
        weights.close();
    }
}
