package dev.kvasir.models;

import dev.kvasir.kernels.WeightTensor;

import java.util.Set;

/**
 * The tensors of a loaded model, by GGUF name ({@code token_embd.weight}, {@code output_norm.weight},
 * {@code output.weight}, {@code blk.N.attn_q.weight}, {@code blk.N.attn_k.weight},
 * {@code blk.N.attn_v.weight}, {@code blk.N.attn_output.weight}, {@code blk.N.attn_norm.weight},
 * {@code blk.N.ffn_gate.weight}, {@code blk.N.ffn_up.weight}, {@code blk.N.ffn_down.weight},
 * {@code blk.N.ffn_norm.weight}). Data stays memory-mapped; closing releases the mappings.
 */
public interface ModelWeights extends AutoCloseable {

    /** The tensor, or an exception naming the file and the missing tensor. */
    WeightTensor tensor(String name);

    /** The tensor, or null when the file has none by that name. */
    WeightTensor find(String name);

    Set<String> names();

    @Override
    void close();
}
