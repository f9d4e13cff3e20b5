package dev.kvasir.models.loader;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kvasir.models.LlamaConfig;

import java.nio.file.Path;
import java.util.Map;

/**
 * {@link LlamaConfig} from a Hugging Face {@code config.json}. RoPE style is NEOX: HF checkpoints
 * rotate halves of each head and Kvasir does not permute q/k as llama.cpp's converter does.
 */
final class HfConfig {

    private HfConfig() {}

    /**
     * @param addedTokens token text → id from the tokenizer files, used to find the end-of-turn token
     */
    static LlamaConfig read(Path file, JsonNode cfg, Map<String, Integer> addedTokens) {
        String modelType = cfg.path("model_type").asText("llama");
        if (!modelType.equals("llama")) {
            throw new ModelFormatException(file, "unsupported model_type \"" + modelType + "\"; Kvasir runs llama models");
        }
        int dim = required(file, cfg, "hidden_size");
        int layers = required(file, cfg, "num_hidden_layers");
        int heads = required(file, cfg, "num_attention_heads");
        int kvHeads = optional(file, cfg, "num_key_value_heads", heads);
        int headDim = optional(file, cfg, "head_dim", heads > 0 ? dim / heads : 0);
        int ffn = required(file, cfg, "intermediate_size");
        int vocab = required(file, cfg, "vocab_size");
        int context = optional(file, cfg, "max_position_embeddings", 2048);
        float eps = (float) cfg.path("rms_norm_eps").asDouble(1e-6);
        float theta = (float) cfg.path("rope_theta").asDouble(10000);
        boolean tied = cfg.path("tie_word_embeddings").asBoolean(false);
        int bos = firstId(cfg.get("bos_token_id"), vocab);
        int eos = firstId(cfg.get("eos_token_id"), vocab);
        int eot = -1;
        for (String text : GgufConfig.EOT_TEXTS) {
            Integer id = addedTokens.get(text);
            if (id != null && id < vocab) {
                eot = id;
                break;
            }
        }
        try {
            return new LlamaConfig(dim, layers, heads, kvHeads, headDim, ffn, vocab, context, eps, theta,
                    ropeScaling(file, cfg.get("rope_scaling")), LlamaConfig.RopeStyle.NEOX, tied, bos, eos, eot);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(file, e.getMessage(), e);
        }
    }

    private static LlamaConfig.RopeScaling ropeScaling(Path file, JsonNode rs) {
        if (rs == null || rs.isNull()) return null;
        String type = rs.has("rope_type") ? rs.path("rope_type").asText() : rs.path("type").asText("default");
        if (type.equals("default")) return null;
        if (!type.equals("llama3")) {
            throw new ModelFormatException(file, "unsupported rope_scaling type \"" + type + "\" (Kvasir supports llama3)");
        }
        return new LlamaConfig.RopeScaling(
                (float) rs.path("factor").asDouble(8),
                (float) rs.path("low_freq_factor").asDouble(1),
                (float) rs.path("high_freq_factor").asDouble(4),
                rs.path("original_max_position_embeddings").asInt(8192));
    }

    /** An id or the first of a list of ids ({@code eos_token_id: [128001, 128009]}); -1 when absent. */
    private static int firstId(JsonNode node, int vocab) {
        if (node == null || node.isNull()) return -1;
        JsonNode first = node.isArray() ? node.path(0) : node;
        int id = first.canConvertToInt() ? first.asInt(-1) : -1;
        return id >= 0 && id < vocab ? id : -1;
    }

    private static int required(Path file, JsonNode cfg, String key) {
        if (!cfg.hasNonNull(key)) throw new ModelFormatException(file, "missing " + key);
        return optional(file, cfg, key, 0);
    }

    private static int optional(Path file, JsonNode cfg, String key, int fallback) {
        JsonNode n = cfg.get(key);
        if (n == null || n.isNull()) return fallback;
        if (!n.isIntegralNumber() || !n.canConvertToInt()) {
            throw new ModelFormatException(file, key + " should be an integer, got " + n);
        }
        return n.asInt();
    }
}
