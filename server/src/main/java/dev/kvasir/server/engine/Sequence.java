package dev.kvasir.server.engine;

import dev.kvasir.models.sampling.Sampler;
import dev.kvasir.models.tokenizer.IncrementalDetokenizer;

import java.util.Arrays;

/**
 * One choice of a request: its tokens, how many of them have KV in the cache, and the per-choice
 * sampling, detokenizing and stop-string state. Owned by the engine thread.
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

    private int[] generated = new int[16];
    private int numGenerated;
    /** Tokens whose KV is in the cache; the rest are computed by the next chunks. */
    int numComputed;
    Status status = Status.WAITING;
    /** Holds blocks in the block manager (GPU or, when swapped, CPU). */
    boolean allocated;
    long lastTokenNanos;

    Sequence(long id, RequestState request, int index, Sampler sampler, IncrementalDetokenizer detokenizer) {
        this.id = id;
        this.request = request;
        this.index = index;
        this.prompt = request.request.promptTokens();
        this.sampler = sampler;
        this.detokenizer = detokenizer;
        this.stopMatcher = new StopMatcher(request.request.stop());
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
        Sequence child = new Sequence(childId, request, childIndex, childSampler, childDetokenizer);
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
