package dev.kvasir.server.api;

import dev.kvasir.models.sampling.SamplingParams;

import java.util.List;

/**
 * What a client asked the model to do, validated, shared by chat and text completions.
 *
 * @param maxTokens      tokens to generate at most per choice, or null for "up to the context length"
 * @param maxTokensParam the field that set it ({@code max_tokens} or {@code max_completion_tokens}), for errors
 * @param stop           strings that end a choice; never part of its text
 * @param includeUsage   stream a final chunk with usage ({@code stream_options.include_usage})
 * @param sampling       how tokens are chosen, handed to the engine's sampler as it is
 * @param outputFormat   what the output must match ({@code response_format}, {@code guided_*}), or null
 */
public record GenerationSpec(
        int n,
        Integer maxTokens,
        String maxTokensParam,
        List<String> stop,
        boolean stream,
        boolean includeUsage,
        boolean ignoreEos,
        SamplingParams sampling,
        OutputFormat outputFormat) {

    public GenerationSpec {
        stop = List.copyOf(stop);
    }

    /** Return the chosen tokens' log-probabilities. */
    public boolean logprobs() {
        return sampling.logprobs();
    }

    /** Alternatives returned per token (0..20). */
    public int topLogprobs() {
        return Math.max(0, sampling.topLogprobs());
    }
}
