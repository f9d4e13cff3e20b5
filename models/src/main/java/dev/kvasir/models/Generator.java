package dev.kvasir.models;

import dev.kvasir.kernels.Backend;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.sampling.SampledToken;
import dev.kvasir.models.sampling.Sampler;
import dev.kvasir.models.sampling.SamplingParams;
import dev.kvasir.models.sampling.constraint.ConstraintState;
import dev.kvasir.models.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * Generates one sequence at a time: prefill (in chunks of {@link #PREFILL_CHUNK} tokens), then
 * decode until a stop token or the token limit. K/V slots are simply positions (block i holds
 * positions 16i..16i+15): one sequence needs no block manager. The library API behind
 * {@code kvasir generate}, benchmarks and tests; the server batches through its own engine.
 */
public final class Generator implements AutoCloseable {

    public static final int BLOCK_SIZE = 16;
    public static final int PREFILL_CHUNK = 512;

    private final LlamaModel model;
    private final Tokenizer tokenizer;
    private final int maxContext;
    private final int[] blockTable;
    private final int[] stopTokens;

    /**
     * @param maxContext longest sequence (prompt + output) to make room for; capped at the model's context length
     */
    public Generator(LoadedModel loaded, Tokenizer tokenizer, Backend backend, int maxContext) {
        LlamaConfig c = loaded.config();
        this.tokenizer = tokenizer;
        this.maxContext = Math.min(maxContext, c.contextLength());
        int blocks = (this.maxContext + BLOCK_SIZE - 1) / BLOCK_SIZE;
        this.model = LlamaModel.create(c, loaded.weights(), backend, blocks, BLOCK_SIZE, 0);
        this.blockTable = new int[blocks];
        for (int i = 0; i < blocks; i++) blockTable[i] = i;
        this.stopTokens = tokenizer.stopTokenIds();
    }

    public LlamaModel model() {
        return model;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** The prompt as the model sees it: BOS first when the model's tokenizer adds one. */
    public int[] encode(String prompt) {
        return tokenizer.encode(prompt, true, false);
    }

    public GenerationResult generate(String prompt, SamplingParams params, int maxTokens, IntConsumer onToken) {
        return generate(encode(prompt), params, maxTokens, onToken);
    }

    /**
     * @param onToken called with each generated token as soon as it is chosen (stop tokens excluded); may be null
     */
    public GenerationResult generate(int[] prompt, SamplingParams params, int maxTokens, IntConsumer onToken) {
        return generate(prompt, params, maxTokens, null, onToken);
    }

    /**
     * As {@link #generate(int[], SamplingParams, int, IntConsumer)}, every token restricted to what
     * {@code constraint} allows (null: unconstrained). The constraint is advanced with each token;
     * once it is complete (only a stop token could follow) generation ends with {@code "stop"}
     * without another forward step. A {@code "length"} finish leaves a valid prefix.
     */
    public GenerationResult generate(int[] prompt, SamplingParams params, int maxTokens, ConstraintState constraint,
                                     IntConsumer onToken) {
        if (prompt.length == 0) throw new IllegalArgumentException("empty prompt: the model needs at least one token (BOS)");
        if (prompt.length >= maxContext) {
            throw new IllegalArgumentException("prompt of " + prompt.length + " tokens leaves no room in a context of " + maxContext);
        }
        Sampler sampler = new Sampler(params);
        int limit = Math.min(maxTokens, maxContext - prompt.length);
        int[] out = new int[Math.max(0, limit)];
        int generated = 0;
        String finish = "length";
        long start = System.nanoTime();
        float[] logits = prefill(prompt);
        long prefillDone = System.nanoTime();
        int steps = 0;
        int pos = prompt.length;
        while (generated < limit) {
            SampledToken t = sampler.sample(logits, prompt, out, generated, constraint);
            if (isStop(t.tokenId())) {
                finish = "stop";
                break;
            }
            if (constraint != null && !constraint.accept(t.tokenId())) {
                throw new IllegalStateException("sampled token " + t.tokenId() + " that " + constraint.constraint() + " does not allow");
            }
            out[generated++] = t.tokenId();
            if (onToken != null) onToken.accept(t.tokenId());
            if (constraint != null && constraint.isComplete()) {
                finish = "stop";
                break;
            }
            if (generated == limit) break;
            logits = step(new int[] {t.tokenId()}, pos);
            pos++;
            steps++;
        }
        long end = System.nanoTime();
        int[] tokens = Arrays.copyOf(out, generated);
        return new GenerationResult(prompt, tokens, tokenizer.decode(tokens), finish, prefillDone - start, steps, end - prefillDone);
    }

    private float[] prefill(int[] prompt) {
        float[] logits = null;
        for (int from = 0; from < prompt.length; from += PREFILL_CHUNK) {
            int to = Math.min(prompt.length, from + PREFILL_CHUNK);
            logits = step(Arrays.copyOfRange(prompt, from, to), from);
        }
        return logits;
    }

    /** Runs {@code tokens} at positions {@code startPos..}; returns the logits after the last one. */
    private float[] step(int[] tokens, int startPos) {
        int[] slots = new int[tokens.length];
        for (int i = 0; i < tokens.length; i++) slots[i] = startPos + i;
        SequenceChunk chunk = new SequenceChunk(0, tokens, startPos, slots, blockTable, true);
        return model.forward(new ForwardBatch(List.of(chunk)))[0];
    }

    private boolean isStop(int token) {
        for (int s : stopTokens) if (s == token) return true;
        return false;
    }

    @Override
    public void close() {
        model.close();
    }
}
