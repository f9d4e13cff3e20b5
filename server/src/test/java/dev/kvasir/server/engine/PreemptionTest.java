package dev.kvasir.server.engine;

import dev.kvasir.models.sampling.SamplingParams;
import dev.kvasir.server.KvasirServer;
import dev.kvasir.server.ServerConfig;
import dev.kvasir.server.TestServers;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A pool far too small for the batch forces preemption; the preempted sequences (recomputed, or
 * swapped to the CPU pool and back) must produce exactly the text they produce alone, and every
 * block must come back.
 */
class PreemptionTest {

    record Result(String text, RequestOutput.Usage usage) {}

    static CompletableFuture<Result> submit(Engine engine, String id, int[] prompt, int maxTokens, int n) {
        CompletableFuture<Result> result = new CompletableFuture<>();
        StringBuilder text = new StringBuilder();
        GenerationRequest request = new GenerationRequest(id, prompt, n, maxTokens, List.of(), true,
                SamplingParams.greedy(), System.nanoTime() + TimeUnit.MINUTES.toNanos(2), out -> {
                    synchronized (text) {
                        for (RequestOutput.Choice c : out.choices()) if (c.index() == 0) text.append(c.text());
                        if (out.error() != null) result.completeExceptionally(new AssertionError(out.error().message()));
                        else if (out.usage() != null) result.complete(new Result(text.toString(), out.usage()));
                    }
                });
        assertTrue(engine.submit(List.of(request)));
        return result;
    }

    @ParameterizedTest
    @EnumSource(EngineConfig.PreemptionMode.class)
    void preemptedSequencesGenerateWhatTheyGenerateAlone(EngineConfig.PreemptionMode mode) throws Exception {
        ServerConfig d = TestServers.config();
        // 24 blocks of 16 tokens; 6 sequences of ~150 tokens need ~60: preemption is certain.
        ServerConfig small = ServerConfig.builder(d.model()).maxModelLen(256).numKvBlocks(24).kvCacheMemoryBytes(0)
                .maxNumSeqs(8).maxNumBatchedTokens(64)
                .swapSpaceBytes(mode == EngineConfig.PreemptionMode.SWAP ? 64L * 20480 : 0).preemptionMode(mode)
                .threads(2).maxWaitingRequests(64).requestTimeoutSeconds(120).maxBodyBytes(1 << 20).warmupSteps(0)
                .memoryStore("none").build();
        assertPreemptionKeepsEachText(small);
    }

    /**
     * Six ~150-token sequences alone, then together in a pool far too small for them: each must
     * produce the same text, at least one preemption must happen, and every block must come back.
     */
    static void assertPreemptionKeepsEachText(ServerConfig config) throws Exception {
        try (KvasirServer server = TestServers.start(config)) {
            Engine engine = server.engine();
            List<int[]> prompts = new ArrayList<>();
            for (int i = 0; i < 6; i++) prompts.add(server.model().encodeText("Once upon a time there was a " + "big ".repeat(i) + "dog"));
            List<String> alone = new ArrayList<>();
            for (int i = 0; i < prompts.size(); i++) {
                alone.add(submit(engine, "alone-" + i, prompts.get(i), 140, 1).get(60, TimeUnit.SECONDS).text());
            }
            List<CompletableFuture<Result>> together = new ArrayList<>();
            for (int i = 0; i < prompts.size(); i++) together.add(submit(engine, "together-" + i, prompts.get(i), 140, 1));
            for (int i = 0; i < prompts.size(); i++) {
                Result r = together.get(i).get(60, TimeUnit.SECONDS);
                assertEquals(alone.get(i), r.text(), "sequence " + i + " changed under preemption (" + config.preemptionMode() + ")");
                assertEquals(140, r.usage().completionTokens());
            }
            assertTrue(engine.stats().preemptions() > 0, "the pool was small enough to preempt");
            int used = engine.probe(kv -> {
                kv.checkInvariants();
                return kv.numUsedBlocks() + (kv.numTotalCpuBlocks() - kv.numFreeCpuBlocks());
            }).get(10, TimeUnit.SECONDS);
            assertEquals(0, used);
        }
    }

    @org.junit.jupiter.api.Test
    void forkedChoicesShareThePromptAndCopyOnWrite() throws Exception {
        try (KvasirServer server = TestServers.start(TestServers.config())) {
            Engine engine = server.engine();
            // 20 tokens: the prompt's last block is partial, so each choice's first append copies it.
            int[] prompt = server.model().encodeText("Once upon a time there was a little girl who liked");
            Result r = submit(engine, "fork", prompt, 8, 3).get(30, TimeUnit.SECONDS);
            assertEquals(24, r.usage().completionTokens());
            if (prompt.length % 16 != 0) assertTrue(engine.probe(kv -> kv.copyOnWriteCopies()).get() >= 2);
            assertEquals(0, (int) engine.probe(kv -> kv.numUsedBlocks()).get());
        }
    }

    @org.junit.jupiter.api.Test
    void fullWaitingQueueRefusesInsteadOfGrowing() throws Exception {
        ServerConfig d = TestServers.config();
        ServerConfig tiny = d.withLimits(1, 64, 2, 120);
        try (KvasirServer server = TestServers.start(tiny)) {
            int[] prompt = server.model().encodeText("Hello");
            List<CompletableFuture<Result>> accepted = new ArrayList<>();
            int refused = 0;
            for (int i = 0; i < 10; i++) {
                try {
                    accepted.add(submit(server.engine(), "q" + i, prompt, 50, 1));
                } catch (AssertionError e) {
                    refused++;
                }
            }
            assertTrue(refused > 0 && accepted.size() >= 2, "accepted " + accepted.size() + ", refused " + refused);
            for (CompletableFuture<Result> f : accepted) assertEquals(50, f.get(30, TimeUnit.SECONDS).usage().completionTokens());
        }
    }
}
