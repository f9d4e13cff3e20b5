package dev.kvasir.server.engine;

import java.util.ArrayList;
import java.util.List;

/** A request inside the engine: its choices, what they produced this step, and its counters. */
final class RequestState {

    final GenerationRequest request;
    final long arrivalNanos;
    /** The prefix-cache key of the request's blocks: the served model's, salted with its tenant. */
    final long cacheKey;
    final List<Sequence> sequences = new ArrayList<>();
    /** Choices that advanced this step, sent to the sink after the step. */
    final List<RequestOutput.Choice> pending = new ArrayList<>();
    /** The prompt's choices exist (n > 1 forks after the prompt's prefill). */
    boolean forked;
    /** Admitted at least once (counts against the waiting-queue bound until then). */
    boolean admitted;
    /** Left the waiting-queue count (admitted, or ended before that). */
    boolean counted;
    int cachedTokens;
    int completionTokens;
    int finishedChoices;
    long firstTokenNanos;

    RequestState(GenerationRequest request, long arrivalNanos) {
        this(request, arrivalNanos, 0);
    }

    RequestState(GenerationRequest request, long arrivalNanos, long modelKey) {
        this.request = request;
        this.arrivalNanos = arrivalNanos;
        this.cacheKey = TenantSalt.key(modelKey, request.tenant());
    }

    boolean finished() {
        return finishedChoices == request.n();
    }

    /** Sequences this request still needs in the batch: all n choices until it has forked. */
    int seatsNeeded() {
        return forked ? 1 : request.n();
    }
}
