package dev.kvasir.models;

/**
 * Hyperparameters of a Llama-family model, read from GGUF metadata ({@code llama.*}) or a Hugging
 * Face {@code config.json}. The loaders fill it; the forward pass reads it.
 *
 * @param dim              embedding size (hidden_size)
 * @param numLayers        transformer blocks
 * @param numHeads         query heads
 * @param numKvHeads       key/value heads (GQA when fewer than numHeads)
 * @param headDim          size of one head (usually dim / numHeads)
 * @param ffnDim           feed-forward inner size (intermediate_size)
 * @param vocabSize        rows of the embedding table
 * @param contextLength    longest sequence the model was trained for
 * @param rmsEps           RMSNorm epsilon
 * @param ropeTheta        RoPE base frequency (10000 when the file does not say)
 * @param ropeScaling      Llama 3 style frequency scaling, or null
 * @param ropeStyle        which dimension pairs RoPE rotates
 * @param tiedEmbeddings   the output projection reuses the token embedding
 * @param bosId            beginning-of-sequence token, or -1
 * @param eosId            end-of-sequence token, or -1
 * @param eotId            end-of-turn token (Llama 3 {@code <|eot_id|>}, ChatML {@code <|im_end|>}), or -1
 */
public record LlamaConfig(
        int dim,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        int ffnDim,
        int vocabSize,
        int contextLength,
        float rmsEps,
        float ropeTheta,
        RopeScaling ropeScaling,
        RopeStyle ropeStyle,
        boolean tiedEmbeddings,
        int bosId,
        int eosId,
        int eotId) {

    /** How RoPE pairs dimensions inside a head. */
    public enum RopeStyle {
        /** Adjacent pairs (2i, 2i+1): GGUF files converted by llama.cpp, llama2.c. */
        NORMAL,
        /** Halves (i, i + headDim/2): Hugging Face checkpoints read directly (rotate_half). */
        NEOX
    }

    /** Llama 3.1 {@code rope_scaling} with {@code rope_type = "llama3"}. */
    public record RopeScaling(float factor, float lowFreqFactor, float highFreqFactor, int originalContextLength) {}

    public LlamaConfig {
        require(dim > 0, "dim must be positive: " + dim);
        require(numLayers > 0, "layer count must be positive: " + numLayers);
        require(numHeads > 0 && numKvHeads > 0, "head counts must be positive: " + numHeads + "/" + numKvHeads);
        require(numHeads % numKvHeads == 0, "head count " + numHeads + " is not a multiple of KV head count " + numKvHeads);
        require(headDim > 0 && headDim % 2 == 0, "head dim must be positive and even: " + headDim);
        require(ffnDim > 0, "feed-forward size must be positive: " + ffnDim);
        require(vocabSize > 0, "vocabulary size must be positive: " + vocabSize);
        require(contextLength > 0, "context length must be positive: " + contextLength);
        require(rmsEps > 0, "RMS epsilon must be positive: " + rmsEps);
        require(ropeTheta > 0, "RoPE theta must be positive: " + ropeTheta);
        if (ropeStyle == null) ropeStyle = RopeStyle.NORMAL;
    }

    public int kvDim() {
        return numKvHeads * headDim;
    }

    public int qDim() {
        return numHeads * headDim;
    }

    private static void require(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException("invalid model config: " + message);
    }
}
