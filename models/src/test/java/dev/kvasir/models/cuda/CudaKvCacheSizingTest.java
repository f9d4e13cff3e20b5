package dev.kvasir.models.cuda;

import dev.kvasir.kernels.Backend;
import dev.kvasir.kernels.MemoryPlan;
import dev.kvasir.kernels.cuda.CudaBackend;
import dev.kvasir.kernels.cuda.CudaTestSupport;
import dev.kvasir.models.Backends;
import dev.kvasir.models.KvCacheSizing;
import dev.kvasir.models.LlamaModel;
import dev.kvasir.models.ModelLocator;
import dev.kvasir.models.Steps;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The GPU memory plan that sizes the KV cache ({@link KvCacheSizing}), through {@code Backends.create("cuda", ...)}: weights,
 * a profiling forward, then utilization x memory less both becomes blocks; too little memory fails
 * at start-up naming the plan. Skips, with the reason, without a GPU.
 */
class CudaKvCacheSizingTest {

    private static final int BLOCK = 16;

    @Test
    void memoryPlanSizesTheCacheAndTheModelStillGeneratesTheSameTokens() {
        CudaTestSupport.requireCuda();
        try (LoadedModel loaded = ModelLoader.load(ModelLocator.testModel("stories260K.gguf"));
             Backend b = Backends.create("cuda", 0)) {
            CudaBackend gpu = (CudaBackend) b;
            int maxModelLen = 512, maxSeqs = 8;
            int perSeq = maxModelLen / BLOCK;
            KvCacheSizing.Sized sized = KvCacheSizing.create(loaded.config(), loaded.weights(), gpu,
                    new KvCacheSizing.StepLimits(maxSeqs, 256, maxModelLen, BLOCK), new KvCacheSizing.Budget(null, 0, 0.5, 0));
            try (LlamaModel model = sized.model()) {
                MemoryPlan plan = sized.plan();
                assertTrue(plan.weightBytes() > 0 && plan.workspaceBytes() > 0, plan::toString);
                assertTrue(plan.numBlocks() >= KvCacheSizing.minBlocks(maxModelLen, BLOCK), plan::toString);
                // stories260K is tiny: half of any GPU holds more than the limits can use, so the cap applies.
                assertEquals(Math.min(plan.numBlocks(), perSeq * maxSeqs), sized.numBlocks());
                assertEquals(sized.numBlocks(), model.numKvBlocks());

                // The resized cache works: the last blocks give the same tokens as the first ones.
                int[] p = new Random(3).ints(20, 3, loaded.config().vocabSize()).toArray();
                p[0] = 1;
                int n = sized.numBlocks();
                int[] low = Steps.table(0, 3), high = Steps.table(n - 3, 3);
                int[] a = Steps.greedyFrom(model, Steps.run(model, p, 0, low, BLOCK), p.length, 20, low, BLOCK);
                int[] c = Steps.greedyFrom(model, Steps.run(model, p, 0, high, BLOCK), p.length, 20, high, BLOCK);
                assertArrayEquals(a, c);
            }
        }
    }

    @Test
    void tooLittleMemoryFailsAtStartUpNamingThePlan() {
        CudaTestSupport.requireCuda();
        try (LoadedModel loaded = ModelLoader.load(ModelLocator.testModel("stories260K.gguf"));
             CudaBackend gpu = new CudaBackend()) {
            // 1e-6 of a GPU's memory is a few kilobytes: less than the CUDA context itself.
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> KvCacheSizing.create(loaded.config(),
                    loaded.weights(), gpu, new KvCacheSizing.StepLimits(4, 64, 256, BLOCK), new KvCacheSizing.Budget(null, 0, 1e-6, 0)));
            assertTrue(e.getMessage().startsWith("not enough GPU memory for the KV cache"), e.getMessage());
            assertTrue(e.getMessage().contains("--gpu-memory-utilization"), e.getMessage());
        }
    }
}
