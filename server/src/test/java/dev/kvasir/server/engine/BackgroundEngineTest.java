package dev.kvasir.server.engine;

import dev.kvasir.models.sampling.SamplingParams;
import dev.kvasir.server.KvasirServer;
import dev.kvasir.server.ServerConfig;
import dev.kvasir.server.TestServers;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The guarantee on the real engine (stories260K, one sequence per batch so the background request
 * holds the only seat): a user request arriving while a summary is being generated gets its first
 * token within the step that was running plus its own prefill step, counted in engine steps
 * (without priority it would wait for the summary's remaining 150+ tokens); the summary is
 * preempted, recomputed, and still produces exactly the text it produces alone.
 */
class BackgroundEngineTest {

    private static CompletableFuture<String> submit(Engine engine, String id, int[] prompt, int maxTokens, boolean background,
                                                    AtomicInteger generated, AtomicLong firstTokenStep) {
        CompletableFuture<String> result = new CompletableFuture<>();
        StringBuilder text = new StringBuilder();
        GenerationRequest request = new GenerationRequest(id, prompt, 1, maxTokens, List.of(), true, SamplingParams.greedy(),
                System.nanoTime() + TimeUnit.MINUTES.toNanos(2), out -> {
                    if (!out.choices().isEmpty() && generated.getAndIncrement() == 0) firstTokenStep.set(engine.stats().steps());
                    for (RequestOutput.Choice c : out.choices()) text.append(c.text());
                    if (out.error() != null) result.completeExceptionally(new AssertionError(out.error().message()));
                    else if (out.usage() != null) result.complete(text.toString());
                }, GenerationRequest.DEFAULT_TENANT, GenerationRequest.CacheHint.NONE, background);
        assertTrue(engine.submit(List.of(request)));
        return result;
    }

    @Test
    void aUserRequestWaitsAtMostTheRunningStepForItsFirstToken() throws Exception {
        ServerConfig one = ServerConfig.builder(TestServers.model()).maxModelLen(512).numKvBlocks(64).kvCacheMemoryBytes(0)
                .maxNumSeqs(1).maxNumBatchedTokens(64).threads(2).maxWaitingRequests(64).requestTimeoutSeconds(120)
                .maxBodyBytes(1 << 20).warmupSteps(0).memoryStore("none").build();
        try (KvasirServer server = TestServers.start(one)) {
            Engine engine = server.engine();
            int[] summaryPrompt = server.model().encodeText("Once upon a time there was a little dog who loved to run in the park");
            int[] userPrompt = server.model().encodeText("Lily had a red ball");
            String alone = submit(engine, "summary-alone", summaryPrompt, 200, true, new AtomicInteger(), new AtomicLong())
                    .get(60, TimeUnit.SECONDS);

            AtomicInteger summaryTokens = new AtomicInteger();
            CompletableFuture<String> summary = submit(engine, "summary", summaryPrompt, 200, true, summaryTokens, new AtomicLong());
            while (summaryTokens.get() < 30) Thread.sleep(1);
            long before = engine.stats().steps();
            AtomicLong firstTokenStep = new AtomicLong(-1);
            submit(engine, "user", userPrompt, 8, false, new AtomicInteger(), firstTokenStep).get(60, TimeUnit.SECONDS);
            assertTrue(summaryTokens.get() < 190, "the summary was still generating when the user's request finished");
            // The sink runs inside the step that produced the token, before that step is published: the step
            // running at arrival and the user's prefill step are at most 2 steps past 'before', seen as at most 1.
            long waited = firstTokenStep.get() - before;
            assertTrue(waited <= 1, "first token " + waited + " published steps after arrival");
            assertEquals(alone, summary.get(60, TimeUnit.SECONDS), "preempted and recomputed, the summary is unchanged");
            assertTrue(engine.stats().preemptions() >= 1);
        }
    }
}
