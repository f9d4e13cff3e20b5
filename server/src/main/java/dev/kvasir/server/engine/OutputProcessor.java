package dev.kvasir.server.engine;

import dev.kvasir.models.sampling.SampledToken;
import dev.kvasir.models.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The third part of an engine step (vLLM v1's output processor): turns a forward pass's logits
 * into tokens and text. Per sequence that wanted logits: sample (under its constraint, which then
 * accepts the token), detokenize, check stop tokens, the constraint's end, stop strings and length,
 * record logprobs and timings; then one output per request that advanced.
 * Decides that a choice is finished; the engine takes finished sequences out of the batch.
 * Owned by the engine thread.
 */
final class OutputProcessor {

    private final Tokenizer tokenizer;
    private final int[] stopTokenIds;
    private final int maxModelLen;
    private final EngineObserver observer;
    private long generatedTokens;

    OutputProcessor(Tokenizer tokenizer, int maxModelLen, EngineObserver observer) {
        this.tokenizer = tokenizer;
        this.stopTokenIds = tokenizer.stopTokenIds().clone();
        this.maxModelLen = maxModelLen;
        this.observer = observer;
    }

    /** Tokens sampled since start (the {@code vllm:generation_tokens} counter). */
    long generatedTokens() {
        return generatedTokens;
    }

    /**
     * Samples the next token of every chunk that wanted logits and sends each request that advanced
     * its output ({@link RequestOutput#usage()} set on its last one).
     *
     * @param logits one row per chunk with {@code wantLogits}, in chunk order (the model's reused rows)
     * @return the sequences that finished this step, and the requests all of whose choices did
     */
    Finished process(ScheduledStep step, float[][] logits, long now) {
        List<RequestState> advanced = new ArrayList<>();
        List<Sequence> finishedSequences = new ArrayList<>();
        int row = 0;
        for (ScheduledStep.Chunk c : step.chunks()) {
            if (!c.wantLogits()) continue;
            float[] rowLogits = logits[row++];
            Sequence seq = c.sequence();
            if (seq.status != Sequence.Status.RUNNING) continue;
            RequestState r = seq.request;
            if (r.pending.isEmpty()) advanced.add(r);
            if (seq.index == 0 && seq.numGenerated() == 0 && r.sequences.size() > 1) {
                // The prompt's choices all sample from the prompt's last logits.
                for (Sequence s : r.sequences) {
                    if (s.status == Sequence.Status.RUNNING && s.numGenerated() == 0) sample(s, rowLogits, now, finishedSequences);
                }
            } else {
                sample(seq, rowLogits, now, finishedSequences);
            }
        }
        List<RequestState> finishedRequests = new ArrayList<>();
        for (RequestState r : advanced) {
            if (emit(r, now)) finishedRequests.add(r);
        }
        return new Finished(finishedSequences, finishedRequests);
    }

    /** What {@link #process} ended. */
    record Finished(List<Sequence> sequences, List<RequestState> requests) {}

    private void sample(Sequence seq, float[] logits, long now, List<Sequence> finished) {
        RequestState r = seq.request;
        GenerationRequest req = r.request;
        SampledToken t = seq.sampler.sample(logits, seq.prompt, seq.generated(), seq.numGenerated(), seq.constraint);
        int token = t.tokenId();
        if (seq.constraint != null && !seq.constraint.accept(token)) {
            // The sampler drew from the constraint's own mask: a refusal here is a bug, never the client's doing.
            throw new IllegalStateException("sampled token " + token + " that " + seq.constraint.constraint().description()
                    + " does not allow (" + seq + ")");
        }
        seq.append(token);
        r.completionTokens++;
        generatedTokens++;
        if (r.firstTokenNanos == 0) {
            r.firstTokenNanos = now;
            observer.timeToFirstToken((now - r.arrivalNanos) / 1e9);
        } else if (seq.lastTokenNanos != 0) {
            observer.interTokenLatency((now - seq.lastTokenNanos) / 1e9);
        }
        seq.lastTokenNanos = now;

        // A constrained choice ends where its grammar does, ignore_eos or not: a stop token is allowed
        // only where the grammar may end, and a grammar with nothing left to write needs no stop token.
        boolean constraintDone = seq.constraint != null && seq.constraint.isComplete();
        boolean eos = isStopToken(token) && (!req.ignoreEos() || seq.constraint != null);
        String text = seq.stopMatcher.push(eos ? "" : text(seq, token, req.keepSpecialTokens()));
        String finish = null;
        if (seq.stopMatcher.stopped() || eos || constraintDone) {
            finish = "stop";
        } else if (seq.numGenerated() >= req.maxTokens() || seq.numTokens() >= maxModelLen) {
            finish = "length";
        }
        if (finish != null && !seq.stopMatcher.stopped()) {
            // Bytes of an unfinished character and text held for a possible stop string go out now.
            text += seq.stopMatcher.push(seq.detokenizer.flush());
            if (!seq.stopMatcher.stopped()) text += seq.stopMatcher.flush();
            // Either push found a stop, or flush cut at one found while an earlier-starting stop was still open.
            if (seq.stopMatcher.stopped()) finish = "stop";
        }
        List<RequestOutput.TokenLogprob> logprobs = req.sampling().logprobs() ? List.of(logprob(t)) : null;
        r.pending.add(new RequestOutput.Choice(seq.index, text, logprobs, finish));
        if (finish != null) {
            finished.add(seq);
            r.finishedChoices++;
        }
    }

    /** The token's text; a special token that decodes to nothing as its vocabulary string when the request keeps them. */
    private String text(Sequence seq, int token, boolean keepSpecialTokens) {
        String text = seq.detokenizer.push(token);
        if (keepSpecialTokens && tokenizer.isSpecial(token) && tokenizer.tokenBytes(token).length == 0) {
            text += tokenizer.tokenString(token);
        }
        return text;
    }

    private boolean isStopToken(int token) {
        for (int s : stopTokenIds) if (s == token) return true;
        return false;
    }

    private RequestOutput.TokenLogprob logprob(SampledToken t) {
        List<RequestOutput.TopLogprob> top = new ArrayList<>();
        int[] ids = t.topIds();
        float[] lps = t.topLogprobs();
        for (int i = 0; ids != null && i < ids.length; i++) {
            byte[] b = tokenizer.tokenBytes(ids[i]);
            top.add(new RequestOutput.TopLogprob(text(b), lps[i], b));
        }
        byte[] bytes = tokenizer.tokenBytes(t.tokenId());
        return new RequestOutput.TokenLogprob(text(bytes), t.logprob(), bytes, top);
    }

    private static String text(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** Sends what the request's choices produced this step; the last output carries the usage. */
    private boolean emit(RequestState r, long now) {
        List<RequestOutput.Choice> choices = List.copyOf(r.pending);
        r.pending.clear();
        RequestOutput.Usage usage = null;
        if (r.finished()) {
            usage = new RequestOutput.Usage(r.request.promptTokens().length, r.completionTokens, r.cachedTokens);
            observer.e2eLatency((now - r.arrivalNanos) / 1e9);
        }
        r.request.sink().onOutput(new RequestOutput(choices, usage, null));
        return usage != null;
    }
}
