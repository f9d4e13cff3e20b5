package dev.kvasir.models;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.MemoryPlan;
import dev.kvasir.kernels.cuda.CudaBackend;
import dev.kvasir.models.loader.ModelShape;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code kvasir plan}: what {@code serve --device cuda} would make of a model on GPUs that are not
 * here. Each rank's share of the weights is counted as the CUDA backend stores it ({@link ShardPlan}
 * decides the share, {@link CudaBackend#storedType} the bytes); the activation workspace is
 * estimated from the step limits (the tensors {@link StepBuffers} allocates, the logits rows, and
 * {@link CudaBackend#scratchBytes}; serve measures it instead with a profiling forward); a reserve
 * stands for the CUDA context, cuBLAS and NCCL. From there on it is serve's own arithmetic: a
 * {@link MemoryPlan} per rank, the smallest rank's blocks, {@link KvCacheSizing#minBlocks}.
 */
public final class CapacityPlanner {

    /** Assumed per GPU for the CUDA context, cuBLAS's workspace and NCCL's buffers (what serve sees as others' memory). */
    public static final long DEFAULT_RESERVED_BYTES = 1L << 30;

    private CapacityPlanner() {}

    /**
     * @param kvElementBytes bytes of one K or V value (2: the CUDA backend's f16 or bf16 cache)
     * @param reservedBytes  memory per GPU taken before Kvasir allocates ({@link #DEFAULT_RESERVED_BYTES})
     */
    public record Request(ModelShape model, Gpu gpu, int tensorParallelSize, double gpuMemoryUtilization,
                          KvCacheSizing.StepLimits limits, long reservedBytes, int kvElementBytes) {}

    /**
     * @throws IllegalArgumentException when the split cannot work, or max-model-len exceeds the model's context
     */
    public static CapacityPlan plan(Request r) {
        LlamaConfig c = r.model().config();
        if (r.limits().maxModelLen() > c.contextLength()) {
            throw new IllegalArgumentException("--max-model-len " + r.limits().maxModelLen() + " exceeds the model's context length "
                    + c.contextLength());
        }
        ShardPlan shards = ShardPlan.of(c, r.tensorParallelSize()).requireSplittable(r.model()::type);
        int bs = r.limits().blockSize();
        List<MemoryPlan> plans = new ArrayList<>();
        int limiting = 0;
        for (int k = 0; k < shards.worldSize(); k++) {
            RankShard s = shards.rank(k);
            plans.add(new MemoryPlan(r.gpu().bytes, r.reservedBytes(), weightBytes(c, s, r.model()),
                    workspaceBytes(c, s, r.model(), r.limits()),
                    r.gpuMemoryUtilization(), shards.kvBytesPerBlock(k, bs, r.kvElementBytes()), bs));
            if (plans.get(k).numBlocks() < plans.get(limiting).numBlocks()) limiting = k;
        }
        MemoryPlan memory = plans.get(limiting);
        int blocks = memory.numBlocks();
        long blocksPerSeq = (r.limits().maxModelLen() + bs - 1) / bs;
        return new CapacityPlan(r, shards, limiting, memory, shards.kvBytesPerBlock(limiting, 1, r.kvElementBytes()), blocks,
                (long) blocks * bs, (int) (blocks / blocksPerSeq), KvCacheSizing.minBlocks(r.limits().maxModelLen(), bs),
                KvCacheSizing.plannedBlocks(List.of(memory), r.limits()));
    }

    /**
     * Device bytes of rank {@code s}'s weights, as {@link LlamaRank} and {@link LayerWeights} load
     * them: the replicated embedding, its LM head rows (none extra where a single rank's tied head is
     * the embedding), the norms as f32, and its share of every layer's matrices.
     */
    public static long weightBytes(LlamaConfig c, RankShard s, ModelShape m) {
        int hd = c.headDim();
        long bytes = matrix(m, "token_embd.weight", c.vocabSize(), c.dim()) + vector(c.dim());
        if (s.vocabRows() > 0) {
            boolean tied = c.tiedEmbeddings() || m.type("output.weight") == null;
            if (!tied) bytes += matrix(m, "output.weight", s.vocabRows(), c.dim());
            else if (s.vocabRows() < c.vocabSize()) bytes += matrix(m, "token_embd.weight", s.vocabRows(), c.dim());
        }
        for (int l = 0; l < c.numLayers(); l++) {
            String p = "blk." + l + ".";
            bytes += 2 * vector(c.dim());
            bytes += matrix(m, p + "attn_q.weight", s.heads() * hd, c.dim());
            bytes += matrix(m, p + "attn_k.weight", s.kvHeads() * hd, c.dim());
            bytes += matrix(m, p + "attn_v.weight", s.kvHeads() * hd, c.dim());
            bytes += matrix(m, p + "attn_output.weight", c.dim(), s.heads() * hd);
            bytes += matrix(m, p + "ffn_gate.weight", s.ffnDim(), c.dim());
            bytes += matrix(m, p + "ffn_up.weight", s.ffnDim(), c.dim());
            bytes += matrix(m, p + "ffn_down.weight", c.dim(), s.ffnDim());
        }
        return bytes;
    }

    /**
     * Rank {@code s}'s activation workspace at serve's profiling step (a prefill of max-num-batched-tokens
     * over max-num-seqs sequences, all wanting logits, and a decode of as many at max-model-len).
     */
    public static long workspaceBytes(LlamaConfig c, RankShard s, ModelShape m, KvCacheSizing.StepLimits limits) {
        LlamaConfig local = s.local(c);
        int maxLen = Math.min(limits.maxModelLen(), c.contextLength());
        int seqs = Math.min(limits.maxNumSeqs(), limits.maxNumBatchedTokens());
        int tokens = (int) Math.min(limits.maxNumBatchedTokens(), (long) seqs * maxLen);
        long bytes = Float.BYTES * (StepBuffers.floats(local, tokens) + (long) seqs * (c.dim() + s.vocabRows()));
        int gemmCols = Math.max(c.dim(), Math.max(local.qDim(), local.ffnDim()));
        return bytes + CudaBackend.scratchBytes(tokens, gemmCols, seqs, local.numHeads(), c.headDim(), maxLen,
                largestQuantized(c, s, m));
    }

    /** Rows and columns of the rank's largest Q8_0/Q4_0 matrix (the dequantised GEMM's workspace), or null. */
    private static int[] largestQuantized(LlamaConfig c, RankShard s, ModelShape m) {
        int[] largest = null;
        int hd = c.headDim();
        String p = "blk.0.";
        Object[][] mats = {
                {"token_embd.weight", s.vocabRows(), c.dim()}, {"output.weight", s.vocabRows(), c.dim()},
                {p + "attn_q.weight", s.heads() * hd, c.dim()}, {p + "attn_k.weight", s.kvHeads() * hd, c.dim()},
                {p + "attn_output.weight", c.dim(), s.heads() * hd}, {p + "ffn_gate.weight", s.ffnDim(), c.dim()},
                {p + "ffn_down.weight", c.dim(), s.ffnDim()}};
        for (Object[] mat : mats) {
            GgmlType t = m.type((String) mat[0]);
            if (t != GgmlType.Q8_0 && t != GgmlType.Q4_0) continue;
            int rows = (int) mat[1], cols = (int) mat[2];
            if (largest == null || (long) rows * cols > (long) largest[0] * largest[1]) largest = new int[] {rows, cols};
        }
        return largest;
    }

    private static long matrix(ModelShape m, String name, long rows, long cols) {
        GgmlType t = m.type(name);
        if (t == null) throw new IllegalArgumentException(m.name() + " has no tensor " + name);
        return CudaBackend.storedType(t).bytesFor(rows * cols);
    }

    private static long vector(int n) {
        return (long) n * Float.BYTES;
    }
}
