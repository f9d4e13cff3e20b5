package dev.kvasir.models;

import dev.kvasir.kernels.AllReduce;
import dev.kvasir.kernels.AttentionBatch;
import dev.kvasir.kernels.Backend;
import dev.kvasir.kernels.DeviceMatrix;
import dev.kvasir.kernels.DeviceTensor;
import dev.kvasir.kernels.KvCache;
import dev.kvasir.kernels.KvLayout;
import dev.kvasir.kernels.MemoryPlan;
import dev.kvasir.kernels.RopeFrequencies;
import dev.kvasir.kernels.WeightTensor;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One tensor-parallel rank of a {@link LlamaModel} on its {@link Backend}: its share of the weights
 * ({@link RankShard}: its query and KV heads, its MLP columns, its LM head rows; the whole model on a
 * single rank), its paged KV cache of its KV heads, and the forward pass over them. {@link #forward}
 * runs every token of a step (prefill chunks and decode tokens of many sequences) through each
 * weight matrix together, then attends per sequence through its block table; the row-parallel
 * projections' partial sums meet the other ranks' in the {@link AllReduce}. Single-threaded use
 * (the thread that drives this rank); the backend parallelises inside each op.
 */
final class LlamaRank implements AutoCloseable {

    private final LlamaConfig config;
    /** The config this rank's layers compute with: its heads, KV heads and feed-forward size. */
    private final LlamaConfig local;
    private final RankShard shard;
    private final Backend backend;
    /** Sums the row-parallel O and down projections over the tensor-parallel ranks; NONE for one rank. */
    private final AllReduce allReduce;
    private final DeviceMatrix tokenEmbedding;
    /** This rank's LM head rows, or null when it computes no logits. */
    private final DeviceMatrix output;
    private final DeviceTensor outputNorm;
    private final LayerWeights[] layers;
    private final RopeFrequencies rope;
    private KvCache kvCache;
    private final KvCache swap;
    private final StepBuffers buf;
    private final AttentionBatch attention = new AttentionBatch();
    private final LogitRows hostLogits;
    private int[] logitRows = new int[16];
    private DeviceTensor logitsIn, logits;
    private int logitsCapacity;

    LlamaRank(LlamaConfig config, RankShard shard, ModelWeights weights, Backend backend, int numKvBlocks, int blockSize,
              int swapBlocks, AllReduce allReduce, LogitRows hostLogits) {
        this.config = config;
        this.shard = shard;
        this.local = shard.local(config);
        this.backend = backend;
        this.allReduce = Objects.requireNonNull(allReduce, "allReduce (AllReduce.NONE for a single rank)");
        this.hostLogits = hostLogits;
        // The embedding is replicated: every rank looks up every token (ShardPlan says why).
        WeightTensor embd = LayerWeights.matrix(weights, "token_embd.weight", config.vocabSize(), config.dim());
        tokenEmbedding = backend.matrix(embd);
        WeightTensor out = weights.find("output.weight");
        // Tied models reuse the embedding as the classifier (some files still carry a copy; it is identical).
        WeightTensor head = config.tiedEmbeddings() || out == null ? embd
                : LayerWeights.matrix(weights, "output.weight", config.vocabSize(), config.dim());
        if (shard.vocabRows() == 0) output = null;
        else if (head == embd && shard.vocabRows() == config.vocabSize()) output = tokenEmbedding;
        else output = backend.matrix(head.rows(shard.vocabFrom(), shard.vocabTo()));
        outputNorm = backend.vector(LayerWeights.vector(weights, "output_norm.weight", config.dim()));
        layers = new LayerWeights[config.numLayers()];
        for (int l = 0; l < layers.length; l++) layers[l] = LayerWeights.load(weights, config, shard, l, backend);
        LlamaConfig.RopeScaling s = config.ropeScaling();
        rope = s == null ? RopeFrequencies.of(config.headDim(), config.ropeTheta())
                : RopeFrequencies.llama3(config.headDim(), config.ropeTheta(), s.factor(), s.lowFreqFactor(),
                        s.highFreqFactor(), s.originalContextLength());
        KvLayout layout = new KvLayout(config.numLayers(), numKvBlocks, blockSize, shard.kvHeads(), config.headDim());
        kvCache = backend.allocateKvCache(layout, false);
        swap = swapBlocks > 0 ? backend.allocateKvCache(
                new KvLayout(layout.numLayers(), swapBlocks, layout.blockSize(), layout.numKvHeads(), layout.headDim()), true)
                : null;
        buf = new StepBuffers(backend, local);
    }

    /** Replaces the KV cache with one of {@code numKvBlocks} blocks; what it held is lost. */
    void resizeKvCache(int numKvBlocks) {
        KvLayout l = kvCache.layout();
        kvCache.close();
        kvCache = null; // until the new one exists: a failed allocation leaves a rank that can only be closed
        kvCache = backend.allocateKvCache(new KvLayout(l.numLayers(), numKvBlocks, l.blockSize(), l.numKvHeads(), l.headDim()), false);
    }

    int numKvBlocks() {
        return kvCache == null ? 0 : kvCache.layout().numBlocks();
    }

    Backend backend() {
        return backend;
    }

    /** This rank's device memory plan for its KV heads (after a profiling forward). */
    MemoryPlan planKvCache(int blockSize, double utilization, int minBlocks) {
        backend.synchronize();
        return backend.planKvCache(config.numLayers(), shard.kvHeads(), config.headDim(), blockSize, utilization, minBlocks);
    }

    /**
     * Runs one step; writes this rank's vocabulary columns of one logits row per chunk that wants
     * logits into the shared rows, and returns them (see {@link LlamaModel#forward}).
     */
    float[][] forward(ForwardBatch batch) {
        List<SequenceChunk> chunks = batch.chunks();
        int n = prepare(chunks);
        int[] src = batch.copySrc(), dst = batch.copyDst();
        if (src != null && src.length > 0) {
            if (dst == null || dst.length != src.length) {
                throw new IllegalArgumentException("block copies: " + src.length + " sources but "
                        + (dst == null ? "no" : String.valueOf(dst.length)) + " destinations");
            }
            backend.copyBlocks(kvCache, src, dst, src.length);
        }
        if (n > 0) {
            backend.embed(tokenEmbedding, buf.tokens, n, buf.x);
            rope.cosSin(buf.positions, n, buf.cosSinHost);
            backend.upload(buf.cosSinHost, 0, buf.cosSin, 0, n * config.headDim());
            for (int l = 0; l < layers.length; l++) layer(l, n);
        }
        return logits(chunks);
    }

    /** Flattens the chunks into the step's token, position and slot arrays and the attention batch. */
    private int prepare(List<SequenceChunk> chunks) {
        int n = 0;
        for (SequenceChunk c : chunks) n += c.tokens().length;
        buf.ensure(n);
        attention.clear();
        int row = 0;
        for (SequenceChunk c : chunks) {
            int len = c.tokens().length;
            if (c.slotMapping().length < len) {
                throw new IllegalArgumentException("sequence " + c.seqId() + ": " + len + " tokens but "
                        + c.slotMapping().length + " slots");
            }
            int context = c.startPos() + len;
            if (context > config.contextLength()) {
                throw new IllegalArgumentException("sequence " + c.seqId() + ": " + context
                        + " positions exceed the model's context length " + config.contextLength());
            }
            for (int i = 0; i < len; i++) {
                buf.tokens[row + i] = c.tokens()[i];
                buf.positions[row + i] = c.startPos() + i;
                buf.slots[row + i] = c.slotMapping()[i];
            }
            if (len > 0) attention.add(row, len, c.startPos(), c.blockTable());
            row += len;
        }
        return n;
    }

    /** One transformer block over the step's n tokens, as in llama2.c's forward (this rank's heads and MLP columns). */
    private void layer(int l, int n) {
        LayerWeights w = layers[l];
        LlamaConfig c = local;
        // attention rmsnorm
        backend.rmsNorm(buf.x, w.attnNorm(), n, c.dim(), c.rmsEps(), buf.xb);
        // q, k, v projections for every token at once
        backend.matmuls(w.qkv(), buf.xb, n, buf.qkv);
        // rotary position embedding of q and k
        boolean neox = c.ropeStyle() == LlamaConfig.RopeStyle.NEOX;
        backend.rope(buf.q, n, c.numHeads(), c.headDim(), buf.cosSin, neox);
        backend.rope(buf.k, n, c.numKvHeads(), c.headDim(), buf.cosSin, neox);
        // this step's keys and values into their pages, then attention over each sequence's pages
        backend.writeKv(kvCache, l, buf.k, buf.v, buf.slots, n);
        backend.attention(buf.q, kvCache, l, attention, c.numHeads(), buf.att);
        // output projection, summed over the tensor-parallel ranks, and residual
        backend.matmul(w.wo(), buf.att, n, buf.xb2);
        allReduce.sumInPlace(buf.xb2, (long) n * c.dim());
        backend.add(buf.x, buf.xb2, (long) n * c.dim());
        // ffn rmsnorm, then w2(silu(w1 x) * w3 x), summed over the ranks, and residual
        backend.rmsNorm(buf.x, w.ffnNorm(), n, c.dim(), c.rmsEps(), buf.xb);
        backend.matmuls(w.gateUp(), buf.xb, n, buf.gateUp);
        backend.siluMul(buf.hb, buf.hb2, (long) n * c.ffnDim());
        backend.matmul(w.down(), buf.hb, n, buf.xb2);
        allReduce.sumInPlace(buf.xb2, (long) n * c.dim());
        backend.add(buf.x, buf.xb2, (long) n * c.dim());
    }

    /** Final norm and this rank's LM head rows for the last token of each chunk that wants logits. */
    private float[][] logits(List<SequenceChunk> chunks) {
        int m = 0, row = 0;
        for (SequenceChunk c : chunks) {
            row += c.tokens().length;
            if (!c.wantLogits()) continue;
            if (c.tokens().length == 0) {
                throw new IllegalArgumentException("sequence " + c.seqId() + " wants logits but brings no token");
            }
            if (m == logitRows.length) logitRows = Arrays.copyOf(logitRows, m * 2);
            logitRows[m++] = row - 1;
        }
        float[][] result = hostLogits.view(m);
        if (m == 0 || output == null) return result;
        int vocab = shard.vocabRows();
        if (m > logitsCapacity) {
            if (logitsIn != null) {
                backend.free(logitsIn);
                backend.free(logits);
            }
            logitsCapacity = Math.max(m, 2 * logitsCapacity);
            logitsIn = backend.allocate((long) logitsCapacity * config.dim());
            logits = backend.allocate((long) logitsCapacity * vocab);
        }
        backend.gatherRows(buf.x, config.dim(), logitRows, m, logitsIn);
        backend.rmsNorm(logitsIn, outputNorm, m, config.dim(), config.rmsEps(), logitsIn);
        backend.matmul(output, logitsIn, m, logits);
        for (int i = 0; i < m; i++) {
            backend.download(logits, (long) i * vocab, result[i], shard.vocabFrom(), vocab);
        }
        return result;
    }

    /** Copies blocks from the backend's cache to host swap space (preemption by swapping). */
    void swapOut(int[] gpuBlocks, int[] cpuBlocks) {
        backend.copyBlocks(kvCache, gpuBlocks, requireSwap(), cpuBlocks, gpuBlocks.length);
    }

    /** Copies blocks back from host swap space. */
    void swapIn(int[] cpuBlocks, int[] gpuBlocks) {
        backend.copyBlocks(requireSwap(), cpuBlocks, kvCache, gpuBlocks, cpuBlocks.length);
    }

    private KvCache requireSwap() {
        if (swap == null) throw new IllegalStateException("this model was created without swap space (numCpuSwapBlocks = 0)");
        return swap;
    }

    @Override
    public void close() {
        buf.release();
        if (kvCache != null) kvCache.close();
        if (swap != null) swap.close();
    }
}
