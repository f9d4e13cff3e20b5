package dev.kvasir.models;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.WeightTensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * How a Llama model splits over the tensor-parallel ranks of one node, Megatron-style, decided
 * before any weight is loaded so that a size that cannot work stops at once with the reason.
 * <ul>
 * <li>Attention: each rank takes {@code numHeads / N} query heads (Q rows, column-parallel) and the
 *     same heads' columns of the output projection (row-parallel: its partial sums are added by an
 *     all-reduce). KV heads are split {@code numKvHeads / N} per rank when N divides them, and
 *     replicated when the model has fewer KV heads than ranks (GQA: with 8 KV heads on 16 ranks,
 *     ranks 2k and 2k + 1 both hold KV head k, each for its own query heads of k's group).</li>
 * <li>MLP: gate and up split by rows (column-parallel), down by the same columns (row-parallel,
 *     then the all-reduce). A row-parallel split cuts the input dimension, which must fall on the
 *     weight type's block boundaries (32 values for Q8_0/Q4_0, 256 for the K-quants).</li>
 * <li>The token embedding is replicated: a lookup is a row copy with nothing to share out, and a
 *     vocab-parallel one would add an all-reduce per step. The LM head is {@link LmHead#VOCAB_PARALLEL}
 *     by default: each rank computes the logits of its slice of the vocabulary and writes them
 *     into the shared host row, so no collective is needed (the alternative, {@link LmHead#RANK_0},
 *     was measured against it: bench {@code TensorParallelBench}).</li>
 * </ul>
 */
public record ShardPlan(LlamaConfig config, LmHead lmHead, List<RankShard> ranks) {

    /** Where the logits are computed. */
    public enum LmHead {
        /** Each rank computes the rows of its slice of the vocabulary. */
        VOCAB_PARALLEL,
        /** Rank 0 computes every row; the other ranks hold no LM head. */
        RANK_0
    }

    public ShardPlan {
        ranks = List.copyOf(ranks);
    }

    /** The whole model on one rank. */
    public static ShardPlan single(LlamaConfig c) {
        return new ShardPlan(c, LmHead.VOCAB_PARALLEL, List.of(RankShard.whole(c)));
    }

    public static ShardPlan of(LlamaConfig c, int worldSize) {
        return of(c, worldSize, LmHead.VOCAB_PARALLEL);
    }

    /**
     * @throws IllegalArgumentException naming {@code --tensor-parallel-size} and the model dimension
     *                                  it does not divide
     */
    public static ShardPlan of(LlamaConfig c, int n, LmHead lmHead) {
        if (n < 1) throw new IllegalArgumentException("--tensor-parallel-size must be at least 1, got " + n);
        if (n == 1) return single(c);
        int heads = c.numHeads(), kv = c.numKvHeads();
        if (heads % n != 0) {
            throw new IllegalArgumentException("--tensor-parallel-size " + n + " does not divide the model's " + heads
                    + " attention heads; use one that does (" + divisors(heads) + ")");
        }
        if (kv % n != 0 && n % kv != 0) {
            throw new IllegalArgumentException("--tensor-parallel-size " + n + " can neither split the model's " + kv
                    + " KV heads evenly nor replicate them evenly (" + n + " is not a multiple of " + kv + ")");
        }
        if (c.ffnDim() % n != 0) {
            throw new IllegalArgumentException("--tensor-parallel-size " + n + " does not divide the model's feed-forward size "
                    + c.ffnDim());
        }
        int qPer = heads / n, kvPer = Math.max(1, kv / n), ffnPer = c.ffnDim() / n, vocab = c.vocabSize();
        List<RankShard> ranks = new ArrayList<>(n);
        for (int r = 0; r < n; r++) {
            int firstKv = kv >= n ? r * kvPer : r / (n / kv);
            int vocabFrom = lmHead == LmHead.RANK_0 ? 0 : (int) ((long) r * vocab / n);
            int vocabTo = lmHead == LmHead.RANK_0 ? (r == 0 ? vocab : 0) : (int) ((long) (r + 1) * vocab / n);
            ranks.add(new RankShard(r, n, r * qPer, qPer, firstKv, kvPer, r * ffnPer, (r + 1) * ffnPer, vocabFrom, vocabTo));
        }
        return new ShardPlan(c, lmHead, ranks);
    }

    /**
     * Checks that every row-parallel split falls on its weight's block boundaries, for the weights
     * of {@code weights}.
     *
     * @throws IllegalArgumentException naming the tensor, its type and the split
     */
    public ShardPlan requireSplittable(ModelWeights weights) {
        return requireSplittable(name -> {
            WeightTensor t = weights.find(name);
            return t == null ? null : t.type();
        });
    }

    /** {@link #requireSplittable(ModelWeights)} for weights known by their types only (the capacity planner). */
    public ShardPlan requireSplittable(Function<String, GgmlType> typeOf) {
        if (worldSize() == 1) return this;
        int hd = config.headDim();
        int oCols = ranks.get(0).heads() * hd, downCols = ranks.get(0).ffnDim();
        for (int l = 0; l < config.numLayers(); l++) {
            requireBlocks(typeOf, "blk." + l + ".attn_output.weight", config.qDim(), oCols);
            requireBlocks(typeOf, "blk." + l + ".ffn_down.weight", config.ffnDim(), downCols);
        }
        return this;
    }

    private void requireBlocks(Function<String, GgmlType> typeOf, String name, int cols, int perRank) {
        GgmlType type = typeOf.apply(name);
        if (type == null || perRank % type.blockSize == 0) return;
        throw new IllegalArgumentException("--tensor-parallel-size " + worldSize() + " cannot split tensor " + name + ": it is "
                + type + ", stored in blocks of " + type.blockSize + " values, and each rank would take " + perRank + " of its "
                + cols + " input columns, not a whole number of blocks; use a smaller --tensor-parallel-size or a model"
                + " file with F16, BF16 or Q8_0 weights");
    }

    public int worldSize() {
        return ranks.size();
    }

    public RankShard rank(int r) {
        return ranks.get(r);
    }

    /** Bytes of K and V, all layers, that one block of {@code blockSize} tokens takes on rank {@code r}. */
    public long kvBytesPerBlock(int r, int blockSize, int elementBytes) {
        return 2L * config.numLayers() * blockSize * ranks.get(r).kvHeads() * config.headDim() * elementBytes;
    }

    /** The same over every rank (replicated KV heads count once per rank that holds them). */
    public long kvBytesPerBlock(int blockSize, int elementBytes) {
        long sum = 0;
        for (int r = 0; r < ranks.size(); r++) sum += kvBytesPerBlock(r, blockSize, elementBytes);
        return sum;
    }

    private static String divisors(int n) {
        StringBuilder s = new StringBuilder();
        for (int d = 1; d <= n; d++) {
            if (n % d == 0) s.append(s.isEmpty() ? "" : ", ").append(d);
        }
        return s.toString();
    }
}
