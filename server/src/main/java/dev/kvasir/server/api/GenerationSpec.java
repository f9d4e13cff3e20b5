package dev.kvasir.server.api;

import java.util.List;

/**
 * What a client asked the model to do, validated, shared by chat and text completions.
 *
 * @param maxTokens    tokens to generate at most per choice, or null for "up to the context length"
 * @param maxTokensParam the field that set it ({@code max_tokens} or {@code max_completion_tokens}), for errors
 * @param stop         strings that end a choice; never part of its text
 * @param logprobs     return the chosen token's log-probability
 * @param topLogprobs  alternatives per token (0..20)
 * @param includeUsage stream a final chunk with usage ({@code stream_options.include_usage})
 */
public record GenerationSpec(
        int n,
        Integer maxTokens,
        String maxTokensParam,
        List<String> stop,
        boolean logprobs,
        int topLogprobs,
        boolean stream,
        boolean includeUsage,
        boolean ignoreEos,
        float temperature,
        float topP,
        int topK,
        float minP,
        Long seed,
        float repetitionPenalty,
        float presencePenalty,
        float frequencyPenalty) {

    public GenerationSpec {
        stop = List.copyOf(stop);
    }
}
