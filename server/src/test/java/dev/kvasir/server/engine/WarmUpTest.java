package dev.kvasir.server.engine;

import dev.kvasir.kernels.cpu.CpuBackend;
import dev.kvasir.models.LlamaModel;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.models.tokenizer.Tokenizer;
import dev.kvasir.models.tokenizer.Tokenizers;
import dev.kvasir.server.KvasirServer;
import dev.kvasir.server.TestServers;
import dev.kvasir.server.metrics.ServerMetrics;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The start-up warm-up runs real steps and leaves nothing behind: every block free, nothing in
 * the prefix cache, no step or token counted, and the tokens a request then generates unchanged.
 */
class WarmUpTest {

    private static final int BLOCKS = 256;
    private static LoadedModel loaded;
    private static Tokenizer tokenizer;
    private static CpuBackend backend;
    private static LlamaModel model;

    @BeforeAll
    static void load() {
        loaded = ModelLoader.load(TestServers.model());
        tokenizer = Tokenizers.load(loaded);
        backend = new CpuBackend(2);
        model = LlamaModel.create(loaded.config(), loaded.weights(), backend, BLOCKS, 16, 0);
    }

    @AfterAll
    static void close() {
        model.close();
        backend.close();
        loaded.close();
    }

    /** An engine on the shared model; its own block manager starts empty. */
    private static Engine engine() {
        EngineConfig config = new EngineConfig(16, 512, 256, 16, BLOCKS, 0, 0.01, true,
                EngineConfig.PreemptionMode.RECOMPUTE, 64);
        AtomicReference<Engine> ref = new AtomicReference<>();
        Engine engine = new Engine(model, config, tokenizer, new ServerMetrics("warm-up-test", () -> ref.get().stats()), 42);
        ref.set(engine);
        return engine;
    }

    private static PreemptionTest.Result generate(Engine engine, String id) throws Exception {
        int[] prompt = tokenizer.encode("Once upon a time there was a little dog who", true, false);
        return PreemptionTest.submit(engine, id, prompt, 40, 1).get(60, TimeUnit.SECONDS);
    }

    /** What a request generates on an engine that never warmed up. */
    private static PreemptionTest.Result generateCold() throws Exception {
        try (Engine plain = engine()) {
            plain.start();
            return generate(plain, "cold");
        }
    }

    @Test
    void warmUpRunsItsStepsThenLeavesThePoolAndTheCountersAsTheyWere() throws Exception {
        PreemptionTest.Result cold = generateCold();
        try (Engine warmed = engine()) {
            // Batch sizes 1, 2, 4, 8 and 16 get 8 steps each: a prefill and 7 decodes.
            assertEquals(40, warmed.warmUp(40, TimeUnit.MINUTES.toNanos(1)));
            warmed.start();
            assertEquals(0, (int) warmed.probe(kv -> {
                kv.checkInvariants();
                assertEquals(BLOCKS, kv.numFreeBlocks());
                assertEquals(0, kv.numCachedBlocks(), "warm-up blocks must not enter the prefix cache");
                return kv.numSequences();
            }).get(10, TimeUnit.SECONDS));
            EngineStats stats = warmed.stats();
            assertEquals(0, stats.steps());
            assertEquals(0, stats.prefixQueryTokens());
            assertEquals(0, stats.generationTokens());

            PreemptionTest.Result warm = generate(warmed, "warm");
            assertEquals(cold.text(), warm.text(), "warm-up changed what a greedy request generates");
            assertEquals(0, warm.usage().cachedTokens(), "no prefix hit on warm-up blocks");
            assertThrows(IllegalStateException.class, () -> warmed.warmUp(8, TimeUnit.SECONDS.toNanos(1)),
                    "warm-up only before the engine thread starts");
        }
    }

    @Test
    void warmUpStopsAtItsTimeBound() throws Exception {
        try (Engine engine = engine()) {
            assertEquals(0, engine.warmUp(1000, 0));
            engine.start();
            assertEquals(BLOCKS, (int) engine.probe(kv -> kv.numFreeBlocks()).get(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void aServerWithWarmUpStartsWithAnEmptyPool() throws Exception {
        try (KvasirServer server = TestServers.start(TestServers.config().withWarmupSteps(24))) {
            Engine engine = server.engine();
            assertEquals(0, (int) engine.probe(kv -> kv.numUsedBlocks() + kv.numCachedBlocks()).get(10, TimeUnit.SECONDS));
            assertEquals(0, engine.stats().steps());
            int[] prompt = server.model().encodeText("Hello");
            assertEquals(5, PreemptionTest.submit(engine, "after-warm-up", prompt, 5, 1).get(30, TimeUnit.SECONDS)
                    .usage().completionTokens());
        }
    }

    /**
     * Warm-up on the engine thread: a request that arrives stops it between two steps and is
     * served (far fewer steps run than asked for), and the pool is left as a synchronous warm-up
     * leaves it; with nothing arriving it runs its steps to the end.
     */
    @Test
    void idleWarmUpYieldsToTheFirstRequest() throws Exception {
        PreemptionTest.Result cold = generateCold();
        try (Engine engine = engine()) {
            java.util.concurrent.CompletableFuture<Integer> steps = engine.warmUpWhenIdle(100_000, TimeUnit.MINUTES.toNanos(5));
            engine.start();
            PreemptionTest.Result served = generate(engine, "during-warm-up");
            assertEquals(cold.text(), served.text(), "warm-up changed what a greedy request generates");
            int ran = steps.get(10, TimeUnit.SECONDS);
            org.junit.jupiter.api.Assertions.assertTrue(ran < 100_000, "the request did not stop the warm-up: " + ran + " steps");
            assertEquals(0, (int) engine.probe(kv -> {
                kv.checkInvariants();
                return kv.numSequences();
            }).get(10, TimeUnit.SECONDS));
            assertEquals(0, served.usage().cachedTokens(), "no prefix hit on warm-up blocks");
        }
        try (Engine engine = engine()) {
            java.util.concurrent.CompletableFuture<Integer> steps = engine.warmUpWhenIdle(24, TimeUnit.MINUTES.toNanos(1));
            engine.start();
            assertEquals(24, steps.get(60, TimeUnit.SECONDS));
            assertEquals(BLOCKS, (int) engine.probe(kv -> kv.numFreeBlocks()).get(10, TimeUnit.SECONDS));
            assertEquals(0, engine.stats().steps());
        }
    }
}
