package dev.kvasir.models.loader;

import dev.kvasir.kernels.WeightTensor;
import dev.kvasir.models.LlamaConfig;
import dev.kvasir.models.ModelWeights;

import java.nio.file.Path;
import java.util.Arrays;

/** Checks that every tensor a Llama forward pass reads is present with the shape the config implies. */
final class WeightValidator {

    private WeightValidator() {}

    /**
     * Throws a {@link ModelFormatException} naming {@code source}, the tensor and both shapes on the
     * first mismatch. Tensors are checked in file order (embeddings, layer by layer, output) and the
     * check stops at the first gap, so a header claiming a billion layers fails at the first missing
     * one instead of first listing what all of them would need.
     */
    static void validate(Path source, LlamaConfig c, ModelWeights weights) {
        check(source, weights, "token_embd.weight", c.dim(), c.vocabSize());
        for (int l = 0; l < c.numLayers(); l++) {
            String b = "blk." + l + ".";
            check(source, weights, b + "attn_norm.weight", c.dim());
            check(source, weights, b + "attn_q.weight", c.dim(), c.qDim());
            check(source, weights, b + "attn_k.weight", c.dim(), c.kvDim());
            check(source, weights, b + "attn_v.weight", c.dim(), c.kvDim());
            check(source, weights, b + "attn_output.weight", c.qDim(), c.dim());
            check(source, weights, b + "ffn_norm.weight", c.dim());
            check(source, weights, b + "ffn_gate.weight", c.dim(), c.ffnDim());
            check(source, weights, b + "ffn_up.weight", c.dim(), c.ffnDim());
            check(source, weights, b + "ffn_down.weight", c.ffnDim(), c.dim());
        }
        check(source, weights, "output_norm.weight", c.dim());
        if (!c.tiedEmbeddings()) check(source, weights, "output.weight", c.dim(), c.vocabSize());
    }

    /** {@code shape} in GGUF order: innermost first. */
    private static void check(Path source, ModelWeights weights, String name, long... shape) {
        WeightTensor t = weights.find(name);
        if (t == null) {
            throw new ModelFormatException(source, "missing tensor " + name + " (expected shape " + Arrays.toString(shape) + ")");
        }
        if (!Arrays.equals(t.shape(), shape)) {
            throw new ModelFormatException(source, "tensor " + name + " has shape " + Arrays.toString(t.shape())
                    + " but the config needs " + Arrays.toString(shape) + " (GGUF order: innermost first)");
        }
    }
}
