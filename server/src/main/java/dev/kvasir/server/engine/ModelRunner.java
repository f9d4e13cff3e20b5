package dev.kvasir.server.engine;

import dev.kvasir.blockmanager.BlockCopies;
import dev.kvasir.blockmanager.KvCacheManager;
import dev.kvasir.blockmanager.OffloadCopies;
import dev.kvasir.blockmanager.SwapPlan;
import dev.kvasir.models.ForwardBatch;
import dev.kvasir.models.LlamaModel;
import dev.kvasir.models.SequenceChunk;

import java.util.ArrayList;
import java.util.List;

/**
 * Turns a scheduled step into the model's batch (tokens, positions, slot mappings, block tables,
 * pending copy-on-write copies) and runs it: swaps first, then one forward pass.
 */
final class ModelRunner {

    private final LlamaModel model;
    private final KvCacheManager kvManager;
    /** The model's host cache holds the swap pool first, then the offload tier: offload block b is host block hostBase + b. */
    private final int hostBase;

    ModelRunner(LlamaModel model, KvCacheManager kvManager, int numCpuSwapBlocks) {
        this.model = model;
        this.kvManager = kvManager;
        this.hostBase = numCpuSwapBlocks;
    }

    /** Offload-tier block ids as host cache block ids. */
    private int[] host(int[] offloadBlocks) {
        int[] out = new int[offloadBlocks.length];
        for (int i = 0; i < out.length; i++) out[i] = hostBase + offloadBlocks[i];
        return out;
    }

    /**
     * Logits rows, one per chunk with {@code wantLogits}, in chunk order: the model's reused buffers,
     * valid until the next run (the engine samples from them before it schedules again).
     */
    float[][] run(ScheduledStep step) {
        // Offload stores first: they save cached prefixes from device blocks this step reuses. Swap-outs
        // read blocks this step's allocations may reuse, so they go before anything writes too. The
        // scheduler never preempts a sequence it already appended to in the same step, so no swapped
        // block is the destination of a pending copy-on-write copy. Offload loads go after the swap-ins
        // (they fill fresh device blocks, which nothing else writes before the forward).
        OffloadCopies offloads = kvManager.drainOffloads();
        if (offloads.storeSrc().length > 0) model.swapOut(offloads.storeSrc(), host(offloads.storeDst()));
        for (SwapPlan plan : step.swapOuts()) model.swapOut(plan.src(), plan.dst());
        for (SwapPlan plan : step.swapIns()) model.swapIn(plan.src(), plan.dst());
        if (offloads.loadSrc().length > 0) model.swapIn(host(offloads.loadSrc()), offloads.loadDst());
        BlockCopies copies = kvManager.drainCopies();
        // Copies come only from this step's appends, so a step without chunks has none.
        if (step.chunks().isEmpty()) return new float[0][];
        List<SequenceChunk> chunks = new ArrayList<>(step.chunks().size());
        for (ScheduledStep.Chunk c : step.chunks()) {
            Sequence seq = c.sequence();
            chunks.add(new SequenceChunk(seq.id, seq.tokens(c.start(), c.start() + c.length()), c.start(),
                    c.slots(), kvManager.blockTable(seq.id).toArray(), c.wantLogits()));
        }
        return model.forward(new ForwardBatch(chunks, copies.src(), copies.dst()));
    }
}
