package dev.kvasir.models.cuda;

import dev.kvasir.kernels.cuda.CudaBackend;
import dev.kvasir.kernels.cuda.CudaTestSupport;
import dev.kvasir.models.ForwardBatch;
import dev.kvasir.models.LlamaModel;
import dev.kvasir.models.ModelLocator;
import dev.kvasir.models.SequenceChunk;
import dev.kvasir.models.Steps;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.models.sampling.Sampler;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The block manager's two ways of sharing KV, on the GPU (stories260K, greedy, 16-token blocks): a
 * prefix-cache hit (a second sequence's table starts with the first's full blocks and it computes
 * only the rest) and a copy-on-write fork (the fork shares the full blocks and gets a copy of the
 * partial one, made by the backend's block copy in the step that first writes it) give the same
 * tokens as sequences computed alone. Skips, with the reason, without a GPU.
 */
class CudaForkAndPrefixTest {

    private static final int BLOCK = 16;
    private static final int STEPS = 40;
    private static LoadedModel loaded;
    private static CudaBackend backend;
    private static LlamaModel model;

    @BeforeEach
    void start() {
        CudaTestSupport.requireCuda();
        if (model == null) {
            loaded = ModelLoader.load(ModelLocator.testModel("stories260K.gguf"));
            backend = new CudaBackend();
            model = LlamaModel.create(loaded.config(), loaded.weights(), backend, 128, BLOCK, 0);
        }
    }

    @AfterAll
    static void stop() {
        if (model != null) model.close();
        if (backend != null) backend.close();
        if (loaded != null) loaded.close();
    }

    private static int[] prompt(long seed, int length) {
        int[] p = new Random(seed).ints(length, 3, loaded.config().vocabSize()).toArray();
        p[0] = 1; // BOS
        return p;
    }

    /** Prefill of {@code prompt} into {@code table}, then {@code STEPS} greedy tokens. */
    private static int[] alone(int[] prompt, int[] table) {
        float[] logits = Steps.run(model, prompt, 0, table, BLOCK);
        return Steps.greedyFrom(model, logits, prompt.length, STEPS, table, BLOCK);
    }

    @Test
    void prefixCacheHitGivesTheSameTokens() {
        int[] p = prompt(2, 45); // blocks 0 and 1 full, 13 positions in block 2
        int[] first = {0, 1, 2, 3, 4, 5};
        int[] recomputed = alone(p, Steps.table(20, 6));
        assertArrayEquals(recomputed, alone(p, first), "two sequences computed alone");
        // A second sequence finds the first's two full blocks cached and computes positions 32.. only.
        int[] hit = {0, 1, 40, 41, 42, 43};
        float[] logits = Steps.run(model, Arrays.copyOfRange(p, 32, p.length), 32, hit, BLOCK);
        int[] fromCache = Steps.greedyFrom(model, logits, p.length, STEPS, hit, BLOCK);
        assertArrayEquals(recomputed, fromCache, "tokens after a prefix-cache hit");
    }

    @Test
    void copyOnWriteForkGivesTheSameTokens() {
        int[] p = prompt(6, 37); // blocks 60, 61 full; block 62 holds positions 32..36
        int[] parent = {60, 61, 62, 63, 64, 65};
        float[] logits = Steps.run(model, p, 0, parent, BLOCK);
        int next = Sampler.argmax(logits);
        int other = next == 3 ? 4 : 3;
        // The fork shares 60, 61 and gets a copy of the partial block 62 as 70; the parent goes on in 62.
        int[] fork = {60, 61, 70, 71, 72, 73};
        int[] forkTokens = new int[STEPS], parentTokens = new int[STEPS];
        forkTokens[0] = next;
        parentTokens[0] = other;
        for (int s = 1; s < STEPS; s++) {
            int pos = p.length + s - 1;
            SequenceChunk a = Steps.chunk(1, new int[] {parentTokens[s - 1]}, pos, parent, BLOCK);
            SequenceChunk b = Steps.chunk(2, new int[] {forkTokens[s - 1]}, pos, fork, BLOCK);
            ForwardBatch step = s == 1 ? new ForwardBatch(List.of(a, b), new int[] {62}, new int[] {70})
                    : new ForwardBatch(List.of(a, b));
            float[][] out = model.forward(step);
            parentTokens[s] = Sampler.argmax(out[0]);
            forkTokens[s] = Sampler.argmax(out[1]);
        }
        assertArrayEquals(alone(p, Steps.table(80, 6)), forkTokens, "the fork's tokens");

        // The parent, which took another first token, equals that sequence computed alone.
        int[] withOther = Arrays.copyOf(p, p.length + 1);
        withOther[p.length] = other;
        int[] table = Steps.table(90, 6);
        float[] l = Steps.run(model, withOther, 0, table, BLOCK);
        int[] expectedParent = new int[STEPS];
        expectedParent[0] = other;
        System.arraycopy(Steps.greedyFrom(model, l, withOther.length, STEPS - 1, table, BLOCK), 0, expectedParent, 1, STEPS - 1);
        assertArrayEquals(expectedParent, parentTokens, "the parent's tokens");
    }
}
