package dev.kvasir.kernels.cuda;

import dev.kvasir.kernels.AttentionBatch;
import dev.kvasir.kernels.KvLayout;
import org.bytedeco.cuda.cudart.CUstream_st;

import java.util.Arrays;

/**
 * Plans and launches paged attention for one layer of a batch: per sequence its context length
 * and padded block table, then either the split-K decode kernel (every sequence one query, in row
 * order) with its partition reduce, or the tiled prefill kernel (queries of a sequence together,
 * over its cached prefix). Grid shapes and shared-memory sizes follow the kernels in
 * {@code native/src/attention_*.cu}.
 */
final class PagedAttentionLauncher {

    /** Tokens per split-K partition of decode attention (a multiple of the kernel's 32-token tile). */
    static final int PARTITION_SIZE = 512;
    static final int MAX_HEAD_DIM = 256;
    private static final int DECODE_TILE = 32;
    private static final int PREFILL_ROWS = 32;
    private static final int PREFILL_KEYS = 16;
    private static final int MAX_DECODE_OUTPUTS = 8 * 256;

    private final CudaModule module;
    private final CUstream_st stream;
    private final CudaMemory memory;
    private final KernelArgs args;
    private final CudaMemory.Scratch tables;
    private final CudaMemory.Scratch contexts;
    private final CudaMemory.Scratch queryStarts;
    private final CudaMemory.Scratch partials;
    private final CudaMemory.Scratch partialStats;

    PagedAttentionLauncher(CudaModule module, CUstream_st stream, CudaMemory memory, KernelArgs args) {
        this.module = module;
        this.stream = stream;
        this.memory = memory;
        this.args = args;
        this.tables = memory.scratch("block tables");
        this.contexts = memory.scratch("context lengths");
        this.queryStarts = memory.scratch("query starts");
        this.partials = memory.scratch("attention partials");
        this.partialStats = memory.scratch("attention partial max/sum");
    }

    /** The batch's shape as the kernels need it: context lengths, and block tables padded with -1. */
    private record Plan(int[] context, int[] packedTables, int maxBlocks, int maxContext, int maxQueries, boolean decode) {

        static Plan of(AttentionBatch batch, int blockSize) {
            int seqs = batch.sequences();
            int[] context = new int[seqs];
            int maxBlocks = 1, maxContext = 0, maxQueries = 0;
            boolean decode = true;
            for (int s = 0; s < seqs; s++) {
                context[s] = batch.startPos(s) + batch.queryCount(s);
                int need = (context[s] + blockSize - 1) / blockSize;
                if (need > batch.blockTable(s).length) {
                    throw new IllegalArgumentException("block table of " + batch.blockTable(s).length + " blocks cannot hold "
                            + context[s] + " positions");
                }
                maxBlocks = Math.max(maxBlocks, need);
                maxContext = Math.max(maxContext, context[s]);
                maxQueries = Math.max(maxQueries, batch.queryCount(s));
                decode &= batch.queryCount(s) == 1 && batch.queryStart(s) == s;
                if (s + 1 < seqs && batch.queryStart(s) + batch.queryCount(s) != batch.queryStart(s + 1)) {
                    throw new IllegalArgumentException("the CUDA backend needs each sequence's query rows right after the"
                            + " previous sequence's; sequence " + (s + 1) + " starts at row " + batch.queryStart(s + 1));
                }
            }
            int[] packed = new int[seqs * maxBlocks];
            Arrays.fill(packed, -1);
            for (int s = 0; s < seqs; s++) {
                System.arraycopy(batch.blockTable(s), 0, packed, s * maxBlocks, (context[s] + blockSize - 1) / blockSize);
            }
            return new Plan(context, packed, maxBlocks, maxContext, maxQueries, decode);
        }
    }

    /**
     * Causal attention of every query row of {@code batch} ({@code q}, {@code out}:
     * {@code [rows][numHeads * headDim]} f32) over layer {@code layer} of {@code cache}.
     */
    void launch(long q, long out, CudaKvCache cache, int layer, AttentionBatch batch, int numHeads) {
        KvLayout lay = cache.layout;
        int headDim = lay.headDim(), kvHeads = lay.numKvHeads(), bs = lay.blockSize();
        if (numHeads % kvHeads != 0) {
            throw new IllegalArgumentException(numHeads + " query heads do not group evenly over " + kvHeads + " KV heads");
        }
        int seqs = batch.sequences();
        if (seqs == 0) return;
        int width = numHeads * headDim;
        Plan plan = Plan.of(batch, bs);
        long tablePtr = memory.uploadInts(tables, plan.packedTables(), plan.packedTables().length);
        long contextPtr = memory.uploadInts(contexts, plan.context(), seqs);
        float scale = (float) (1.0 / Math.sqrt(headDim));
        int group = numHeads / kvHeads;
        String suffix = "f32_" + cache.dtype.kernelSuffix;

        if (plan.decode()) {
            int headsPerBlock = Math.min(group, Math.min(MAX_DECODE_OUTPUTS / headDim, 64));
            int chunks = (group + headsPerBlock - 1) / headsPerBlock;
            int partitions = (plan.maxContext() + PARTITION_SIZE - 1) / PARTITION_SIZE;
            int smem = 4 * (headsPerBlock * headDim + headsPerBlock * DECODE_TILE) + cache.dtype.bytes() * DECODE_TILE * headDim
                    + 4 * 3 * headsPerBlock;
            long partRows = (long) seqs * numHeads * partitions;
            long tmp = partitions > 1 ? partials.ensure(partRows * headDim * 4) : 0;
            long stats = partitions > 1 ? partialStats.ensure(partRows * 2 * 4) : 0;
            // Null when there is one partition: the kernel then writes the output directly.
            long maxLogits = stats, expSums = partitions > 1 ? stats + partRows * 4 : 0;
            module.launch("kvasir_paged_attention_decode_" + suffix, kvHeads * chunks, seqs, partitions, 256, smem, stream,
                    args.reset().ptr(out).ptr(tmp).ptr(maxLogits).ptr(expSums).ptr(q).i32(width)
                            .ptr(cache.k[layer]).ptr(cache.v[layer]).ptr(tablePtr).i32(plan.maxBlocks()).ptr(contextPtr)
                            .i32(lay.numBlocks()).i32(bs).i32(numHeads).i32(kvHeads).i32(headDim).i32(headsPerBlock)
                            .f32(scale).i32(PARTITION_SIZE));
            if (partitions > 1) {
                module.launch("kvasir_paged_attention_reduce_f32", numHeads, seqs, 1, 128, partitions * 4, stream,
                        args.reset().ptr(out).ptr(tmp).ptr(maxLogits).ptr(expSums).ptr(contextPtr).i32(plan.maxBlocks())
                                .i32(bs).i32(numHeads).i32(headDim).i32(partitions).i32(PARTITION_SIZE));
            }
        } else {
            int[] starts = new int[seqs + 1];
            for (int s = 0; s < seqs; s++) starts[s] = batch.queryStart(s);
            starts[seqs] = batch.queryStart(seqs - 1) + batch.queryCount(seqs - 1);
            long startPtr = memory.uploadInts(queryStarts, starts, seqs + 1);
            int smem = 4 * PREFILL_ROWS * headDim + cache.dtype.bytes() * (PREFILL_KEYS * headDim + PREFILL_KEYS * (headDim + 2))
                    + 4 * (PREFILL_ROWS * PREFILL_KEYS + 3 * PREFILL_ROWS);
            module.launch("kvasir_paged_attention_prefill_" + suffix, (plan.maxQueries() * group + PREFILL_ROWS - 1) / PREFILL_ROWS,
                    kvHeads, seqs, 256, smem, stream,
                    args.reset().ptr(out).i32(width).ptr(q).i32(width).ptr(cache.k[layer]).ptr(cache.v[layer])
                            .ptr(tablePtr).i32(plan.maxBlocks()).ptr(startPtr).ptr(contextPtr).i32(lay.numBlocks()).i32(bs)
                            .i32(numHeads).i32(kvHeads).i32(headDim).f32(scale));
        }
    }
}
