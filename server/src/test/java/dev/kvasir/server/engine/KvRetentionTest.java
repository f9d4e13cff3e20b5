package dev.kvasir.server.engine;

import dev.kvasir.models.sampling.SamplingParams;
import dev.kvasir.server.KvasirServer;
import dev.kvasir.server.ServerConfig;
import dev.kvasir.server.TestServers;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Which cached prefixes survive a small pool under one-off traffic: with session retention an agent
 * session's prefix (and a pinned one) outlives one-off requests' blocks, with LRU it does not; a
 * prefix evicted into the host offload tier comes back by copy and generates the same text. Every
 * block returns to the pool. {@link CudaKvRetentionTest} runs the same on the CUDA backend.
 */
class KvRetentionTest {

    /** The server's config for this backend: a pool of 40 blocks of 16 tokens, 256-token sequences. */
    ServerConfig config(EngineConfig.KvRetention retention, long offloadBytes) {
        return ServerConfig.builder(TestServers.model()).maxModelLen(256).numKvBlocks(40).kvCacheMemoryBytes(0).maxNumSeqs(4)
                .maxNumBatchedTokens(256).threads(2).warmupSteps(0).memoryStore("none").kvRetention(retention)
                .kvOffloadBytes(offloadBytes).build();
    }

    void requireBackend() {}

    record Result(String text, int cachedTokens) {}

    static Result generate(Engine engine, String id, int[] prompt, GenerationRequest.CacheHint hint) throws Exception {
        CompletableFuture<Result> result = new CompletableFuture<>();
        StringBuilder text = new StringBuilder();
        GenerationRequest request = new GenerationRequest(id, prompt, 1, 8, List.of(), true, SamplingParams.greedy(),
                System.nanoTime() + TimeUnit.MINUTES.toNanos(2), out -> {
                    for (RequestOutput.Choice c : out.choices()) text.append(c.text());
                    if (out.error() != null) result.completeExceptionally(new AssertionError(out.error().message()));
                    else if (out.usage() != null) result.complete(new Result(text.toString(), out.usage().cachedTokens()));
                }, GenerationRequest.DEFAULT_TENANT, hint);
        assertTrue(engine.submit(List.of(request)));
        return result.get(60, TimeUnit.SECONDS);
    }

    /** A prompt of 200 to 215 tokens (12 full blocks and part of a 13th) that shares no block with another {@code n}. */
    static int[] prompt(KvasirServer server, int n) {
        StringBuilder s = new StringBuilder("Story " + n + ":");
        for (int i = 0; ; i++) {
            s.append(' ').append((char) ('a' + (n * 7 + i) % 26)).append(i % 10);
            int[] tokens = server.model().encodeText(s.toString());
            if (tokens.length >= 200) return tokens;
        }
    }

    /**
     * The session's 12 full blocks, then five one-off prompts of ~14 blocks each, one after another
     * (70 blocks through a pool of 40), then the session's prompt again: how much of it is cached.
     */
    private int cachedAfterOneOffTraffic(KvasirServer server, GenerationRequest.CacheHint hint) throws Exception {
        Engine engine = server.engine();
        int[] session = prompt(server, 0);
        generate(engine, "session", session, hint);
        for (int i = 1; i <= 5; i++) generate(engine, "one-off-" + i, prompt(server, i), GenerationRequest.CacheHint.NONE);
        int cached = generate(engine, "session-again", session, hint).cachedTokens();
        assertNoBlockHeld(engine);
        return cached;
    }

    static void assertNoBlockHeld(Engine engine) throws Exception {
        int used = engine.probe(kv -> {
            kv.checkInvariants();
            return kv.numUsedBlocks();
        }).get(10, TimeUnit.SECONDS);
        assertEquals(0, used, "every block is back in the pool");
    }

    @Test
    void sessionRetentionKeepsTheSessionPrefixThroughOneOffTraffic() throws Exception {
        requireBackend();
        GenerationRequest.CacheHint session = new GenerationRequest.CacheHint(true, 0);
        try (KvasirServer server = TestServers.start(config(EngineConfig.KvRetention.SESSION, 0))) {
            assertTrue(cachedAfterOneOffTraffic(server, session) >= 12 * 16, "the session's full blocks survived");
            assertTrue(server.engine().stats().kvBlocksRetainedSession() >= 12, "they are counted as retained for a session");
        }
        try (KvasirServer server = TestServers.start(config(EngineConfig.KvRetention.LRU, 0))) {
            assertEquals(0, cachedAfterOneOffTraffic(server, session), "plain LRU evicted the session's prefix");
        }
    }

    @Test
    void aPinnedPrefixOutlivesSessionTraffic() throws Exception {
        requireBackend();
        try (KvasirServer server = TestServers.start(config(EngineConfig.KvRetention.SESSION, 0))) {
            Engine engine = server.engine();
            int[] pinned = prompt(server, 0);
            generate(engine, "pinned", pinned, new GenerationRequest.CacheHint(true, TimeUnit.MINUTES.toNanos(10)));
            // Other sessions' prefixes churn through the rest of the pool: theirs are evicted, the pinned one is not.
            for (int i = 1; i <= 5; i++) generate(engine, "session-" + i, prompt(server, i), new GenerationRequest.CacheHint(true, 0));
            assertTrue(generate(engine, "pinned-again", pinned, GenerationRequest.CacheHint.NONE).cachedTokens() >= 12 * 16);
            assertNoBlockHeld(engine);
        }
    }

    @Test
    void anOffloadedPrefixComesBackByCopyWithTheSameText() throws Exception {
        requireBackend();
        // Room in host memory for every evicted block of this test.
        try (KvasirServer server = TestServers.start(config(EngineConfig.KvRetention.LRU, 64L << 20))) {
            Engine engine = server.engine();
            int[] first = prompt(server, 0);
            Result alone = generate(engine, "first", first, GenerationRequest.CacheHint.NONE);
            for (int i = 1; i <= 5; i++) generate(engine, "one-off-" + i, prompt(server, i), GenerationRequest.CacheHint.NONE);
            EngineStats before = engine.stats();
            assertTrue(before.offloadStores() >= 12, "evicted blocks went to the host tier: " + before.offloadStores());
            Result again = generate(engine, "first-again", first, GenerationRequest.CacheHint.NONE);
            long loaded = engine.stats().offloadHitTokens() - before.offloadHitTokens();
            assertTrue(loaded >= 12 * 16, "the prefix came back from the host tier: " + loaded + " tokens");
            assertTrue(again.cachedTokens() >= 12 * 16, "and counts as cached: " + again.cachedTokens());
            assertEquals(alone.text(), again.text(), "KV copied back gives the text a recompute gives");
            assertNoBlockHeld(engine);
        }
    }
}
