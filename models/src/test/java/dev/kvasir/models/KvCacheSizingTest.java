package dev.kvasir.models;

import dev.kvasir.blockmanager.KvCacheManager;
import dev.kvasir.kernels.cpu.CpuBackend;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Pool sizing on a backend without a device memory plan (the CPU): a byte budget, capped at what
 * every sequence can use, never below one full-length sequence above the watermark. The device
 * side is {@code cuda.CudaKvCacheSizingTest}.
 */
class KvCacheSizingTest {

    private static final int BLOCK = 16;
    private static final long GIB = 1L << 30;
    private static LoadedModel loaded;
    private static CpuBackend backend;

    @BeforeAll
    static void load() {
        loaded = ModelLoader.load(ModelLocator.testModel("stories260K.gguf"));
        backend = new CpuBackend(1);
    }

    @AfterAll
    static void close() {
        backend.close();
        loaded.close();
    }

    private static KvCacheSizing.Sized size(int maxSeqs, int maxModelLen, KvCacheSizing.Budget budget) {
        return KvCacheSizing.create(loaded.config(), loaded.weights(), backend,
                new KvCacheSizing.StepLimits(maxSeqs, 256, maxModelLen, BLOCK), budget);
    }

    private static long perBlock() {
        return LlamaModel.kvBytesPerBlock(loaded.config(), BLOCK, backend.kvElementBytes());
    }

    @Test
    void aLargeBudgetIsCappedAtEverySequenceAtFullLength() {
        KvCacheSizing.Sized s = size(4, 512, new KvCacheSizing.Budget(null, GIB, 0.9, 0));
        try (LlamaModel model = s.model()) {
            assertEquals(4 * 512 / BLOCK, s.numBlocks());
            assertEquals(s.numBlocks(), model.numKvBlocks());
            assertNull(s.plan(), "the CPU makes no device memory plan");
        }
    }

    @Test
    void oneSequenceGetsItsBlocksPlusTheWatermarkInsteadOfARefusal() {
        // --max-num-seqs 1 once capped the pool at one sequence's 32 blocks, then refused to start
        // because its minimum was computed another way (32 / 0.99 + 1 = 34). One rule now: the
        // watermark's floor(1% of 32) is 0 blocks, so 32 blocks admit the sequence.
        KvCacheSizing.Sized s = size(1, 512, new KvCacheSizing.Budget(null, GIB, 0.9, 0));
        try (LlamaModel ignored = s.model()) {
            assertEquals(512 / BLOCK, s.numBlocks());
        }
        // Where the watermark does take blocks (200 blocks: 2), one sequence gets them on top.
        KvCacheSizing.Sized longer = size(1, 200 * BLOCK, new KvCacheSizing.Budget(null, GIB, 0.9, 0));
        try (LlamaModel ignored = longer.model()) {
            assertEquals(KvCacheSizing.minBlocks(200 * BLOCK, BLOCK), longer.numBlocks());
            assertEquals(202, longer.numBlocks(), "200 blocks of tokens, and floor(1% of 202) = 2 kept free");
        }
    }

    @Test
    void aBudgetBelowOneSequenceIsRefusedNamingTheFlag() {
        long tooSmall = perBlock() * 10;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> size(4, 512, new KvCacheSizing.Budget(null, tooSmall, 0.9, 0)));
        assertTrue(e.getMessage().startsWith("--kv-cache-memory " + tooSmall + " bytes holds 10 KV blocks"), e.getMessage());
        assertTrue(e.getMessage().contains("needs " + KvCacheSizing.minBlocks(512, BLOCK)), e.getMessage());
    }

    @Test
    void anExplicitCountAndTheSwapPoolAreTakenAsGiven() {
        KvCacheSizing.Sized s = size(4, 512, new KvCacheSizing.Budget(77, 0, 0.9, perBlock() * 5 + 1));
        try (LlamaModel model = s.model()) {
            assertEquals(77, s.numBlocks());
            assertEquals(77, model.numKvBlocks());
            assertEquals(5, s.numCpuBlocks());
        }
    }

    @Test
    void theMinimumAdmitsOneFullSequenceAboveTheWatermarkAndNoFewerDo() {
        for (int len : new int[] {16, 100, 512, 4096, 131072}) {
            int min = KvCacheSizing.minBlocks(len, BLOCK);
            int need = (len + BLOCK - 1) / BLOCK;
            KvCacheManager enough = new KvCacheManager(min, BLOCK, 0, KvCacheManager.DEFAULT_WATERMARK, true);
            assertTrue(enough.canAllocatePrompt(new int[len], 1), "len " + len);
            if (min > need) {
                KvCacheManager fewer = new KvCacheManager(min - 1, BLOCK, 0, KvCacheManager.DEFAULT_WATERMARK, true);
                assertTrue(!fewer.canAllocatePrompt(new int[len], 1), "len " + len);
            }
        }
    }
}
