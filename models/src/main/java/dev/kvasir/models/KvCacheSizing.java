package dev.kvasir.models;

import dev.kvasir.blockmanager.KvCacheManager;
import dev.kvasir.kernels.Backend;
import dev.kvasir.kernels.MemoryPlan;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Sizes the KV cache and creates the model that holds it: the one place that decides how many
 * blocks the pool has, for every backend.
 *
 * <ul>
 * <li>An explicit block count wins (tests, {@code --num-kv-blocks}).</li>
 * <li>A device backend ({@link Backend#plansDeviceMemory()}, CUDA) is sized vLLM's way: the weights
 *     go to the device first; one profiling forward at the largest step the engine will run
 *     measures the activation workspace; then {@code --gpu-memory-utilization} of the device, less
 *     the weights, the workspace and what other processes hold, becomes KV blocks.</li>
 * <li>Otherwise (the CPU) a host byte budget ({@code --kv-cache-memory}) divided by one block's bytes.</li>
 * </ul>
 * Either way the pool never exceeds what every sequence at full length can use, and is never smaller
 * than one sequence of {@code maxModelLen} needs above the admission watermark
 * ({@link KvCacheManager#DEFAULT_WATERMARK}): too little memory fails here, at start-up, with the
 * numbers, never mid-request.
 *
 * <p>The device profile is two forwards over a small cache: a prefill step of
 * {@code maxNumBatchedTokens} tokens over {@code min(maxNumSeqs, maxNumBatchedTokens)} sequences,
 * each wanting logits (the largest activations and logits), and a decode step of as many sequences
 * each at position {@code maxModelLen - 1} (the largest attention partials; every block-table entry
 * points at the sequence's one block, which attention may read any number of times). Their outputs
 * are discarded.
 */
public final class KvCacheSizing {

    private static final System.Logger LOG = System.getLogger(KvCacheSizing.class.getName());

    private KvCacheSizing() {}

    /** The largest step the engine runs: its sequence and token budgets, and the longest sequence. */
    public record StepLimits(int maxNumSeqs, int maxNumBatchedTokens, int maxModelLen, int blockSize) {
        public StepLimits {
            if (maxNumSeqs < 1 || maxNumBatchedTokens < 1 || maxModelLen < 1 || blockSize < 1) {
                throw new IllegalArgumentException("step limits must be positive: " + maxNumSeqs + " sequences, "
                        + maxNumBatchedTokens + " tokens, max-model-len " + maxModelLen + ", block size " + blockSize);
            }
        }
    }

    /**
     * What the pool may take.
     *
     * @param numBlocks            an exact block count, or null to size from memory
     * @param hostKvBytes          the byte budget where the backend has no device memory plan
     * @param gpuMemoryUtilization the share of device memory for weights, workspace and KV, in (0, 1]
     * @param swapBytes            host memory for the swap pool (0: no swapping)
     * @param offloadBytes         host memory for the offload tier of evicted cached prefixes (0: none)
     */
    public record Budget(Integer numBlocks, long hostKvBytes, double gpuMemoryUtilization, long swapBytes, long offloadBytes) {

        /** No offload tier. */
        public Budget(Integer numBlocks, long hostKvBytes, double gpuMemoryUtilization, long swapBytes) {
            this(numBlocks, hostKvBytes, gpuMemoryUtilization, swapBytes, 0);
        }
    }

    /**
     * The model with its sized cache.
     *
     * @param plan the device memory plan that sized it, or null where none was made
     */
    public record Sized(LlamaModel model, int numBlocks, int numCpuBlocks, int numOffloadBlocks, MemoryPlan plan) {}

    /** The fewest blocks that admit one sequence of {@code maxModelLen} above the watermark. */
    public static int minBlocks(int maxModelLen, int blockSize) {
        return KvCacheManager.minBlocksFor(maxModelLen, blockSize, KvCacheManager.DEFAULT_WATERMARK);
    }

    /**
     * Sizes the pool and creates the model on {@code backend} (its weights there, its KV cache of
     * the sized number of blocks, and a swap pool of what {@code swapBytes} holds).
     *
     * @throws IllegalArgumentException when a host budget holds too few blocks, naming the flag
     * @throws IllegalStateException    when the device memory plan leaves too few blocks, naming the plan
     */
    public static Sized create(LlamaConfig config, ModelWeights weights, Backend backend, StepLimits limits, Budget budget) {
        int bs = limits.blockSize();
        long perBlock = LlamaModel.kvBytesPerBlock(config, bs, backend.kvElementBytes());
        // Swap blocks hold the backend's KV element type (f16 on CUDA): a budget fits twice the f32 count there.
        int cpuBlocks = (int) Math.min(Integer.MAX_VALUE, budget.swapBytes() / perBlock);
        int offloadBlocks = (int) Math.min(Integer.MAX_VALUE - cpuBlocks, budget.offloadBytes() / perBlock);
        // One host cache holds both: the swap pool's blocks first, then the offload tier's.
        int hostBlocks = cpuBlocks + offloadBlocks;
        int min = minBlocks(limits.maxModelLen(), bs);
        long perSeq = (limits.maxModelLen() + bs - 1) / bs;
        // More than every sequence at full length would go unused; one sequence may need the watermark on top.
        int max = (int) Math.min(Integer.MAX_VALUE, Math.max(min, perSeq * limits.maxNumSeqs()));
        if (budget.numBlocks() != null) {
            return new Sized(LlamaModel.create(config, weights, backend, budget.numBlocks(), bs, hostBlocks),
                    budget.numBlocks(), cpuBlocks, offloadBlocks, null);
        }
        if (backend.plansDeviceMemory()) {
            return planned(config, weights, backend, limits, budget.gpuMemoryUtilization(), min, max, cpuBlocks, offloadBlocks);
        }
        long fit = budget.hostKvBytes() / perBlock;
        if (fit < min) {
            throw new IllegalArgumentException("--kv-cache-memory " + budget.hostKvBytes() + " bytes holds " + fit
                    + " KV blocks of " + perBlock + " bytes; one sequence of max-model-len " + limits.maxModelLen()
                    + " needs " + min + " (lower --max-model-len or raise --kv-cache-memory)");
        }
        int blocks = (int) Math.min(fit, max);
        return new Sized(LlamaModel.create(config, weights, backend, blocks, bs, hostBlocks), blocks, cpuBlocks, offloadBlocks, null);
    }

    /** Weights on the device, a profiling forward, then the plan gives the pool what is left. */
    private static Sized planned(LlamaConfig config, ModelWeights weights, Backend backend, StepLimits limits,
                                 double utilization, int minBlocks, int maxBlocks, int cpuBlocks, int offloadBlocks) {
        int bs = limits.blockSize();
        int maxLen = Math.min(limits.maxModelLen(), config.contextLength());
        int seqs = Math.min(limits.maxNumSeqs(), limits.maxNumBatchedTokens());
        int tokens = (int) Math.min(limits.maxNumBatchedTokens(), (long) seqs * maxLen);
        // Prefill: at most tokens / bs + seqs blocks; decode: one block per sequence.
        int profilingBlocks = tokens / bs + 2 * seqs;
        LlamaModel model = LlamaModel.create(config, weights, backend, profilingBlocks, bs, cpuBlocks + offloadBlocks);
        try {
            profilePrefill(model, seqs, tokens, bs);
            profileDecode(model, seqs, maxLen, bs, tokens / bs + seqs);
            backend.synchronize();
            MemoryPlan plan = backend.planKvCache(config.numLayers(), config.numKvHeads(), config.headDim(), bs,
                    utilization, minBlocks);
            int blocks = Math.min(plan.numBlocks(), maxBlocks);
            model.resizeKvCache(blocks);
            LOG.log(System.Logger.Level.INFO, "KV cache: {0} blocks of {1} tokens = {2} tokens{3} (profiled at {4} sequences,"
                            + " {5} batched tokens, max-model-len {6})", blocks, bs, (long) blocks * bs,
                    blocks < plan.numBlocks() ? ", all that " + limits.maxNumSeqs() + " sequences of max-model-len need" : "",
                    seqs, tokens, maxLen);
            return new Sized(model, blocks, cpuBlocks, offloadBlocks, plan);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** {@code tokens} prompt tokens over {@code seqs} sequences, each in its own run of blocks, all wanting logits. */
    private static void profilePrefill(LlamaModel model, int seqs, int tokens, int bs) {
        SplittableRandom random = new SplittableRandom(1);
        int vocab = model.config().vocabSize();
        List<SequenceChunk> chunks = new ArrayList<>(seqs);
        int nextBlock = 0;
        for (int s = 0; s < seqs; s++) {
            int len = tokens / seqs + (s < tokens % seqs ? 1 : 0);
            int[] table = new int[(len + bs - 1) / bs];
            for (int b = 0; b < table.length; b++) table[b] = nextBlock++;
            int[] ids = random.ints(len, 0, vocab).toArray();
            int[] slots = new int[len];
            for (int p = 0; p < len; p++) slots[p] = table[p / bs] * bs + p % bs;
            chunks.add(new SequenceChunk(s, ids, 0, slots, table, true));
        }
        model.forward(new ForwardBatch(chunks));
    }

    /** One token for each of {@code seqs} sequences at position {@code maxLen - 1}; sequence s lives in block firstBlock + s. */
    private static void profileDecode(LlamaModel model, int seqs, int maxLen, int bs, int firstBlock) {
        SplittableRandom random = new SplittableRandom(2);
        int vocab = model.config().vocabSize();
        int pos = maxLen - 1;
        List<SequenceChunk> chunks = new ArrayList<>(seqs);
        for (int s = 0; s < seqs; s++) {
            int block = firstBlock + s;
            int[] table = new int[(maxLen + bs - 1) / bs];
            Arrays.fill(table, block);
            chunks.add(new SequenceChunk(s, new int[] {random.nextInt(vocab)}, pos, new int[] {block * bs + pos % bs}, table, true));
        }
        model.forward(new ForwardBatch(chunks));
    }
}
