package dev.kvasir.models.cuda;

import dev.kvasir.kernels.MemoryPlan;
import dev.kvasir.kernels.cuda.CudaRuntime;
import dev.kvasir.kernels.cuda.CudaTestSupport;
import dev.kvasir.models.Backends;
import dev.kvasir.models.CapacityPlanner;
import dev.kvasir.models.KvCacheSizing;
import dev.kvasir.models.LlamaConfig;
import dev.kvasir.models.LlamaModel;
import dev.kvasir.models.ModelLocator;
import dev.kvasir.models.Ranks;
import dev.kvasir.models.ShardPlan;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.models.loader.ModelShape;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code kvasir plan} against what {@code serve --device cuda} measures: the planner's weights per
 * rank are the bytes each device's memory plan counts after loading its share, exactly, on one
 * device and (where there are two) on each of two; its workspace estimate is within a factor of
 * two of the profiled peak. Skips without CUDA; runs on the simulator in cuda-sim.
 */
class CudaCapacityPlanTest {

    @Test
    void plannedWeightsAreWhatTheDevicesHold() {
        CudaTestSupport.requireCuda();
        Path file = ModelLocator.testModel("stories260K.gguf");
        ModelShape shape = ModelShape.read(file);
        KvCacheSizing.StepLimits limits = new KvCacheSizing.StepLimits(8, 256, 512, 16);
        try (LoadedModel loaded = ModelLoader.load(file)) {
            LlamaConfig c = loaded.config();
            for (int tp : CudaRuntime.deviceCount() >= 2 ? new int[] {1, 2} : new int[] {1}) {
                ShardPlan shards = ShardPlan.of(c, tp);
                try (Ranks ranks = Backends.create("cuda", 0, tp)) {
                    KvCacheSizing.Sized sized = KvCacheSizing.create(c, loaded.weights(), ranks, shards, limits,
                            new KvCacheSizing.Budget(null, 0, 0.5, 0));
                    try (LlamaModel ignored = sized.model()) {
                        MemoryPlan measured = sized.plan();
                        assertEquals(CapacityPlanner.weightBytes(c, shards.rank(0), shape), measured.weightBytes(), "TP " + tp);
                        long estimate = CapacityPlanner.workspaceBytes(c, shards.rank(0), shape, limits);
                        assertTrue(estimate >= measured.workspaceBytes() / 2 && estimate <= 2 * measured.workspaceBytes(),
                                "TP " + tp + ": workspace estimated " + estimate + ", measured " + measured.workspaceBytes());
                    }
                }
            }
        }
    }
}
