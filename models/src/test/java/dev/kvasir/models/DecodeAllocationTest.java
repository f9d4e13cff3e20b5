package dev.kvasir.models;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.cpu.CpuBackend;
import dev.kvasir.kernels.cpu.KvStorage;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A decode step of a warmed model allocates (close to) nothing on the heap: no per-token logits
 * array, nothing per op in the kernels. Measured with the JVM's per-thread allocation counters on
 * the calling thread and the CPU backend's workers, around decode steps whose batches are built
 * beforehand. On stories260K (vocab 512): one logits row per sequence would be 2 KiB, so four
 * sequences per step would allocate 8 KiB and more per step, far above the bound.
 */
class DecodeAllocationTest {

    private static final int BLOCK = 16;
    private static final int SEQS = 4;
    private static final int PROMPT = 8;
    private static final int WARM_STEPS = 400;
    private static final int MEASURED_STEPS = 100;
    /** Measured windows tried at most before the allocation counts as real. */
    private static final int MAX_WINDOWS = 20;
    /** Bytes per step at most: room for the JIT's occasional deoptimization objects, never a logits row. */
    private static final long BOUND_PER_STEP = 512;

    private static LoadedModel loaded;
    private static CpuBackend backend;
    private static LlamaModel model;

    @BeforeAll
    static void load() {
        loaded = ModelLoader.load(ModelLocator.testModel("stories260K.gguf"));
        backend = new CpuBackend(2, KvStorage.F32, true); // int8 activations on: the Q8_0 test's path
        int blocksPerSeq = (PROMPT + WARM_STEPS + MEASURED_STEPS + BLOCK - 1) / BLOCK;
        model = LlamaModel.create(loaded.config(), loaded.weights(), backend, SEQS * blocksPerSeq, BLOCK, 0);
    }

    @AfterAll
    static void close() {
        model.close();
        backend.close();
        loaded.close();
    }

    @Test
    void aWarmDecodeStepAllocatesNothingPerToken() {
        assertTrue(PROMPT + WARM_STEPS + MEASURED_STEPS <= loaded.config().contextLength(), "the test's sequences fit stories260K's context");
        long perStep = bytesPerWarmStep(model, loaded.config(), PROMPT + WARM_STEPS + MEASURED_STEPS);
        assertTrue(perStep <= BOUND_PER_STEP, () -> "a warm decode step of " + SEQS + " sequences allocated " + perStep
                + " bytes on average (bound " + BOUND_PER_STEP + "; one logits row is " + 4L * loaded.config().vocabSize() + " bytes)");
    }

    /**
     * The same on the tensor types of a llama.cpp Q4_K_M file (Q4_K and Q6_K matrices, a Q4_K
     * embedding, a Q6_K classifier), one sequence and four: a K-quant matrix expanded whole, or a
     * kernel whose vectors C2 leaves on the heap, allocates megabytes per step.
     */
    @Test
    void kQuantModelsAllocateNothingPerToken() {
        LlamaConfig c = TinyModels.config(256, 2, 4, 2, 512, 1024, LlamaConfig.RopeStyle.NORMAL, null, false);
        try (TinyModels.Weights w = TinyModels.random(c, TinyModels::q4km, 5);
             LlamaModel m = LlamaModel.create(c, w, backend, SEQS * (c.contextLength() / BLOCK), BLOCK, 0)) {
            long perStep = bytesPerWarmStep(m, c, c.contextLength());
            assertTrue(perStep <= BOUND_PER_STEP, () -> "a warm Q4_K_M decode step of " + SEQS + " sequences allocated "
                    + perStep + " bytes on average (bound " + BOUND_PER_STEP + ")");
        }
    }

    /** The same on Q8_0 and Q4_0 matrices, whose matmuls quantize the activations to int8 (into reused buffers). */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0"})
    void int8ActivationModelsAllocateNothingPerToken(GgmlType type) {
        LlamaConfig c = TinyModels.config(256, 2, 4, 2, 512, 1024, LlamaConfig.RopeStyle.NORMAL, null, false);
        try (TinyModels.Weights w = TinyModels.random(c, type, 6);
             LlamaModel m = LlamaModel.create(c, w, backend, SEQS * (c.contextLength() / BLOCK), BLOCK, 0)) {
            long perStep = bytesPerWarmStep(m, c, c.contextLength());
            assertTrue(perStep <= BOUND_PER_STEP, () -> "a warm " + type + " decode step of " + SEQS + " sequences allocated "
                    + perStep + " bytes on average (bound " + BOUND_PER_STEP + ")");
        }
    }

    /**
     * Prefills {@link #SEQS} sequences, decodes {@link #WARM_STEPS} steps (one token each, then one
     * of them alone every fourth step, so the one-token kernels warm up too), then returns the bytes
     * per step of {@link #MEASURED_STEPS} more (the first clean window of up to {@link #MAX_WINDOWS}).
     * Positions wrap below {@code positions}.
     */
    private static long bytesPerWarmStep(LlamaModel model, LlamaConfig config, int positions) {
        int vocab = config.vocabSize();
        int steps = WARM_STEPS + MEASURED_STEPS;
        int blocksPerSeq = (positions + BLOCK - 1) / BLOCK;
        int[][] tables = new int[SEQS][blocksPerSeq];
        for (int s = 0; s < SEQS; s++) for (int b = 0; b < blocksPerSeq; b++) tables[s][b] = s * blocksPerSeq + b;

        List<SequenceChunk> prefill = new ArrayList<>();
        for (int s = 0; s < SEQS; s++) {
            int[] prompt = new int[PROMPT];
            for (int i = 0; i < PROMPT; i++) prompt[i] = i == 0 ? 1 : 3 + (s * 37 + i * 11) % (vocab - 3);
            prefill.add(new SequenceChunk(s, prompt, 0, Steps.slots(tables[s], BLOCK, 0, PROMPT), tables[s], true));
        }
        // Every decode step's batch is built before anything is measured: only forward itself is counted.
        ForwardBatch[] decode = new ForwardBatch[steps];
        for (int step = 0; step < steps; step++) {
            List<SequenceChunk> chunks = new ArrayList<>(SEQS);
            int pos = PROMPT + step % (positions - PROMPT);
            int seqs = step % 4 == 3 ? 1 : SEQS;
            for (int s = 0; s < seqs; s++) {
                int token = 3 + (s * 101 + step * 7) % (vocab - 3);
                chunks.add(new SequenceChunk(s, new int[] {token}, pos, Steps.slots(tables[s], BLOCK, pos, 1), tables[s], true));
            }
            decode[step] = new ForwardBatch(chunks);
        }

        model.forward(new ForwardBatch(prefill));
        float[][] previous = null;
        for (int step = 0; step < WARM_STEPS; step++) {
            float[][] logits = model.forward(decode[step]);
            assertEquals(vocab, logits[0].length);
            if (previous != null) assertSame(previous[0], logits[0], "the logits rows are the model's reused buffers");
            previous = logits;
        }

        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long[] ids = computeThreadIds();
        // The same measured steps again (same positions and slots) until a window is clean: on a loaded
        // machine C2 may still be compiling a kernel after the warm-up, and interpreted Vector API code
        // allocates. A real per-step allocation never goes away, however many windows run.
        long perStep;
        int window = 0;
        do {
            long before = total(threads.getThreadAllocatedBytes(ids));
            for (int step = WARM_STEPS; step < steps; step++) model.forward(decode[step]);
            long after = total(threads.getThreadAllocatedBytes(ids));
            perStep = (after - before) / MEASURED_STEPS;
        } while (perStep > BOUND_PER_STEP && ++window < MAX_WINDOWS);
        return perStep;
    }

    /** This thread and the CPU backend's workers: every thread a forward step runs on. */
    private static long[] computeThreadIds() {
        List<Long> ids = new ArrayList<>();
        ids.add(Thread.currentThread().threadId());
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("kvasir-cpu-")) ids.add(t.threadId());
        }
        assertEquals(backend.threads(), ids.size(), "the caller and every CPU worker are counted");
        return ids.stream().mapToLong(Long::longValue).toArray();
    }

    private static long total(long[] bytes) {
        long sum = 0;
        for (long b : bytes) {
            assertTrue(b >= 0, "per-thread allocation counting is supported by this JVM");
            sum += b;
        }
        return sum;
    }
}
