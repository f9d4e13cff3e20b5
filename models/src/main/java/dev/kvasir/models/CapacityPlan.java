package dev.kvasir.models;

import dev.kvasir.kernels.MemoryPlan;

import java.util.Locale;

/**
 * What {@link CapacityPlanner} found for one model, GPU and tensor-parallel size.
 *
 * @param limitingRank           the rank with the fewest KV blocks (all ranks get as many)
 * @param memory                 that rank's memory plan: weights, workspace, reserve and KV cache
 * @param kvBytesPerTokenPerRank K and V of one token, all layers, on that rank
 * @param kvBlocks               KV blocks the memory holds, on every rank
 * @param maxSeqsAtMaxModelLen   sequences of max-model-len that fit at once
 * @param minBlocks              blocks serve needs at least (one sequence of max-model-len above the watermark)
 * @param servedBlocks           blocks serve would allocate: kvBlocks capped at what max-num-seqs sequences can use
 */
public record CapacityPlan(CapacityPlanner.Request request, ShardPlan shards, int limitingRank, MemoryPlan memory,
                           long kvBytesPerTokenPerRank, int kvBlocks, long kvTokens, int maxSeqsAtMaxModelLen, int minBlocks,
                           int servedBlocks) {

    /** Whether serve would start: at least one sequence of max-model-len fits. */
    public boolean fits() {
        return kvBlocks >= minBlocks;
    }

    public double weightsGibPerRank() {
        return memory.weightBytes() / (double) (1L << 30);
    }

    /** The closing line: {@code plan: weights_gib_per_rank=... max_seqs_at_max_model_len=...}. */
    public String line() {
        return String.format(Locale.ROOT, "plan: weights_gib_per_rank=%.2f kv_bytes_per_token_per_rank=%d kv_blocks=%d kv_tokens=%d"
                + " max_seqs_at_max_model_len=%d", weightsGibPerRank(), kvBytesPerTokenPerRank, kvBlocks, kvTokens, maxSeqsAtMaxModelLen);
    }
}
