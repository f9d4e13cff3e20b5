package dev.kvasir.server.engine;

import java.util.List;

/**
 * What one engine step produced for one request: new text per choice, and on the last output the
 * usage (or the error that ended it). Built on the engine thread, read on the request's event loop.
 *
 * @param choices choices that advanced this step
 * @param usage   set on the request's final output when it completed normally
 * @param error   set on the final output when the engine ended the request (deadline, engine failure)
 */
public record RequestOutput(List<Choice> choices, Usage usage, EngineError error) {

    public boolean finished() {
        return usage != null || error != null;
    }

    /**
     * @param text         new text (may be empty while a stop string is being matched)
     * @param logprobs     one entry per new token when logprobs were asked for, else null
     * @param finishReason {@code stop} or {@code length} when this choice ended, else null
     */
    public record Choice(int index, String text, List<TokenLogprob> logprobs, String finishReason) {}

    /** A generated token with its log-probability and the most likely alternatives. */
    public record TokenLogprob(String token, float logprob, byte[] bytes, List<TopLogprob> top) {}

    public record TopLogprob(String token, float logprob, byte[] bytes) {}

    /** @param cachedTokens prompt tokens served from the prefix cache */
    public record Usage(int promptTokens, int completionTokens, int cachedTokens) {}

    /** @param kind {@code deadline}, {@code shutdown} (a drain ran out of time) or {@code engine} */
    public record EngineError(String kind, String message) {}
}
