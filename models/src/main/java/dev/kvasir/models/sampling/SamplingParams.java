package dev.kvasir.models.sampling;

/**
 * How to choose each next token, with OpenAI / vLLM meanings.
 *
 * @param temperature       0 (or less) picks the most likely token; otherwise logits are divided by it
 * @param topP              keep the smallest set of most likely tokens whose probability reaches topP (1: off)
 * @param topK              keep the topK most likely tokens (0 or -1: off)
 * @param minP              drop tokens less likely than minP times the most likely one (0: off)
 * @param seed              seed of the sampler's generator; the same seed and request give the same tokens; null: random
 * @param repetitionPenalty tokens seen in the prompt or output: positive logits divided by it, negative ones multiplied (1: off)
 * @param presencePenalty   subtracted from the logit of every token already generated (0: off)
 * @param frequencyPenalty  subtracted once per earlier occurrence in the generated text (0: off)
 * @param topLogprobs       -1: no logprobs; k &gt;= 0: the chosen token's logprob and the k most likely alternatives
 */
public record SamplingParams(float temperature, float topP, int topK, float minP, Long seed,
                             float repetitionPenalty, float presencePenalty, float frequencyPenalty, int topLogprobs) {

    public SamplingParams {
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top_p must be in (0, 1]: " + topP);
        if (topK < -1) throw new IllegalArgumentException("top_k must be -1, 0 or positive: " + topK);
        if (!(minP >= 0 && minP <= 1)) throw new IllegalArgumentException("min_p must be in [0, 1]: " + minP);
        if (!(repetitionPenalty > 0)) throw new IllegalArgumentException("repetition_penalty must be positive: " + repetitionPenalty);
        if (topLogprobs < -1) throw new IllegalArgumentException("top_logprobs must be -1 or at least 0: " + topLogprobs);
        if (Float.isNaN(temperature)) throw new IllegalArgumentException("temperature is NaN");
    }

    /** Always the most likely token, no penalties, no logprobs. */
    public static SamplingParams greedy() {
        return new SamplingParams(0, 1, -1, 0, null, 1, 0, 0, -1);
    }

    /** Plain temperature sampling with a seed. */
    public static SamplingParams temperature(float temperature, Long seed) {
        return new SamplingParams(temperature, 1, -1, 0, seed, 1, 0, 0, -1);
    }

    public boolean isGreedy() {
        return temperature <= 0;
    }

    /** Whether the chosen token's log-probability (and {@link #topLogprobs} alternatives) is returned. */
    public boolean logprobs() {
        return topLogprobs >= 0;
    }

    /** The same parameters with another seed (choice i of a seeded request draws with seed + i). */
    public SamplingParams withSeed(long newSeed) {
        return new SamplingParams(temperature, topP, topK, minP, newSeed, repetitionPenalty, presencePenalty,
                frequencyPenalty, topLogprobs);
    }
}
