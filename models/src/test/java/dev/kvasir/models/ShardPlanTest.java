package dev.kvasir.models;

import dev.kvasir.kernels.GgmlType;
import org.junit.jupiter.api.Test;

import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** How a model splits over N ranks, and the sizes that cannot work refused with the reason. */
class ShardPlanTest {

    private static LlamaConfig config(int heads, int kvHeads, int ffn) {
        return new LlamaConfig(heads * 128, 2, heads, kvHeads, 128, ffn, 1000, 8192, 1e-5f, 500000f, null,
                LlamaConfig.RopeStyle.NORMAL, false, 1, 2, -1);
    }

    @Test
    void headsAndColumnsAreContiguousRangesPerRank() {
        ShardPlan p = ShardPlan.of(config(32, 8, 14336), 4);
        RankShard r2 = p.rank(2);
        assertEquals(16, r2.firstHead());
        assertEquals(8, r2.heads());
        assertEquals(4, r2.firstKvHead());
        assertEquals(2, r2.kvHeads());
        assertEquals(7168, r2.ffnFrom());
        assertEquals(10752, r2.ffnTo());
        // The vocabulary splits unevenly where it must: 1000 rows over 4 ranks, all of them once.
        assertEquals(500, r2.vocabFrom());
        assertEquals(750, r2.vocabTo());
        assertEquals(1000, p.rank(3).vocabTo());
        // K and V of 2 of the 8 KV heads per rank: a quarter of the single rank's KV bytes each.
        assertEquals(ShardPlan.single(p.config()).kvBytesPerBlock(0, 16, 2) / 4, p.kvBytesPerBlock(2, 16, 2));
    }

    @Test
    void fewerKvHeadsThanRanksAreReplicatedToTheirQueryHeads() {
        LlamaConfig c = config(64, 8, 28672);
        ShardPlan p = ShardPlan.of(c, 16);
        int group = c.numHeads() / c.numKvHeads();
        for (int r = 0; r < 16; r++) {
            RankShard s = p.rank(r);
            assertEquals(1, s.kvHeads());
            // Every query head of the rank reads the KV head it reads unsplit.
            for (int h = s.firstHead(); h < s.firstHead() + s.heads(); h++) assertEquals(h / group, s.firstKvHead(), "rank " + r);
        }
        // Replicated heads are paid for on every rank that holds them: twice the single rank's KV bytes in all.
        assertEquals(2 * ShardPlan.single(c).kvBytesPerBlock(16, 2), p.kvBytesPerBlock(16, 2));
    }

    @Test
    void sizesThatCannotWorkAreRefusedNamingTheNumbers() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ShardPlan.of(config(32, 8, 14336), 3));
        assertEquals("--tensor-parallel-size 3 does not divide the model's 32 attention heads; use one that does"
                + " (1, 2, 4, 8, 16, 32)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ShardPlan.of(config(24, 8, 9216), 12));
        assertEquals("--tensor-parallel-size 12 can neither split the model's 8 KV heads evenly nor replicate them evenly"
                + " (12 is not a multiple of 8)", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ShardPlan.of(config(32, 8, 1000), 16));
        assertEquals("--tensor-parallel-size 16 does not divide the model's feed-forward size 1000", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ShardPlan.of(config(32, 8, 14336), 0));
    }

    @Test
    void kQuantSuperBlocksBoundTheInputColumnSplit() {
        // TinyLlama's feed-forward size 5632 over 8 ranks: 704 input columns of down each, not whole 256-value Q4_K blocks.
        LlamaConfig c = new LlamaConfig(2048, 2, 32, 4, 64, 5632, 32000, 2048, 1e-5f, 10000f, null,
                LlamaConfig.RopeStyle.NORMAL, false, 1, 2, -1);
        Function<String, GgmlType> kQuants = name -> name.contains("ffn_down") ? GgmlType.Q4_K : GgmlType.Q8_0;
        ShardPlan.of(c, 2).requireSplittable(kQuants);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ShardPlan.of(c, 8).requireSplittable(kQuants));
        assertEquals("--tensor-parallel-size 8 cannot split tensor blk.0.ffn_down.weight: it is Q4_K, stored in blocks of 256"
                + " values, and each rank would take 704 of its 5632 input columns, not a whole number of blocks; use a smaller"
                + " --tensor-parallel-size or a model file with F16, BF16 or Q8_0 weights", e.getMessage());
        // Q8_0's 32-value blocks divide 704.
        ShardPlan.of(c, 8).requireSplittable(name -> GgmlType.Q8_0);
    }
}
