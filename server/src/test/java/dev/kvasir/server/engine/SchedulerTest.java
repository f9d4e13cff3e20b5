package dev.kvasir.server.engine;

import dev.kvasir.blockmanager.KvCacheManager;
import dev.kvasir.models.sampling.Sampler;
import dev.kvasir.models.sampling.SamplingParams;
import dev.kvasir.models.tokenizer.IncrementalDetokenizer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The scheduler and the block manager together, with no model and no HTTP (vLLM's
 * {@code tests/v1/core} style): each step is scheduled, "run" by appending a made-up token to
 * every sequence that would sample, and checked for what ran, what waits and what the pool holds.
 */
class SchedulerTest {

    private static final int BLOCK = 16;

    private final List<Sequence> all = new ArrayList<>();
    private KvCacheManager kv;
    private Scheduler scheduler;
    private long nextId = 1;

    private void setUp(int blocks, int cpuBlocks, int maxSeqs, int maxTokens, double watermark, EngineConfig.PreemptionMode mode) {
        EngineConfig config = new EngineConfig(maxSeqs, maxTokens, blocks * BLOCK / 2, BLOCK, blocks, cpuBlocks, watermark,
                true, mode, 64);
        kv = new KvCacheManager(blocks, BLOCK, cpuBlocks, watermark, true);
        scheduler = new Scheduler(kv, config);
    }

    private Sequence request(int[] prompt, int n) {
        GenerationRequest g = new GenerationRequest("r" + nextId, prompt, n, 1000, List.of(), true, SamplingParams.greedy(),
                Long.MAX_VALUE, out -> { });
        Sequence seq = new Sequence(nextId++, new RequestState(g, 0), 0, new Sampler(g.sampling()), new IncrementalDetokenizer(null));
        seq.request.sequences.add(seq);
        scheduler.addWaiting(seq);
        all.add(seq);
        return seq;
    }

    private static int[] prompt(int length, int salt) {
        int[] p = new int[length];
        for (int i = 0; i < length; i++) p[i] = 1 + (salt * 131 + i) % 500;
        return p;
    }

    /** Schedules and "runs" one step: KV marked computed, a token appended where the step sampled. */
    private ScheduledStep step() {
        ScheduledStep step = scheduler.schedule();
        scheduler.markComputed(step);
        for (ScheduledStep.Chunk c : step.chunks()) {
            if (c.wantLogits() && c.sequence().status == Sequence.Status.RUNNING) c.sequence().append(42);
        }
        kv.drainCopies();
        kv.checkInvariants();
        return step;
    }

    private static List<Long> ids(ScheduledStep step) {
        return step.chunks().stream().map(c -> c.sequence().id).toList();
    }

    @Test
    void decodesRunBeforePrefillsAndLongPromptsArriveInChunks() {
        setUp(64, 0, 8, 40, 0.0, EngineConfig.PreemptionMode.RECOMPUTE);
        Sequence a = request(prompt(10, 1), 1);
        Sequence b = request(prompt(70, 2), 1);
        // Step 1: a's whole prompt (10) and 30 tokens of b's, within the 40-token budget.
        ScheduledStep s1 = step();
        assertEquals(List.of(a.id, b.id), ids(s1));
        assertEquals(10, s1.chunks().get(0).length());
        assertTrue(s1.chunks().get(0).wantLogits());
        assertEquals(30, s1.chunks().get(1).length());
        assertFalse(s1.chunks().get(1).wantLogits(), "a partial prefill does not sample");
        assertEquals(1, a.numGenerated());
        // Step 2: a decodes first (one token), then b's next 39 prompt tokens.
        ScheduledStep s2 = step();
        assertEquals(List.of(a.id, b.id), ids(s2));
        assertEquals(1, s2.chunks().get(0).length());
        assertEquals(30, s2.chunks().get(1).start());
        assertEquals(39, s2.chunks().get(1).length());
        // Step 3: b's last prompt token completes its prefill and it samples.
        ScheduledStep s3 = step();
        assertEquals(1, s3.chunks().get(1).length());
        assertTrue(s3.chunks().get(1).wantLogits());
        assertEquals(1, b.numGenerated());
        assertEquals(70, kv.numComputedTokens(b.id));
    }

    @Test
    void maxNumSeqsHoldsPromptsBackInArrivalOrder() {
        setUp(64, 0, 2, 512, 0.0, EngineConfig.PreemptionMode.RECOMPUTE);
        Sequence a = request(prompt(5, 1), 1), b = request(prompt(5, 2), 1), c = request(prompt(5, 3), 1);
        assertEquals(List.of(a.id, b.id), ids(step()));
        assertEquals(1, scheduler.numWaiting());
        assertSame(c, scheduler.headOfWaiting());
        scheduler.remove(a);
        assertEquals(List.of(b.id, c.id), ids(step()), "c takes a's seat once a has finished");
        // An n = 3 request needs three seats before it is admitted: it waits behind the two running.
        Sequence d = request(prompt(5, 4), 3);
        step();
        assertEquals(Sequence.Status.WAITING, d.status);
    }

    @Test
    void theNewestIsPreemptedForRecomputeAndComesBackFirst() {
        // 4 blocks: two sequences of 32 tokens fill it; the next decode needs a fifth block.
        setUp(4, 0, 8, 512, 0.0, EngineConfig.PreemptionMode.RECOMPUTE);
        Sequence old = request(prompt(32, 1), 1);
        Sequence young = request(prompt(32, 2), 1);
        step();
        assertEquals(0, kv.numFreeBlocks());
        ScheduledStep s = step();
        assertEquals(List.of(old.id), ids(s), "the oldest decodes; the newest made room");
        assertEquals(1, scheduler.preemptions());
        assertEquals(Sequence.Status.WAITING, young.status);
        assertFalse(young.allocated);
        assertEquals(0, young.numComputed);
        assertSame(young, scheduler.headOfWaiting(), "a preempted sequence goes first in line");
        assertEquals(1, young.numGenerated(), "its generated token is kept and recomputed with the prompt");
        scheduler.remove(old);
        ScheduledStep back = step();
        assertEquals(List.of(young.id), ids(back));
        // Its freed blocks kept their prefix hashes; the old one's new block took the later of the two
        // (a sequence's last block is evicted first), so the first 16 tokens come back from the cache.
        assertEquals(16, back.chunks().getFirst().start());
        assertEquals(17, back.chunks().getFirst().length(), "the rest of the prompt and the generated token again");
    }

    @Test
    void swappedSequencesReturnBeforeNewPrompts() {
        setUp(4, 8, 8, 512, 0.0, EngineConfig.PreemptionMode.SWAP);
        Sequence old = request(prompt(32, 1), 1);
        Sequence young = request(prompt(32, 2), 1);
        step();
        ScheduledStep s = step();
        assertEquals(1, s.swapOuts().size());
        assertEquals(Sequence.Status.SWAPPED, young.status);
        assertTrue(kv.isSwappedOut(young.id));
        // 3 blocks: it would fit the pool alone, but not beside the swapped sequence's 2 once those return.
        Sequence late = request(prompt(40, 3), 1);
        assertEquals(List.of(old.id), ids(step()), "no new prompt while a sequence is swapped out");
        assertEquals(Sequence.Status.WAITING, late.status);
        scheduler.remove(old);
        ScheduledStep in = step();
        assertEquals(1, in.swapIns().size(), "the swapped sequence comes back first");
        assertEquals(Sequence.Status.RUNNING, young.status);
        assertEquals(Sequence.Status.WAITING, late.status);
        scheduler.remove(young);
        step();
        assertEquals(Sequence.Status.RUNNING, late.status);
    }

    @Test
    void aRepeatedPromptStartsFromItsCachedBlocks() {
        setUp(64, 0, 8, 512, 0.0, EngineConfig.PreemptionMode.RECOMPUTE);
        int[] shared = prompt(40, 9);
        Sequence first = request(shared, 1);
        step();
        scheduler.remove(first);
        Sequence second = request(shared, 1);
        ScheduledStep s = step();
        // Two full blocks (32 tokens) come from the cache; only the last 8 are computed.
        assertEquals(32, second.request.cachedTokens);
        assertEquals(32, s.chunks().getFirst().start());
        assertEquals(8, s.chunks().getFirst().length());
    }

    @Test
    void aPromptIsAdmittedOnlyAboveTheWatermark() {
        // 10 blocks, watermark 0.2 = 2 blocks kept free: a 7-block prompt fits, a second 2-block one does not.
        setUp(10, 0, 8, 512, 0.2, EngineConfig.PreemptionMode.RECOMPUTE);
        Sequence big = request(prompt(7 * BLOCK, 1), 1);
        Sequence small = request(prompt(2 * BLOCK, 2), 1);
        step();
        assertEquals(Sequence.Status.RUNNING, big.status);
        assertEquals(Sequence.Status.WAITING, small.status);
        scheduler.remove(big);
        step();
        assertEquals(Sequence.Status.RUNNING, small.status);
    }

    @Test
    void removingEverythingGivesEveryBlockBack() {
        setUp(16, 4, 4, 64, 0.0, EngineConfig.PreemptionMode.SWAP);
        for (int i = 0; i < 6; i++) request(prompt(20 + 7 * i, i), 1);
        for (int i = 0; i < 12; i++) step();
        for (Sequence s : all) scheduler.remove(s);
        assertFalse(scheduler.hasWork());
        assertNull(scheduler.headOfWaiting());
        assertEquals(0, kv.numSequences());
        assertEquals(kv.numTotalBlocks(), kv.numFreeBlocks());
        kv.checkInvariants();
    }
}
