package dev.kvasir.models.loader;

import dev.kvasir.kernels.WeightTensor;
import dev.kvasir.models.LlamaConfig;
import dev.kvasir.models.ModelWeights;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/** Checks that every tensor a Llama forward pass reads is present with the shape the config implies. */
final class WeightValidator {

    private WeightValidator() {}

    /** Expected shapes (GGUF order: innermost first) of every required tensor, by GGUF name. */
    static Map<String, long[]> expectedShapes(LlamaConfig c) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put("token_embd.weight", new long[] {c.dim(), c.vocabSize()});
        for (int l = 0; l < c.numLayers(); l++) {
            String b = "blk." + l + ".";
            shapes.put(b + "attn_norm.weight", new long[] {c.dim()});
            shapes.put(b + "attn_q.weight", new long[] {c.dim(), c.qDim()});
            shapes.put(b + "attn_k.weight", new long[] {c.dim(), c.kvDim()});
            shapes.put(b + "attn_v.weight", new long[] {c.dim(), c.kvDim()});
            shapes.put(b + "attn_output.weight", new long[] {c.qDim(), c.dim()});
            shapes.put(b + "ffn_norm.weight", new long[] {c.dim()});
            shapes.put(b + "ffn_gate.weight", new long[] {c.dim(), c.ffnDim()});
            shapes.put(b + "ffn_up.weight", new long[] {c.dim(), c.ffnDim()});
            shapes.put(b + "ffn_down.weight", new long[] {c.ffnDim(), c.dim()});
        }
        shapes.put("output_norm.weight", new long[] {c.dim()});
        if (!c.tiedEmbeddings()) shapes.put("output.weight", new long[] {c.dim(), c.vocabSize()});
        return shapes;
    }

    /** Throws a {@link ModelFormatException} naming {@code source}, the tensor and both shapes on the first mismatch. */
    static void validate(Path source, LlamaConfig config, ModelWeights weights) {
        for (Map.Entry<String, long[]> e : expectedShapes(config).entrySet()) {
            WeightTensor t = weights.find(e.getKey());
            if (t == null) {
                throw new ModelFormatException(source, "missing tensor " + e.getKey() + " (expected shape "
                        + Arrays.toString(e.getValue()) + ")");
            }
            if (!Arrays.equals(t.shape(), e.getValue())) {
                throw new ModelFormatException(source, "tensor " + e.getKey() + " has shape " + Arrays.toString(t.shape())
                        + " but the config needs " + Arrays.toString(e.getValue()) + " (GGUF order: innermost first)");
            }
        }
    }
}
