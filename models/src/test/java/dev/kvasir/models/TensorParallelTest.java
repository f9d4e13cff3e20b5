package dev.kvasir.models;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.models.loader.RandomModelMaker;
import dev.kvasir.models.sampling.Sampler;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tensor parallelism on the CPU: a model split over N ranks (each a CpuBackend of one worker,
 * joined by the in-process all-reduce) computes what the unsplit model computes. Greedy tokens are
 * equal and logits agree to float rounding (only the order in which the ranks' partial sums are
 * added differs), for stories260K and for random models with the head / KV-head ratios of
 * SmolLM2-135M (3:1), TinyLlama-1.1B (8:1) and Llama-3-70B (8 KV heads on 16 ranks), in tiny sizes:
 * KV heads split, and replicated where the ranks outnumber them.
 */
class TensorParallelTest {

    private static final int BLOCK = 16;
    private static final int STEPS = 12;
    /** f32 weights: the ranks' sums differ from one matmul's only by the order of additions. */
    private static final double F32_TOLERANCE = 2e-5;

    @TempDir
    Path dir;

    /** What a model computes: the prompt's logits, then greedy tokens, plus a two-sequence batch's logits. */
    private record Run(float[] promptLogits, int[] tokens, float[][] batchLogits) {}

    private static Run run(LoadedModel loaded, int ranks, int[] prompt, int[] other) {
        LlamaConfig c = loaded.config();
        int perSeq = (prompt.length + STEPS + other.length + BLOCK) / BLOCK + 1;
        try (Ranks r = Backends.create("cpu", ranks, ranks);
             LlamaModel m = LlamaModel.create(c, loaded.weights(), r, ShardPlan.of(c, ranks), 2 * perSeq, BLOCK, 0)) {
            assertEquals(ranks, m.tensorParallelSize());
            int[] table = Steps.table(0, perSeq);
            float[] logits = Steps.run(m, prompt, 0, table, BLOCK);
            int[] tokens = Steps.greedyFrom(m, logits, prompt.length, STEPS, table, BLOCK);
            // Two sequences in one step: a prefill chunk and a decode token, through their own block tables.
            int[] second = Steps.table(perSeq, perSeq);
            int last = tokens[STEPS - 1];
            float[][] rows = m.forward(new ForwardBatch(List.of(
                    Steps.chunk(7, other, 0, second, BLOCK),
                    Steps.chunk(0, new int[] {last}, prompt.length + STEPS - 1, table, BLOCK))));
            return new Run(logits, tokens, new float[][] {rows[0].clone(), rows[1].clone()});
        }
    }

    private static void assertSame(Run expected, Run actual, String what, double tolerance) {
        assertTrue(Steps.relativeError(actual.promptLogits(), expected.promptLogits()) < tolerance,
                what + ": prompt logits differ by " + Steps.relativeError(actual.promptLogits(), expected.promptLogits()));
        assertArrayEquals(expected.tokens(), actual.tokens(), what + ": greedy tokens");
        for (int i = 0; i < 2; i++) {
            double e = Steps.relativeError(actual.batchLogits()[i], expected.batchLogits()[i]);
            assertTrue(e < tolerance, what + ": batch row " + i + " logits differ by " + e);
        }
    }

    /** TP = 1 first, then each size against it. */
    private static void assertSplitsAgree(LoadedModel loaded, double tolerance, int... sizes) {
        int[] prompt = {1, 5, 9, 14, 3, 77, 21, 8, 40, 2, 61, 33, 90, 4, 12, 18, 7, 55, 6};
        int[] other = {1, 30, 31, 32, 100, 101};
        Run single = run(loaded, 1, prompt, other);
        for (int n : sizes) assertSame(single, run(loaded, n, prompt, other), "TP " + n, tolerance);
    }

    private LoadedModel random(String name, int dim, int heads, int kvHeads, int ffn, boolean tied, GgmlType type) {
        Path file = dir.resolve(name + ".gguf");
        RandomModelMaker.make(new RandomModelMaker.Shape(name, dim, 2, heads, kvHeads, ffn, 512, 10000f, 256, true, tied),
                type, 11, file);
        return ModelLoader.load(file);
    }

    @Test
    void stories260kIsTheSameOnTwoAndFourRanks() {
        try (LoadedModel m = ModelLoader.load(ModelLocator.testModel("stories260K.gguf"))) {
            assertEquals(8, m.config().numHeads());
            assertEquals(4, m.config().numKvHeads());
            // 4 ranks: one KV head each.
            assertSplitsAgree(m, F32_TOLERANCE, 2, 4);
        }
    }

    @Test
    void smolShapedModelsSplitTheirKvHeadsOrReplicateThem() {
        // SmolLM2-135M's own head counts (9 query heads, 3 KV heads): 3 ranks split the KV heads, 9 replicate each 3 times.
        try (LoadedModel m = random("smol-heads", 72, 9, 3, 144, true, GgmlType.F32)) {
            assertSplitsAgree(m, F32_TOLERANCE, 3, 9);
        }
        // The same 3:1 ratio with counts that 2 and 4 divide.
        try (LoadedModel m = random("smol-ratio", 96, 12, 4, 192, true, GgmlType.F32)) {
            assertSplitsAgree(m, F32_TOLERANCE, 2, 4);
        }
    }

    @Test
    void tinyLlamaShapedModelReplicatesItsFourKvHeadsOverEightRanks() {
        // TinyLlama-1.1B's 32 query heads over 4 KV heads: split on 2 and 4 ranks, each KV head on 2 ranks at 8.
        try (LoadedModel m = random("tiny1b-ratio", 128, 32, 4, 256, false, GgmlType.F32)) {
            assertSplitsAgree(m, F32_TOLERANCE, 2, 4, 8);
        }
    }

    @Test
    void eightKvHeadsOnSixteenRanks() {
        // Llama-3-70B's 8 KV heads on 16 ranks: ranks 2k and 2k + 1 share KV head k, each for its own query heads.
        try (LoadedModel m = random("kv8", 128, 16, 8, 256, false, GgmlType.F32)) {
            ShardPlan plan = ShardPlan.of(m.config(), 16);
            assertEquals(3, plan.rank(6).firstKvHead());
            assertEquals(3, plan.rank(7).firstKvHead());
            assertEquals(1, plan.rank(7).kvHeads());
            assertSplitsAgree(m, F32_TOLERANCE, 16);
        }
    }

    @Test
    void q8ModelSplitsOnBlockBoundaries() {
        // Row-parallel O and down take 64 and 32 input columns per rank at 2 and 4 ranks: whole Q8_0 blocks.
        try (LoadedModel m = random("q8", 128, 8, 2, 128, false, GgmlType.Q8_0)) {
            assertSplitsAgree(m, 1e-4, 2, 4);
            // 8 ranks would give O 16 columns each: half a block.
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ShardPlan.of(m.config(), 8).requireSplittable(m.weights()));
            assertEquals("--tensor-parallel-size 8 cannot split tensor blk.0.attn_output.weight: it is Q8_0, stored in blocks"
                    + " of 32 values, and each rank would take 16 of its 128 input columns, not a whole number of blocks; use a"
                    + " smaller --tensor-parallel-size or a model file with F16, BF16 or Q8_0 weights", e.getMessage());
        }
    }

    @Test
    void theLmHeadOnRankZeroGivesTheSameLogits() {
        try (LoadedModel m = ModelLoader.load(ModelLocator.testModel("stories260K.gguf"))) {
            LlamaConfig c = m.config();
            int[] prompt = {1, 403, 407, 261, 378};
            List<float[]> logits = new ArrayList<>();
            for (ShardPlan plan : List.of(ShardPlan.single(c), ShardPlan.of(c, 2, ShardPlan.LmHead.VOCAB_PARALLEL),
                    ShardPlan.of(c, 2, ShardPlan.LmHead.RANK_0))) {
                try (Ranks r = Backends.create("cpu", plan.worldSize(), plan.worldSize());
                     LlamaModel model = LlamaModel.create(c, m.weights(), r, plan, 4, BLOCK, 0)) {
                    logits.add(Steps.run(model, prompt, 0, Steps.table(0, 4), BLOCK));
                }
            }
            assertEquals(Sampler.argmax(logits.get(0)), Sampler.argmax(logits.get(1)));
            assertEquals(Sampler.argmax(logits.get(0)), Sampler.argmax(logits.get(2)));
            assertTrue(Steps.relativeError(logits.get(1), logits.get(0)) < F32_TOLERANCE);
            // The same ranks, only the LM head placed differently: the same row dots (to the JIT's
            // lane-reduction order, which may change between compilation tiers).
            assertTrue(Steps.relativeError(logits.get(2), logits.get(1)) < 1e-6);
        }
    }

    @Test
    void swappingMovesEveryRanksBlocksOutAndBack() {
        try (LoadedModel loaded = ModelLoader.load(ModelLocator.testModel("stories260K.gguf"))) {
            LlamaConfig c = loaded.config();
            int[] prompt = {1, 403, 407, 261, 378, 260, 415, 31, 305, 290, 311, 280, 300, 301, 302, 303, 304, 306};
            try (Ranks r = Backends.create("cpu", 2, 2);
                 LlamaModel m = LlamaModel.create(c, loaded.weights(), r, ShardPlan.of(c, 2), 4, BLOCK, 2)) {
                int[] table = {0, 1};
                float[] logits = Steps.run(m, prompt, 0, table, BLOCK);
                float[] expected = Steps.run(m, new int[] {Sampler.argmax(logits)}, prompt.length, table, BLOCK);
                // Out to host blocks 0 and 1, the device blocks overwritten by another sequence, then back into blocks 2 and 3.
                m.swapOut(new int[] {0, 1}, new int[] {1, 0});
                Steps.run(m, new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, 0, table, BLOCK);
                m.swapIn(new int[] {1, 0}, new int[] {2, 3});
                float[] after = Steps.run(m, new int[] {Sampler.argmax(logits)}, prompt.length, new int[] {2, 3}, BLOCK);
                assertTrue(Steps.relativeError(after, expected) < 1e-6, "the same K and V on both ranks, so the same logits");
                // What the overwritten blocks hold now is another sequence's: the check above can fail.
                float[] overwritten = Steps.run(m, new int[] {Sampler.argmax(logits)}, prompt.length, table, BLOCK);
                assertTrue(Steps.relativeError(overwritten, expected) > 1e-3);
            }
        }
    }
}
