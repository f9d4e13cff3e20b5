package dev.kvasir.models;

/**
 * What {@link Generator#generate} produced.
 *
 * @param promptTokens the prompt as token ids (BOS included when the model adds it)
 * @param tokens       generated tokens (a stop token that ended generation is not included)
 * @param text         the generated tokens as text
 * @param finishReason {@code "stop"} (a stop token) or {@code "length"} (max tokens or the context ran out)
 * @param promptNanos  prefill time: from the start to the logits of the first generated token
 * @param decodeSteps  forward steps after prefill (one token each)
 * @param decodeNanos  time of those steps, sampling included
 */
public record GenerationResult(int[] promptTokens, int[] tokens, String text, String finishReason,
                               long promptNanos, int decodeSteps, long decodeNanos) {

    public double promptTokensPerSecond() {
        return promptNanos == 0 ? 0 : promptTokens.length * 1e9 / promptNanos;
    }

    public double decodeTokensPerSecond() {
        return decodeNanos == 0 ? 0 : decodeSteps * 1e9 / decodeNanos;
    }
}
