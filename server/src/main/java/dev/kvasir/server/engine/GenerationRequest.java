package dev.kvasir.server.engine;

import dev.kvasir.models.sampling.SamplingParams;

import java.util.List;

/**
 * One prompt to continue, as the engine receives it: already tokenized and validated.
 *
 * @param id            unique request id (for aborts and logs)
 * @param n             independent choices; they share the prompt's KV blocks
 * @param maxTokens     tokens to generate per choice at most
 * @param stop          strings that end a choice (never part of its text)
 * @param sampling      sampling parameters (and logprobs); choice i of a seeded request uses seed + i
 * @param deadlineNanos {@link System#nanoTime()} after which the request is ended with an error
 * @param tenant        who asked (its API key's tenant): prefix-cache entries are the tenant's own, so
 *                      {@code cached_tokens} can never reveal another tenant's prompt
 * @param cache         how long its prompt's KV blocks should outlive others once it ends
 */
public record GenerationRequest(
        String id,
        int[] promptTokens,
        int n,
        int maxTokens,
        List<String> stop,
        boolean ignoreEos,
        SamplingParams sampling,
        long deadlineNanos,
        OutputSink sink,
        String tenant,
        CacheHint cache) {

    /**
     * What the request's prefix is worth keeping: part of an agent session (its next turn will resend
     * it), and/or pinned for a while ({@code memory.pin_prefix}).
     */
    public record CacheHint(boolean session, long pinNanos) {
        public static final CacheHint NONE = new CacheHint(false, 0);

        public CacheHint {
            if (pinNanos < 0) throw new IllegalArgumentException("pin time must be 0 or more: " + pinNanos);
        }
    }

    /** The tenant of requests from a server without keys (and of warm-up and tests). */
    public static final String DEFAULT_TENANT = "default";

    public GenerationRequest(String id, int[] promptTokens, int n, int maxTokens, List<String> stop, boolean ignoreEos,
                             SamplingParams sampling, long deadlineNanos, OutputSink sink) {
        this(id, promptTokens, n, maxTokens, stop, ignoreEos, sampling, deadlineNanos, sink, DEFAULT_TENANT, CacheHint.NONE);
    }


    public GenerationRequest {
        if (promptTokens.length == 0) throw new IllegalArgumentException("request " + id + " has an empty prompt");
        if (n < 1) throw new IllegalArgumentException("request " + id + ": n must be at least 1");
        if (maxTokens < 1) throw new IllegalArgumentException("request " + id + ": max tokens must be at least 1");
        stop = List.copyOf(stop);
        if (tenant == null) throw new IllegalArgumentException("request " + id + " has no tenant");
        if (cache == null) throw new IllegalArgumentException("request " + id + " has no cache hint: use CacheHint.NONE");
    }
}
