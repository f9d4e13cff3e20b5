package dev.kvasir.models;

import dev.kvasir.kernels.AllReduce;
import dev.kvasir.kernels.AttentionBatch;
import dev.kvasir.kernels.Backend;
import dev.kvasir.kernels.DeviceMatrix;
import dev.kvasir.kernels.DeviceTensor;
import dev.kvasir.kernels.KvCache;
import dev.kvasir.kernels.KvLayout;
import dev.kvasir.kernels.RopeFrequencies;
import dev.kvasir.kernels.WeightTensor;

import java.util.Arrays;
import java.util.List;

/**
 * A Llama-architecture transformer on a {@link Backend}, with its paged KV cache. One
 * {@link #forward} runs every token of a step (prefill chunks and decode tokens of many sequences)
 * through each weight matrix together, then attends per sequence through its block table.
 * Single-threaded use (the engine thread); the backend parallelises inside each op.
 */
public final class LlamaModel implements AutoCloseable {

    private final LlamaConfig config;
    private final Backend backend;
    /** Sums the row-parallel O and down projections over the tensor-parallel ranks; NONE for one rank. */
    private final AllReduce allReduce;
    private final DeviceMatrix tokenEmbedding;
    private final DeviceMatrix output;
    private final DeviceTensor outputNorm;
    private final LayerWeights[] layers;
    private final RopeFrequencies rope;
    private KvCache kvCache;
    private final KvCache swap;
    private final StepBuffers buf;
    private final AttentionBatch attention = new AttentionBatch();
    private int[] logitRows = new int[16];
    private DeviceTensor logitsIn, logits;
    private int logitsCapacity;
    /** Host logits rows, {@code vocabSize} floats each, reused by every step; grown, never shrunk. */
    private float[][] hostLogits = new float[0][];
    /** {@code logitsViews[m]}: the first m host rows, the array {@link #forward} returns for m rows. */
    private float[][][] logitsViews = new float[1][][];

    private LlamaModel(LlamaConfig config, ModelWeights weights, Backend backend, KvLayout layout, int swapBlocks,
                       AllReduce allReduce) {
        this.config = config;
        this.backend = backend;
        this.allReduce = java.util.Objects.requireNonNull(allReduce, "allReduce (AllReduce.NONE for a single rank)");
        WeightTensor embd = LayerWeights.matrix(weights, "token_embd.weight", config.vocabSize(), config.dim());
        tokenEmbedding = backend.matrix(embd);
        WeightTensor out = weights.find("output.weight");
        // Tied models reuse the embedding as the classifier (some files still carry a copy; it is identical).
        output = config.tiedEmbeddings() || out == null ? tokenEmbedding
                : backend.matrix(LayerWeights.matrix(weights, "output.weight", config.vocabSize(), config.dim()));
        outputNorm = backend.vector(LayerWeights.vector(weights, "output_norm.weight", config.dim()));
        layers = new LayerWeights[config.numLayers()];
        for (int l = 0; l < layers.length; l++) layers[l] = LayerWeights.load(weights, config, l, backend);
        LlamaConfig.RopeScaling s = config.ropeScaling();
        rope = s == null ? RopeFrequencies.of(config.headDim(), config.ropeTheta())
                : RopeFrequencies.llama3(config.headDim(), config.ropeTheta(), s.factor(), s.lowFreqFactor(),
                        s.highFreqFactor(), s.originalContextLength());
        kvCache = backend.allocateKvCache(layout, false);
        swap = swapBlocks > 0 ? backend.allocateKvCache(
                new KvLayout(layout.numLayers(), swapBlocks, layout.blockSize(), layout.numKvHeads(), layout.headDim()), true)
                : null;
        buf = new StepBuffers(backend, config);
    }

    /**
     * @param numKvBlocks      blocks of the KV cache on the backend
     * @param blockSize        token slots per block
     * @param numCpuSwapBlocks blocks of host swap space (0: none)
     */
    public static LlamaModel create(LlamaConfig config, ModelWeights weights, Backend backend,
                                    int numKvBlocks, int blockSize, int numCpuSwapBlocks) {
        return create(config, weights, backend, numKvBlocks, blockSize, numCpuSwapBlocks, AllReduce.NONE);
    }

    /**
     * One tensor-parallel rank's model: {@code allReduce} sums the attention output projection's and
     * the MLP down projection's results over the ranks before each residual add (twice per layer).
     * Sharded weights are not loaded yet: with {@link AllReduce#NONE} this is the single-rank model.
     */
    public static LlamaModel create(LlamaConfig config, ModelWeights weights, Backend backend,
                                    int numKvBlocks, int blockSize, int numCpuSwapBlocks, AllReduce allReduce) {
        KvLayout layout = new KvLayout(config.numLayers(), numKvBlocks, blockSize, config.numKvHeads(), config.headDim());
        return new LlamaModel(config, weights, backend, layout, numCpuSwapBlocks, allReduce);
    }

    /**
     * Replaces the KV cache with one of {@code numKvBlocks} blocks (what it held is lost): how a
     * device backend sizes its cache after weights and a profiling forward have taken their share
     * ({@link KvCacheSizing}). Call it before any sequence is cached.
     */
    public void resizeKvCache(int numKvBlocks) {
        KvLayout l = kvCache.layout();
        kvCache.close();
        kvCache = null; // until the new one exists: a failed allocation leaves a model that can only be closed
        kvCache = backend.allocateKvCache(new KvLayout(l.numLayers(), numKvBlocks, l.blockSize(), l.numKvHeads(), l.headDim()), false);
    }

    /** Blocks of the KV cache on the backend. */
    public int numKvBlocks() {
        return kvCache == null ? 0 : kvCache.layout().numBlocks();
    }

    /** Bytes of K and V, all layers, for one block of {@code blockSize} tokens of {@code elementBytes} each. */
    public static long kvBytesPerBlock(LlamaConfig c, int blockSize, int elementBytes) {
        return 2L * c.numLayers() * blockSize * c.kvDim() * elementBytes;
    }

    public LlamaConfig config() {
        return config;
    }

    public Backend backend() {
        return backend;
    }

    /**
     * Runs one step. Returns one logits row ({@code vocabSize} floats) per chunk that wants logits,
     * in chunk order. The rows, and the array holding them, are buffers owned by this model and
     * reused by every step (a steady-state step allocates nothing): they are valid only until the
     * next call of {@code forward}, which overwrites them. Read them (sample, compute logprobs)
     * before the next step, or copy what must outlive it.
     */
    public float[][] forward(ForwardBatch batch) {
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

    /** One transformer block over the step's n tokens, as in llama2.c's forward. */
    private void layer(int l, int n) {
        LayerWeights w = layers[l];
        LlamaConfig c = config;
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
        // ffn rmsnorm, then w2(silu(w1 x) * w3 x) and residual
        backend.rmsNorm(buf.x, w.ffnNorm(), n, c.dim(), c.rmsEps(), buf.xb);
        backend.matmuls(w.gateUp(), buf.xb, n, buf.gateUp);
        backend.siluMul(buf.hb, buf.hb2, (long) n * c.ffnDim());
        backend.matmul(w.down(), buf.hb, n, buf.xb2);
        allReduce.sumInPlace(buf.xb2, (long) n * c.dim());
        backend.add(buf.x, buf.xb2, (long) n * c.dim());
    }

    /** Final norm and classifier for the last token of each chunk that wants logits. */
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
        float[][] result = hostRows(m);
        if (m == 0) return result;
        if (m > logitsCapacity) {
            if (logitsIn != null) {
                backend.free(logitsIn);
                backend.free(logits);
            }
            logitsCapacity = Math.max(m, 2 * logitsCapacity);
            logitsIn = backend.allocate((long) logitsCapacity * config.dim());
            logits = backend.allocate((long) logitsCapacity * config.vocabSize());
        }
        backend.gatherRows(buf.x, config.dim(), logitRows, m, logitsIn);
        backend.rmsNorm(logitsIn, outputNorm, m, config.dim(), config.rmsEps(), logitsIn);
        backend.matmul(output, logitsIn, m, logits);
        for (int i = 0; i < m; i++) {
            backend.download(logits, (long) i * config.vocabSize(), result[i], 0, config.vocabSize());
        }
        return result;
    }

    /** The reused array of the first {@code m} host logits rows, growing the rows the first time m is reached. */
    private float[][] hostRows(int m) {
        if (m >= logitsViews.length) logitsViews = Arrays.copyOf(logitsViews, Math.max(m + 1, 2 * logitsViews.length));
        float[][] view = logitsViews[m];
        if (view != null) return view;
        if (m > hostLogits.length) {
            int old = hostLogits.length;
            hostLogits = Arrays.copyOf(hostLogits, m);
            for (int i = old; i < m; i++) hostLogits[i] = new float[config.vocabSize()];
        }
        view = Arrays.copyOf(hostLogits, m);
        logitsViews[m] = view;
        return view;
    }

    /** Copies blocks from the backend's cache to host swap space (preemption by swapping). */
    public void swapOut(int[] gpuBlocks, int[] cpuBlocks) {
        backend.copyBlocks(kvCache, gpuBlocks, requireSwap(), cpuBlocks, gpuBlocks.length);
    }

    /** Copies blocks back from host swap space. */
    public void swapIn(int[] cpuBlocks, int[] gpuBlocks) {
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
