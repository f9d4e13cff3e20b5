package dev.kvasir.server.engine;

import dev.kvasir.blockmanager.BlockCopies;
import dev.kvasir.blockmanager.KvCacheManager;
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

    ModelRunner(LlamaModel model, KvCacheManager kvManager) {
        this.model = model;
        this.kvManager = kvManager;
    }

    /**
     * Logits rows, one per chunk with {@code wantLogits}, in chunk order: the model's reused buffers,
     * valid until the next run (the engine samples from them before it schedules again).
     */
    float[][] run(ScheduledStep step) {
        // Swap-outs read blocks this step's allocations may reuse, so they go before anything writes.
        // The scheduler never preempts a sequence it already appended to in the same step, so no
        // swapped block is the destination of a pending copy-on-write copy.
        for (SwapPlan plan : step.swapOuts()) model.swapOut(plan.src(), plan.dst());
        for (SwapPlan plan : step.swapIns()) model.swapIn(plan.src(), plan.dst());
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
