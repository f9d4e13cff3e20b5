package dev.kvasir.models.cuda;

import dev.kvasir.kernels.Backend;
import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.cpu.CpuBackend;
import dev.kvasir.kernels.cpu.KvStorage;
import dev.kvasir.kernels.cuda.CudaBackend;
import dev.kvasir.kernels.cuda.CudaTestSupport;
import dev.kvasir.models.ForwardBatch;
import dev.kvasir.models.LlamaConfig;
import dev.kvasir.models.LlamaModel;
import dev.kvasir.models.SequenceChunk;
import dev.kvasir.models.Steps;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.models.loader.RandomModelMaker;
import dev.kvasir.models.sampling.Sampler;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * f16 random-weight models shaped like SmolLM2-135M and TinyLlama-1.1B (RandomModelMaker, seed 42):
 * the CUDA backend's logits within 1e-2 relative (L2) of the CPU's, after a prompt and after each
 * decode step, for one sequence alone and for two sequences batched (one prefilling while the other
 * decodes). Both backends are fed the CPU's greedy tokens, so each step compares the same input.
 * The model files (tiny1b f16 is 2.2 GB) are written to a temporary folder only where a GPU is.
 */
class CudaRandomModelLogitsTest {

    private static final double TOLERANCE = 1e-2;
    private static final int BLOCK = 16;
    private static final int PROMPT = 19;
    private static final int DECODE = 5;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0} f16")
    @ValueSource(strings = {"smol135", "tiny1b"})
    void gpuLogitsMatchCpu(String shape) {
        CudaTestSupport.requireCuda();
        Path file = dir.resolve(shape + "-f16.gguf");
        RandomModelMaker.make(RandomModelMaker.SHAPES.get(shape), GgmlType.F16, 42, file);
        try (LoadedModel loaded = ModelLoader.load(file);
             CpuBackend cpuBackend = new CpuBackend(Math.max(2, Runtime.getRuntime().availableProcessors()), KvStorage.F32, false);
             CudaBackend gpuBackend = new CudaBackend();
             LlamaModel cpu = model(loaded, cpuBackend);
             LlamaModel gpu = model(loaded, gpuBackend)) {
            LlamaConfig c = loaded.config();
            int[] prompt = new SplittableRandom(7).ints(PROMPT, 3, c.vocabSize()).toArray();
            prompt[0] = Math.max(c.bosId(), 0);

            // One sequence: prefill, then decode steps fed the CPU's greedy token.
            int[] table = Steps.table(0, 4);
            float[] want = Steps.run(cpu, prompt, 0, table, BLOCK);
            float[] got = Steps.run(gpu, prompt, 0, table, BLOCK);
            assertClose(want, got, shape + " after the prompt");
            for (int s = 0; s < DECODE; s++) {
                int next = Sampler.argmax(want);
                want = Steps.run(cpu, new int[] {next}, PROMPT + s, table, BLOCK);
                got = Steps.run(gpu, new int[] {next}, PROMPT + s, table, BLOCK);
                assertClose(want, got, shape + " decode step " + s);
            }

            // Two sequences in one step: the first decodes (its context from above), a second prefills.
            int[] second = new SplittableRandom(8).ints(11, 3, c.vocabSize()).toArray();
            int[] table2 = Steps.table(8, 2);
            int next = Sampler.argmax(want);
            List<SequenceChunk> step = new ArrayList<>();
            step.add(Steps.chunk(1, new int[] {next}, PROMPT + DECODE, table, BLOCK));
            step.add(Steps.chunk(2, second, 0, table2, BLOCK));
            float[][] wantBoth = cpu.forward(new ForwardBatch(step));
            float[][] gotBoth = gpu.forward(new ForwardBatch(step));
            assertEquals(2, gotBoth.length);
            assertClose(wantBoth[0], gotBoth[0], shape + " batched decode");
            assertClose(wantBoth[1], gotBoth[1], shape + " batched prefill");
        }
    }

    private static LlamaModel model(LoadedModel loaded, Backend backend) {
        return LlamaModel.create(loaded.config(), loaded.weights(), backend, 16, BLOCK, 0);
    }

    private static void assertClose(float[] cpu, float[] gpu, String what) {
        double error = Steps.relativeError(gpu, cpu);
        assertTrue(error < TOLERANCE, () -> what + ": CUDA logits differ from the CPU's by " + error + " (relative L2), over "
                + TOLERANCE);
    }
}
