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
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Background requests (memory's summaries) against user requests, on the scheduler and the block
 * manager (SchedulerTest's style): background work stops the step after a user request arrives,
 * makes way when it holds the seat or the blocks the user needs, and carries at most a block of
 * tokens a step; so a user's first token waits at most for the one step that was running.
 */
class BackgroundPriorityTest {

    private static final int BLOCK = 16;
    private KvCacheManager kv;
    private Scheduler scheduler;
    private long nextId = 1;

    private void setUp(int blocks, int maxSeqs, int maxTokens) {
        EngineConfig config = new EngineConfig(maxSeqs, maxTokens, blocks * BLOCK / 2, BLOCK, blocks, 0, 0.0, true,
                EngineConfig.PreemptionMode.RECOMPUTE, 64);
        kv = new KvCacheManager(blocks, BLOCK, 0, 0.0, true);
        scheduler = new Scheduler(kv, config);
    }

    private Sequence request(int length, int salt, boolean background) {
        int[] prompt = new int[length];
        for (int i = 0; i < length; i++) prompt[i] = 1 + (salt * 131 + i) % 500;
        GenerationRequest g = new GenerationRequest("r" + nextId, prompt, 1, 1000, List.of(), true, SamplingParams.greedy(),
                Long.MAX_VALUE, out -> { }, GenerationRequest.DEFAULT_TENANT, GenerationRequest.CacheHint.NONE, background);
        Sequence seq = new Sequence(nextId++, new RequestState(g, 0), 0, new Sampler(g.sampling()), new IncrementalDetokenizer(null));
        seq.request.sequences.add(seq);
        scheduler.addWaiting(seq);
        return seq;
    }

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

    private static int tokensOf(ScheduledStep step, Sequence seq) {
        return step.chunks().stream().filter(c -> c.sequence() == seq).mapToInt(ScheduledStep.Chunk::length).sum();
    }

    @Test
    void aUserRequestStopsBackgroundWorkTheStepAfterItArrives() {
        setUp(64, 8, 256);
        Sequence summary = request(200, 1, true);
        for (int i = 0; i < 3; i++) assertEquals(Scheduler.BACKGROUND_TOKENS_PER_STEP, tokensOf(step(), summary), "a block a step");
        Sequence user = request(40, 2, false);
        ScheduledStep next = step();
        assertEquals(0, tokensOf(next, summary), "no background token rides in the user's prefill step");
        assertEquals(40, tokensOf(next, user));
        assertEquals(1, user.numGenerated(), "the first token comes from the first step after arrival");
        ScheduledStep after = step();
        assertEquals(1, tokensOf(after, user), "the user decodes");
        assertEquals(Scheduler.BACKGROUND_TOKENS_PER_STEP, tokensOf(after, summary), "background resumes beside decodes");
    }

    @Test
    void aBackgroundSequenceHoldingTheOnlySeatMakesWay() {
        setUp(64, 1, 256);
        Sequence summary = request(20, 3, true);
        for (int i = 0; i < 4; i++) step();
        assertTrue(summary.numGenerated() >= 2, "the summary is decoding");
        Sequence user = request(30, 4, false);
        ScheduledStep next = step();
        assertEquals(30, tokensOf(next, user));
        assertEquals(1, user.numGenerated());
        assertEquals(Sequence.Status.WAITING, summary.status, "preempted for recompute");
        assertEquals(1, scheduler.preemptions());
        for (int i = 0; i < 5; i++) assertEquals(0, tokensOf(step(), summary), "it waits while the user holds the seat");
        scheduler.remove(user);
        int resumed = 0;
        for (int i = 0; i < 4; i++) resumed += tokensOf(step(), summary);
        assertTrue(resumed > 0, "the summary resumes once the seat is free");
    }

    @Test
    void aBackgroundSequenceHoldingTheBlocksMakesWay() {
        // 8 blocks: the summary's 100-token prompt takes 7 of them; the user's 40 tokens need 3.
        setUp(8, 8, 256);
        Sequence summary = request(100, 5, true);
        for (int i = 0; i < 7; i++) step();
        assertTrue(summary.numComputed >= 100, "prefilled, a block a step");
        Sequence user = request(40, 6, false);
        ScheduledStep next = step();
        assertEquals(40, tokensOf(next, user));
        assertEquals(Sequence.Status.WAITING, summary.status);
        assertFalse(summary.allocated);
    }

    @Test
    void backgroundPromptsWaitBehindUserPromptsAndStepsCarryABlockOfThem() {
        setUp(64, 8, 256);
        List<Sequence> summaries = new ArrayList<>();
        for (int i = 0; i < 3; i++) summaries.add(request(50, 10 + i, true));
        Sequence user = request(30, 20, false);
        ScheduledStep first = step();
        assertEquals(List.of(user), first.chunks().stream().map(ScheduledStep.Chunk::sequence).toList(), "the user prompt goes first");
        for (int i = 0; i < 20; i++) {
            ScheduledStep s = step();
            int background = summaries.stream().mapToInt(seq -> tokensOf(s, seq)).sum();
            assertTrue(background <= Scheduler.BACKGROUND_TOKENS_PER_STEP, "step " + i + " carried " + background);
        }
        assertTrue(summaries.stream().allMatch(seq -> seq.numGenerated() > 0 || seq.numComputed > 0), "they all progress");
    }
}
