package dev.kvasir.models;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.cpu.CpuBackend;
import dev.kvasir.kernels.cpu.KvStorage;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.models.sampling.Sampler;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * How a sequence's K/V are paged and what shares its step must not change its logits: paged vs
 * contiguous blocks, prefix-cache hits, chunked prefill, batches of mixed prefill and decode,
 * copy-on-write block copies and swapping. On stories260K (a real model: greedy tokens mean something).
 * Logits are compared to 1e-6 relative, not bit for bit: the kernels keep one summation order
 * whatever the batch, but a method still running interpreted (Vector API fallbacks) can round
 * a lane reduction or an exp differently from its compiled form.
 */
class BatchingTest {

    private static final int BLOCK = 4;
    private static final int BLOCKS = 256;
    private static LoadedModel loaded;
    private static CpuBackend backend;
    private static LlamaModel model;

    @BeforeAll
    static void load() {
        loaded = ModelLoader.load(ModelLocator.testModel("stories260K.gguf"));
        backend = new CpuBackend(2);
        model = LlamaModel.create(loaded.config(), loaded.weights(), backend, BLOCKS, BLOCK, 16);
    }

    @AfterAll
    static void close() {
        model.close();
        backend.close();
        loaded.close();
    }

    private static int[] prompt(long seed, int length) {
        int[] p = new Random(seed).ints(length, 3, loaded.config().vocabSize()).toArray();
        p[0] = 1; // BOS
        return p;
    }

    /** Blocks {@code first, first + 1, ...}: a contiguous table. */
    private static int[] table(int first, int count) {
        int[] t = new int[count];
        for (int i = 0; i < count; i++) t[i] = first + i;
        return t;
    }

    /** Prefill then greedy decode of {@code steps} tokens under {@code table}; the logits of every step. */
    private static List<float[]> greedy(int[] prompt, int steps, int[] table) {
        List<float[]> all = new ArrayList<>();
        float[] logits = Steps.run(model, prompt, 0, table, BLOCK);
        all.add(logits);
        for (int s = 0, pos = prompt.length; s < steps; s++, pos++) {
            logits = Steps.run(model, new int[] {Sampler.argmax(logits)}, pos, table, BLOCK);
            all.add(logits);
        }
        return all;
    }

    @Test
    void pagedBlocksGiveTheSameLogitsAsContiguous() {
        int[] p = prompt(1, 30);
        List<float[]> contiguous = greedy(p, 12, table(0, 11));
        int[] scattered = {200, 3, 151, 77, 9, 250, 42, 18, 120, 64, 5};
        List<float[]> paged = greedy(p, 12, scattered);
        for (int i = 0; i < contiguous.size(); i++) {
            assertTrue(Steps.relativeError(paged.get(i), contiguous.get(i)) < 1e-6, "step " + i);
        }
    }

    @Test
    void prefixCacheHitEqualsRecompute() {
        int[] p = prompt(2, 26);
        float[] recomputed = Steps.run(model, p, 0, table(0, 7), BLOCK);
        // A second sequence finds the first four blocks (16 positions) cached and computes only the rest.
        int[] hit = {0, 1, 2, 3, 100, 101, 102};
        float[] fromCache = Steps.run(model, Arrays.copyOfRange(p, 16, p.length), 16, hit, BLOCK);
        assertTrue(Steps.relativeError(fromCache, recomputed) < 1e-6, "prefix hit vs recompute");
        assertEquals(Sampler.argmax(recomputed), Sampler.argmax(fromCache));
    }

    @Test
    void chunkedPrefillEqualsOneShot() {
        int[] p = prompt(3, 37);
        int[] t = table(0, 16);
        List<float[]> oneShot = greedy(p, 20, t);
        // Chunks of 16, 16 and 5 into other blocks, then the same greedy decode.
        int[] t2 = table(20, 16);
        Steps.run(model, Arrays.copyOfRange(p, 0, 16), 0, t2, BLOCK);
        Steps.run(model, Arrays.copyOfRange(p, 16, 32), 16, t2, BLOCK);
        float[] logits = Steps.run(model, Arrays.copyOfRange(p, 32, 37), 32, t2, BLOCK);
        assertTrue(Steps.relativeError(logits, oneShot.get(0)) < 1e-6, "logits after the prompt");
        for (int s = 0, pos = p.length; s < 20; s++, pos++) {
            int next = Sampler.argmax(logits);
            assertEquals(Sampler.argmax(oneShot.get(s)), next, "token " + s);
            logits = Steps.run(model, new int[] {next}, pos, t2, BLOCK);
        }
    }

    @Test
    void eightSequencesBatchedMatchEachAlone() {
        int n = 8, steps = 24;
        int[][] prompts = new int[n][];
        int[][] alone = new int[n][steps];
        for (int i = 0; i < n; i++) {
            prompts[i] = prompt(10 + i, 3 + 3 * i);
            List<float[]> l = greedy(prompts[i], steps - 1, table(0, 16));
            for (int s = 0; s < steps; s++) alone[i][s] = Sampler.argmax(l.get(s));
        }
        // Sequence i joins at step i: its prefill chunk shares steps with the others' decode tokens.
        int[][] batched = new int[n][steps];
        int[] produced = new int[n];
        int[] pos = new int[n];
        for (int step = 0; produced[n - 1] < steps; step++) {
            List<SequenceChunk> chunks = new ArrayList<>();
            List<Integer> who = new ArrayList<>();
            for (int i = 0; i < n && i <= step; i++) {
                if (produced[i] == steps) continue;
                int[] table = table(i * 16, 16);
                int[] tokens = i == step ? prompts[i] : new int[] {batched[i][produced[i] - 1]};
                chunks.add(new SequenceChunk(i, tokens, pos[i], Steps.slots(table, BLOCK, pos[i], tokens.length), table, true));
                who.add(i);
                pos[i] += tokens.length;
            }
            float[][] logits = model.forward(new ForwardBatch(chunks));
            assertEquals(chunks.size(), logits.length);
            for (int k = 0; k < logits.length; k++) {
                int i = who.get(k);
                batched[i][produced[i]++] = Sampler.argmax(logits[k]);
            }
        }
        for (int i = 0; i < n; i++) assertArrayEquals(alone[i], batched[i], "sequence " + i);
    }

    @Test
    void onlyChunksThatWantLogitsGetThem() {
        int[] a = prompt(4, 9), b = prompt(5, 6);
        SequenceChunk first = new SequenceChunk(1, a, 0, Steps.slots(table(0, 4), BLOCK, 0, a.length), table(0, 4), false);
        SequenceChunk second = new SequenceChunk(2, b, 0, Steps.slots(table(10, 4), BLOCK, 0, b.length), table(10, 4), true);
        float[][] logits = model.forward(new ForwardBatch(List.of(first, second)));
        assertEquals(1, logits.length);
        float[] got = logits[0].clone(); // the model's row is overwritten by the next step
        assertTrue(Steps.relativeError(got, Steps.run(model, b, 0, table(20, 4), BLOCK)) < 1e-6);
    }

    @Test
    void copyOnWriteBlockCopyGivesTheForkTheParentsContext() {
        int[] p = prompt(6, 10); // positions 0..9: blocks 30, 31 full, block 32 holds positions 8, 9
        int[] parent = {30, 31, 32};
        float[] logits = Steps.run(model, p, 0, parent, BLOCK);
        int next = Sampler.argmax(logits);
        // The fork appends into its own copy of the shared partial block; the parent writes on in block 32.
        int[] fork = {30, 31, 40};
        SequenceChunk forkStep = new SequenceChunk(2, new int[] {next}, 10, new int[] {40 * BLOCK + 2}, fork, true);
        SequenceChunk parentStep = new SequenceChunk(1, new int[] {(next + 1) % 500 + 3}, 10, new int[] {32 * BLOCK + 2}, parent, true);
        float[] forked = model.forward(new ForwardBatch(List.of(parentStep, forkStep), new int[] {32}, new int[] {40}))[1].clone();
        int[] full = Arrays.copyOf(p, 11);
        full[10] = next;
        float[] expected = Steps.run(model, full, 0, table(50, 3), BLOCK);
        assertTrue(Steps.relativeError(forked, expected) < 1e-6, "fork after copy-on-write");
    }

    @Test
    void swappedOutAndInBlocksResumeTheSequence() {
        int[] p = prompt(7, 12);
        List<float[]> uninterrupted = greedy(p, 6, table(60, 5));
        int[] gpu = {70, 71, 72};
        float[] logits = Steps.run(model, p, 0, gpu, BLOCK);
        model.swapOut(gpu, new int[] {5, 6, 7});
        Steps.run(model, prompt(8, 12), 0, gpu, BLOCK); // someone else takes the blocks meanwhile
        int[] back = {90, 91, 92, 93, 94};
        model.swapIn(new int[] {5, 6, 7}, new int[] {90, 91, 92});
        for (int s = 0, pos = p.length; s < 6; s++, pos++) {
            assertEquals(Sampler.argmax(uninterrupted.get(s)), Sampler.argmax(logits), "token " + s);
            logits = Steps.run(model, new int[] {Sampler.argmax(logits)}, pos, back, BLOCK);
            assertTrue(Steps.relativeError(logits, uninterrupted.get(s + 1)) < 1e-6, "logits " + s);
        }
    }

    /**
     * Q8_0 or Q4_0 matrices on int8 activations: a sequence's decode token gives the same logits alone
     * (the one-token integer kernel), beside another decode token (the few-token one) and beside
     * another sequence's 12-token prefill chunk (the prefill tiles). stories260K with every matrix
     * whose rows are whole blocks requantized.
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0"})
    void int8ActivationPathsGiveTheSameLogits(GgmlType type) {
        try (TinyModels.Weights w = TinyModels.requantized(loaded.weights(), type);
             CpuBackend b = new CpuBackend(2, KvStorage.F32, true);
             LlamaModel m = LlamaModel.create(loaded.config(), w, b, BLOCKS, BLOCK, 0)) {
            int[] a = prompt(11, 7), other = prompt(12, 12);
            int next = Sampler.argmax(Steps.run(m, a, 0, table(0, 4), BLOCK));
            SequenceChunk decode = new SequenceChunk(1, new int[] {next}, a.length, Steps.slots(table(0, 4), BLOCK, a.length, 1), table(0, 4), true);
            SequenceChunk otherDecode = new SequenceChunk(2, new int[] {5}, 0, Steps.slots(table(10, 4), BLOCK, 0, 1), table(10, 4), true);
            SequenceChunk prefill = new SequenceChunk(3, other, 0, Steps.slots(table(20, 4), BLOCK, 0, other.length), table(20, 4), true);
            ForwardBatch[] steps = {new ForwardBatch(List.of(decode)), new ForwardBatch(List.of(decode, otherDecode)),
                    new ForwardBatch(List.of(decode, prefill))};
            // Bit for bit, once the kernels are compiled (the Vector API's interpreted fallbacks
            // may reduce lanes in another order): the steps rewrite the same K/V slots each time.
            for (int i = 0; i < 300; i++) m.forward(steps[i % 3]);
            float[] alone = m.forward(steps[0])[0].clone();
            assertArrayEquals(alone, m.forward(steps[1])[0], "beside a decode token");
            assertArrayEquals(alone, m.forward(steps[2])[0], "beside a prefill chunk");
        }
    }
}
