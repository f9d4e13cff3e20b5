package dev.kvasir.server.engine;

import dev.kvasir.blockmanager.KvCacheManager;

/**
 * Engine budgets and cache geometry.
 *
 * @param maxNumSeqs          sequences in one batch at most
 * @param maxNumBatchedTokens tokens in one forward pass at most (decodes plus prefill chunks)
 * @param maxModelLen         prompt plus generated tokens of one sequence at most
 * @param numKvBlocks         blocks in the KV pool
 * @param numCpuBlocks        blocks in the CPU swap pool (0 disables swapping)
 * @param watermark           fraction of the pool a new prompt must leave free, so running
 *                            sequences can still grow without immediate preemption
 * @param maxWaitingRequests  requests queued at most before new ones get 503
 * @param numOffloadBlocks    blocks of the host offload tier for evicted prefixes (0: none)
 * @param retention           how freed prefix blocks are kept: plain LRU, or sessions' prefixes last
 */
public record EngineConfig(
        int maxNumSeqs,
        int maxNumBatchedTokens,
        int maxModelLen,
        int blockSize,
        int numKvBlocks,
        int numCpuBlocks,
        double watermark,
        boolean enablePrefixCaching,
        PreemptionMode preemptionMode,
        int maxWaitingRequests,
        int numOffloadBlocks,
        KvRetention retention) {

    /** {@code --kv-retention}: which cached prefix blocks are evicted first under pressure. */
    public enum KvRetention {
        /** Least recently freed first, whoever they belong to (vLLM's policy). */
        LRU,
        /**
         * Blocks of active sessions' prefixes, of prefixes other requests share (a system prompt, core
         * memories) and of preempted sequences after everything else; pinned prefixes last of all.
         */
        SESSION
    }

    /** Plain LRU and no offload tier: the engine as it was before retention classes. */
    public EngineConfig(int maxNumSeqs, int maxNumBatchedTokens, int maxModelLen, int blockSize, int numKvBlocks,
                        int numCpuBlocks, double watermark, boolean enablePrefixCaching, PreemptionMode preemptionMode,
                        int maxWaitingRequests) {
        this(maxNumSeqs, maxNumBatchedTokens, maxModelLen, blockSize, numKvBlocks, numCpuBlocks, watermark,
                enablePrefixCaching, preemptionMode, maxWaitingRequests, 0, KvRetention.LRU);
    }

    /** What happens to the newest running sequence when the KV pool runs out. */
    public enum PreemptionMode {
        /** Free its blocks (their hashes stay in the prefix cache) and prefill it again later. */
        RECOMPUTE,
        /** Copy its blocks to the CPU pool and back when room returns. */
        SWAP
    }

    public EngineConfig {
        if (maxNumSeqs < 1) throw new IllegalArgumentException("max-num-seqs must be at least 1: " + maxNumSeqs);
        if (maxNumBatchedTokens < 1) throw new IllegalArgumentException("max-num-batched-tokens must be at least 1: " + maxNumBatchedTokens);
        if (maxModelLen < 2) throw new IllegalArgumentException("max-model-len must be at least 2: " + maxModelLen);
        if (blockSize < 1) throw new IllegalArgumentException("block size must be positive: " + blockSize);
        // A prompt is admitted only above the watermark, so the rest of the pool must hold the longest one.
        if (numKvBlocks < KvCacheManager.minBlocksFor(maxModelLen, blockSize, watermark)) {
            throw new IllegalArgumentException("the KV pool (" + numKvBlocks + " blocks of " + blockSize
                    + " tokens, less the watermark) cannot hold one sequence of max-model-len " + maxModelLen);
        }
        if (preemptionMode == PreemptionMode.SWAP && numCpuBlocks < 1) {
            throw new IllegalArgumentException("--preemption-mode swap needs a CPU swap pool (--swap-space)");
        }
        if (maxWaitingRequests < 1) throw new IllegalArgumentException("max waiting requests must be positive: " + maxWaitingRequests);
        if (numOffloadBlocks < 0) throw new IllegalArgumentException("offload blocks must be 0 or more: " + numOffloadBlocks);
        if (numOffloadBlocks > 0 && !enablePrefixCaching) {
            throw new IllegalArgumentException("--kv-offload-gb needs prefix caching (it keeps evicted cached prefixes)");
        }
        if (retention == null) throw new IllegalArgumentException("retention is null: use KvRetention.LRU");
    }
}
