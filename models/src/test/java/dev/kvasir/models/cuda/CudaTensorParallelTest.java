package dev.kvasir.models.cuda;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.cuda.CudaRuntime;
import dev.kvasir.kernels.cuda.CudaTestSupport;
import dev.kvasir.models.Backends;
import dev.kvasir.models.LlamaConfig;
import dev.kvasir.models.LlamaModel;
import dev.kvasir.models.ModelLocator;
import dev.kvasir.models.Ranks;
import dev.kvasir.models.ShardPlan;
import dev.kvasir.models.Steps;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.models.loader.RandomModelMaker;
import dev.kvasir.models.sampling.Sampler;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Tensor parallelism on CUDA: the model split over 2 and 4 devices (one CudaBackend and one thread
 * per rank, NCCL's all-reduce between them) computes what the CPU computes unsplit: stories260K's
 * greedy tokens exactly, and a Q8_0 random model's logits within f16 rounding, with its 2 KV heads
 * split over 2 ranks and replicated over 4. Needs 2 GPUs (multi-gpu: gpu-check runs it where there
 * are); the cuda-sim execution gives the simulator 4 devices and its fake NCCL, where it must run.
 */
@Tag("multi-gpu")
class CudaTensorParallelTest {

    private static final int BLOCK = 16;
    private static final double TOLERANCE = 1e-2;

    @TempDir
    Path dir;

    /** Device counts to split over: 2 and 4 where there are that many. */
    private static int[] sizes() {
        CudaTestSupport.requireCuda();
        int devices = CudaRuntime.deviceCount();
        if (CudaTestSupport.simulated()) {
            assertTrue(devices >= 4, "the cuda-sim execution gives the simulator 4 devices (KVASIR_SIM_DEVICES, models pom)");
        }
        assumeTrue(devices >= 2, "needs 2 GPUs, found " + devices);
        return devices >= 4 ? new int[] {2, 4} : new int[] {2};
    }

    /** The prompt's logits and the greedy tokens after it. */
    private record Run(float[] logits, int[] tokens) {}

    private static Run greedy(LoadedModel loaded, String device, int ranks, int[] prompt, int steps) {
        LlamaConfig c = loaded.config();
        int blocks = (prompt.length + steps) / BLOCK + 2;
        try (Ranks r = Backends.create(device, 2, ranks);
             LlamaModel m = LlamaModel.create(c, loaded.weights(), r, ShardPlan.of(c, ranks), blocks + 2, BLOCK, 0)) {
            int[] table = Steps.table(0, blocks);
            float[] logits = Steps.run(m, prompt, 0, table, BLOCK);
            return new Run(logits, Steps.greedyFrom(m, logits, prompt.length, steps, table, BLOCK));
        }
    }

    @Test
    void stories260kGreedyTokensEqualTheCpus() {
        int[] sizes = sizes();
        try (LoadedModel loaded = ModelLoader.load(ModelLocator.testModel("stories260K.gguf"))) {
            int[] prompt = {1, 403, 407, 261, 378, 260, 415, 31, 305};
            Run cpu = greedy(loaded, "cpu", 1, prompt, 24);
            for (int n : sizes) {
                Run gpu = greedy(loaded, "cuda", n, prompt, 24);
                assertArrayEquals(cpu.tokens(), gpu.tokens(), "greedy tokens on " + n + " devices");
            }
        }
    }

    @Test
    void q8LogitsMatchTheCpuWithKvHeadsSplitAndReplicated() {
        int[] sizes = sizes();
        Path file = dir.resolve("q8.gguf");
        // 8 query heads of 16 over 2 KV heads: 2 ranks split the KV heads, 4 hold each on two ranks.
        RandomModelMaker.make(new RandomModelMaker.Shape("q8", 128, 2, 8, 2, 256, 512, 10000f, 256, true, false),
                GgmlType.Q8_0, 5, file);
        try (LoadedModel loaded = ModelLoader.load(file)) {
            LlamaConfig c = loaded.config();
            // 40 prompt tokens: above 32 the Q8_0 matmuls take the dequantise + cuBLAS path, decode the GEMV.
            int[] prompt = new SplittableRandom(3).ints(40, 3, c.vocabSize()).toArray();
            // The GPU kernels multiply float activations: the reference is the CPU's float path, not its int8 one.
            String int8 = System.getProperty("kvasir.cpu.int8Dots");
            System.setProperty("kvasir.cpu.int8Dots", "false");
            Run cpu;
            try {
                cpu = greedy(loaded, "cpu", 1, prompt, 2);
            } finally {
                if (int8 == null) System.clearProperty("kvasir.cpu.int8Dots");
                else System.setProperty("kvasir.cpu.int8Dots", int8);
            }
            for (int n : sizes) {
                Run gpu = greedy(loaded, "cuda", n, prompt, 2);
                double error = Steps.relativeError(gpu.logits(), cpu.logits());
                assertTrue(error < TOLERANCE, "logits on " + n + " devices differ from the CPU's by " + error);
                assertEquals(Sampler.argmax(cpu.logits()), Sampler.argmax(gpu.logits()), n + " devices");
            }
        }
    }
}
