package dev.kvasir.models;

import dev.kvasir.kernels.cuda.CudaBackend;
import dev.kvasir.kernels.cuda.MemoryPlan;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Sizes a GPU's KV cache vLLM's way: the weights go to the device first; then one profiling
 * forward at the largest step the engine will run measures the activation workspace; then
 * {@code --gpu-memory-utilization} of the device, less the weights, the workspace and what other
 * processes hold, becomes KV blocks. Too little memory for one sequence of {@code maxModelLen}
 * fails here, at start-up, with the numbers, never mid-request.
 *
 * <p>The profile is two forwards over a small cache: a prefill step of {@code maxNumBatchedTokens}
 * tokens over {@code min(maxNumSeqs, maxNumBatchedTokens)} sequences, each wanting logits (the
 * largest activations and logits), and a decode step of as many sequences each at position
 * {@code maxModelLen - 1} (the largest attention partials; every block-table entry points at the
 * sequence's one block, which attention may read any number of times). Their outputs are discarded.
 */
public final class DeviceKvCache {

    private static final System.Logger LOG = System.getLogger(DeviceKvCache.class.getName());

    private DeviceKvCache() {}

    /** The largest step the engine runs: its sequence and token budgets, and the longest sequence. */
    public record StepLimits(int maxNumSeqs, int maxNumBatchedTokens, int maxModelLen, int blockSize) {
        public StepLimits {
            if (maxNumSeqs < 1 || maxNumBatchedTokens < 1 || maxModelLen < 1 || blockSize < 1) {
                throw new IllegalArgumentException("step limits must be positive: " + maxNumSeqs + " sequences, "
                        + maxNumBatchedTokens + " tokens, max-model-len " + maxModelLen + ", block size " + blockSize);
            }
        }
    }

    /** The model with its sized cache, and the plan that sized it. */
    public record Sized(LlamaModel model, MemoryPlan plan, int numBlocks) {}

    /**
     * Loads the weights onto {@code backend}'s device, profiles, plans, and gives the model a KV
     * cache of {@code min(planned, maxBlocks)} blocks.
     *
     * @param utilization      {@code --gpu-memory-utilization}, in (0, 1]
     * @param minBlocks        fewer blocks than this is out of memory (one sequence of maxModelLen, at least)
     * @param maxBlocks        more blocks than this would go unused (every sequence at full length)
     * @param numCpuSwapBlocks blocks of pinned host swap space (0: none)
     * @throws IllegalStateException when fewer than minBlocks fit, naming the memory plan
     */
    public static Sized create(LlamaConfig config, ModelWeights weights, CudaBackend backend, StepLimits limits,
                               double utilization, int minBlocks, int maxBlocks, int numCpuSwapBlocks) {
        int bs = limits.blockSize();
        int maxLen = Math.min(limits.maxModelLen(), config.contextLength());
        int seqs = Math.min(limits.maxNumSeqs(), limits.maxNumBatchedTokens());
        int tokens = (int) Math.min(limits.maxNumBatchedTokens(), (long) seqs * maxLen);
        // Prefill: at most tokens / bs + seqs blocks; decode: one block per sequence.
        int profilingBlocks = tokens / bs + 2 * seqs;
        LlamaModel model = LlamaModel.create(config, weights, backend, profilingBlocks, bs, numCpuSwapBlocks);
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
            return new Sized(model, plan, blocks);
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
