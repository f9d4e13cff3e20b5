package dev.kvasir.models;

import dev.kvasir.kernels.AllReduce;
import dev.kvasir.kernels.AllReduceGroup;
import dev.kvasir.kernels.Backend;
import dev.kvasir.kernels.MemoryPlan;

import java.util.ArrayList;
import java.util.List;

/**
 * A Llama-architecture transformer with its paged KV cache, on one backend or split over the
 * tensor-parallel {@link Ranks} of a node ({@link ShardPlan}): what the engine runs. Every rank
 * holds the same block ids (one block manager serves them all), each for its own KV heads. A step
 * runs on all ranks at once, rank 0 on the calling thread and the others on their own
 * ({@link RankThreads}); with a single rank it is simply that rank's forward pass on the caller.
 * Single-threaded use (the engine thread).
 */
public final class LlamaModel implements AutoCloseable {

    private final LlamaConfig config;
    private final ShardPlan plan;
    private final LlamaRank[] ranks;
    private final AllReduceGroup allReduce;
    private final RankThreads threads;
    private final LogitRows hostLogits;

    private LlamaModel(LlamaConfig config, ShardPlan plan, LlamaRank[] ranks, AllReduceGroup allReduce, LogitRows hostLogits) {
        this.config = config;
        this.plan = plan;
        this.ranks = ranks;
        this.allReduce = allReduce;
        this.hostLogits = hostLogits;
        this.threads = ranks.length > 1 ? new RankThreads(ranks.length, "kvasir-tp") : null;
    }

    /**
     * @param numKvBlocks      blocks of the KV cache on the backend
     * @param blockSize        token slots per block
     * @param numCpuSwapBlocks blocks of host swap space (0: none)
     */
    public static LlamaModel create(LlamaConfig config, ModelWeights weights, Backend backend,
                                    int numKvBlocks, int blockSize, int numCpuSwapBlocks) {
        return create(config, weights, Ranks.single(backend), ShardPlan.single(config), numKvBlocks, blockSize, numCpuSwapBlocks);
    }

    /**
     * The whole model on one backend, with {@code allReduce} called on the attention output
     * projection's and the MLP down projection's results before each residual add (twice per
     * layer): the hook a rank's partial sums go through.
     */
    public static LlamaModel create(LlamaConfig config, ModelWeights weights, Backend backend,
                                    int numKvBlocks, int blockSize, int numCpuSwapBlocks, AllReduce allReduce) {
        LogitRows rows = new LogitRows(config.vocabSize());
        LlamaRank rank = new LlamaRank(config, RankShard.whole(config), weights, backend, numKvBlocks, blockSize,
                numCpuSwapBlocks, allReduce, rows);
        return new LlamaModel(config, ShardPlan.single(config), new LlamaRank[] {rank}, AllReduceGroup.single(), rows);
    }

    /**
     * The model split over {@code ranks} as {@code plan} says: rank r's share of the weights on
     * backend r (views of the mapped file on the CPU, uploads of its share alone on a GPU), and a
     * KV cache of {@code numKvBlocks} blocks of its KV heads on each.
     */
    public static LlamaModel create(LlamaConfig config, ModelWeights weights, Ranks ranks, ShardPlan plan,
                                    int numKvBlocks, int blockSize, int numCpuSwapBlocks) {
        if (plan.worldSize() != ranks.size()) {
            throw new IllegalArgumentException("a plan for " + plan.worldSize() + " ranks on " + ranks.size() + " backends");
        }
        plan.requireSplittable(weights);
        LogitRows rows = new LogitRows(config.vocabSize());
        LlamaRank[] created = new LlamaRank[ranks.size()];
        try {
            for (int r = 0; r < created.length; r++) {
                created[r] = new LlamaRank(config, plan.rank(r), weights, ranks.get(r), numKvBlocks, blockSize,
                        numCpuSwapBlocks, ranks.allReduce().rank(r), rows);
            }
        } catch (RuntimeException e) {
            for (LlamaRank rank : created) if (rank != null) rank.close();
            throw e;
        }
        return new LlamaModel(config, plan, created, ranks.allReduce(), rows);
    }

    /** Bytes of K and V, all layers, for one block of {@code blockSize} tokens of {@code elementBytes} each (one rank). */
    public static long kvBytesPerBlock(LlamaConfig c, int blockSize, int elementBytes) {
        return 2L * c.numLayers() * blockSize * c.kvDim() * elementBytes;
    }

    public LlamaConfig config() {
        return config;
    }

    public ShardPlan plan() {
        return plan;
    }

    public int tensorParallelSize() {
        return ranks.length;
    }

    /**
     * Runs one step on every rank. Returns one logits row ({@code vocabSize} floats) per chunk that
     * wants logits, in chunk order. The rows, and the array holding them, are buffers owned by this
     * model and reused by every step (a steady-state step allocates nothing): they are valid only
     * until the next call of {@code forward}, which overwrites them. Read them (sample, compute
     * logprobs) before the next step, or copy what must outlive it.
     */
    public float[][] forward(ForwardBatch batch) {
        if (threads == null) return ranks[0].forward(batch);
        // Grown here, before the ranks write their vocabulary slices into the rows concurrently.
        float[][] rows = hostLogits.view(logitsRows(batch));
        try {
            threads.run(r -> ranks[r].forward(batch), allReduce::abort);
        } catch (RuntimeException | Error e) {
            allReduce.recover();
            throw e;
        }
        return rows;
    }

    private static int logitsRows(ForwardBatch batch) {
        int m = 0;
        for (SequenceChunk c : batch.chunks()) if (c.wantLogits()) m++;
        return m;
    }

    /**
     * Replaces every rank's KV cache with one of {@code numKvBlocks} blocks (what it held is lost):
     * how a device backend sizes its cache after weights and a profiling forward have taken their
     * share ({@link KvCacheSizing}). Call it before any sequence is cached.
     */
    public void resizeKvCache(int numKvBlocks) {
        for (LlamaRank r : ranks) r.resizeKvCache(numKvBlocks);
    }

    /** Blocks of the KV cache (the same on every rank). */
    public int numKvBlocks() {
        return ranks[0].numKvBlocks();
    }

    /**
     * Each rank's device memory plan for its KV heads, after a profiling forward: the KV pool is the
     * smallest's. Fails, naming the rank, when one of them fits fewer than {@code minBlocks}.
     */
    List<MemoryPlan> planKvCache(int blockSize, double utilization, int minBlocks) {
        List<MemoryPlan> plans = new ArrayList<>(ranks.length);
        for (int r = 0; r < ranks.length; r++) {
            try {
                plans.add(ranks[r].planKvCache(blockSize, utilization, minBlocks));
            } catch (IllegalStateException e) {
                if (ranks.length == 1) throw e;
                throw new IllegalStateException("tensor-parallel rank " + r + " (" + ranks[r].backend().name() + "): "
                        + e.getMessage(), e);
            }
        }
        return plans;
    }

    /** Copies blocks from each rank's cache to its host swap space (preemption by swapping). */
    public void swapOut(int[] gpuBlocks, int[] cpuBlocks) {
        for (LlamaRank r : ranks) r.swapOut(gpuBlocks, cpuBlocks);
    }

    /** Copies blocks back from host swap space. */
    public void swapIn(int[] cpuBlocks, int[] gpuBlocks) {
        for (LlamaRank r : ranks) r.swapIn(cpuBlocks, gpuBlocks);
    }

    /** Closes the ranks' caches and threads; the backends and the all-reduce stay the caller's. */
    @Override
    public void close() {
        if (threads != null) threads.close();
        for (LlamaRank r : ranks) r.close();
    }
}
