package dev.kvasir.server.engine;

import dev.kvasir.models.sampling.Sampler;
import dev.kvasir.models.sampling.constraint.ConstraintState;
import dev.kvasir.models.tokenizer.IncrementalDetokenizer;

import java.util.Arrays;

/**
 * One choice of a request: its tokens, how many of them have KV in the cache, and the per-choice
 * sampling, constraint, detokenizing and stop-string state. Owned by the engine thread (the mask
 * prefetch borrows the constraint state during a forward pass and hands it back before sampling).
 */
final class Sequence {

    enum Status { WAITING, RUNNING, SWAPPED, FINISHED }

    final long id;
    final RequestState request;
    /** The choice index this sequence answers ({@code choices[].index}). */
    final int index;
    final int[] prompt;
    final Sampler sampler;
    final IncrementalDetokenizer detokenizer;
    final StopMatcher stopMatcher;
    /**
     * Where the choice stands in its request's constraint, or null for free text. Advanced with
     * every sampled token; kept as it is through preemption (recompute refills the KV of tokens the
     * state has already accepted).
     */
    final ConstraintState constraint;

    private int[] generated = new int[16];
    private int numGenerated;
    /** Tokens whose KV is in the cache; the rest are computed by the next chunks. */
    int numComputed;
    Status status = Status.WAITING;
    /** Holds blocks in the block manager (GPU or, when swapped, CPU). */
    boolean allocated;
    long lastTokenNanos;

    Sequence(long id, RequestState request, int index, Sampler sampler, IncrementalDetokenizer detokenizer) {
        this(id, request, index, sampler, detokenizer,
                request.request.constraint() == null ? null : request.request.constraint().newState());
    }

    private Sequence(long id, RequestState request, int index, Sampler sampler, IncrementalDetokenizer detokenizer,
                     ConstraintState constraint) {
        this.id = id;
        this.request = request;
        this.index = index;
        this.prompt = request.request.promptTokens();
        this.sampler = sampler;
        this.detokenizer = detokenizer;
        this.stopMatcher = new StopMatcher(request.request.stop());
        this.constraint = constraint;
    }

    int numTokens() {
        return prompt.length + numGenerated;
    }

    int numGenerated() {
        return numGenerated;
    }

    int[] generated() {
        return generated;
    }

    int lastToken() {
        return numGenerated > 0 ? generated[numGenerated - 1] : prompt[prompt.length - 1];
    }

    void append(int token) {
        if (numGenerated == generated.length) generated = Arrays.copyOf(generated, numGenerated * 2);
        generated[numGenerated++] = token;
    }

    /** Tokens [from, to) of prompt followed by generated tokens. */
    int[] tokens(int from, int to) {
        int[] out = new int[to - from];
        for (int i = from; i < to; i++) {
            out[i - from] = i < prompt.length ? prompt[i] : generated[i - prompt.length];
        }
        return out;
    }

    /** A copy for choice {@code index} of the same request after the prompt's prefill (n > 1). */
    Sequence fork(long childId, int childIndex, Sampler childSampler, IncrementalDetokenizer childDetokenizer) {
        Sequence child = new Sequence(childId, request, childIndex, childSampler, childDetokenizer,
                constraint == null ? null : constraint.fork());
        child.generated = Arrays.copyOf(generated, generated.length);
        child.numGenerated = numGenerated;
        child.numComputed = numComputed;
        child.status = status;
        child.allocated = true;
        return child;
    }

    @Override
    public String toString() {
        return "seq " + id + " (" + request.request.id() + "#" + index + ", " + status + ", "
                + numComputed + "/" + numTokens() + " computed)";
    }
}
