package dev.kvasir.models.sampling;

/**
 * A chosen token with its log-probability and the most likely alternatives (when requested).
 * Log-probabilities are those of the model's raw distribution (before penalties and temperature),
 * as vLLM reports them; {@code logprob} is NaN and the arrays empty when none were requested.
 */
public record SampledToken(int tokenId, float logprob, int[] topIds, float[] topLogprobs) {}
