package dev.kvasir.models;

/**
 * What one tensor-parallel rank holds of a model ({@link ShardPlan}): query heads
 * {@code [firstHead, firstHead + heads)}, KV heads {@code [firstKvHead, firstKvHead + kvHeads)}
 * (the same KV head on several ranks when the model has fewer KV heads than ranks), feed-forward
 * columns {@code [ffnFrom, ffnTo)} and LM head rows {@code [vocabFrom, vocabTo)} (none on a rank
 * that computes no logits).
 */
public record RankShard(int rank, int worldSize, int firstHead, int heads, int firstKvHead, int kvHeads,
                        int ffnFrom, int ffnTo, int vocabFrom, int vocabTo) {

    /** Everything: the single rank of a model that is not split. */
    public static RankShard whole(LlamaConfig c) {
        return new RankShard(0, 1, 0, c.numHeads(), 0, c.numKvHeads(), 0, c.ffnDim(), 0, c.vocabSize());
    }

    public int ffnDim() {
        return ffnTo - ffnFrom;
    }

    public int vocabRows() {
        return vocabTo - vocabFrom;
    }

    /**
     * The config this rank's layers compute with: its own query heads, KV heads and feed-forward
     * size (the model's dim, head size and vocabulary stay; so do the rest).
     */
    public LlamaConfig local(LlamaConfig c) {
        if (worldSize == 1) return c;
        return new LlamaConfig(c.dim(), c.numLayers(), heads, kvHeads, c.headDim(), ffnDim(), c.vocabSize(),
                c.contextLength(), c.rmsEps(), c.ropeTheta(), c.ropeScaling(), c.ropeStyle(), c.tiedEmbeddings(),
                c.bosId(), c.eosId(), c.eotId());
    }
}
