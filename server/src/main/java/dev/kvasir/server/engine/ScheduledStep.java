package dev.kvasir.server.engine;

import dev.kvasir.blockmanager.SwapPlan;

import java.util.List;

/**
 * What one engine step runs: a chunk of tokens per scheduled sequence (decodes are one-token
 * chunks), and the swaps to perform first.
 */
record ScheduledStep(List<Chunk> chunks, List<SwapPlan> swapOuts, List<SwapPlan> swapIns) {

    /**
     * Tokens [start, start + length) of a sequence, written to {@code slots}.
     * {@code wantLogits}: the chunk ends at the sequence's last token, so the step samples from it.
     */
    record Chunk(Sequence sequence, int start, int length, int[] slots, boolean wantLogits) {}

    boolean isEmpty() {
        return chunks.isEmpty() && swapOuts.isEmpty() && swapIns.isEmpty();
    }
}
