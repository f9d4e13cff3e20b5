package dev.kvasir.server;

import dev.kvasir.memory.MemoryModel;
import dev.kvasir.models.LlamaConfig;
import dev.kvasir.models.sampling.SamplingParams;
import dev.kvasir.server.api.ChatRequest;
import dev.kvasir.server.engine.Engine;
import dev.kvasir.server.engine.GenerationRequest;
import dev.kvasir.server.engine.RequestOutput;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The served model for memory's model extractor and summarizer: the instruction goes through the
 * model's chat template as one user message and runs on the engine as a background request
 * (greedy), which the scheduler never lets delay a user's first token by more than a decode step.
 * Background prompts carry a tenant no API key can have, so their cached blocks match no user's.
 */
final class ServedMemoryModel implements MemoryModel {
    /** The prefix-cache tenant of background requests: API tenants are letters, digits, '.', '_', '-'. */
    static final String TENANT = "kvasir memory";
    static final long DEADLINE_SECONDS = 120;
    /** Models from a billion parameters follow a summarizing instruction well enough (the auto summarizer's line). */
    static final long INSTRUCTION_FOLLOWING_PARAMETERS = 1_000_000_000L;

    private final ServedModel model;
    private final Engine engine;
    private final AtomicLong ids = new AtomicLong();

    ServedMemoryModel(ServedModel model, Engine engine) {
        this.model = model;
        this.engine = engine;
    }

    @Override
    public String complete(String instruction, int maxTokens) {
        int[] prompt = model.encodeChat(List.of(new ChatRequest.Message("user", instruction, null, null)));
        int room = model.maxModelLen() - prompt.length;
        if (room < 1) throw new IllegalArgumentException("the memory instruction (" + prompt.length + " tokens) fills the context");
        CompletableFuture<String> done = new CompletableFuture<>();
        StringBuilder text = new StringBuilder();
        GenerationRequest request = new GenerationRequest("memory-" + ids.incrementAndGet(), prompt, 1, Math.min(maxTokens, room), List.of(),
                false, SamplingParams.greedy(), System.nanoTime() + TimeUnit.SECONDS.toNanos(DEADLINE_SECONDS), out -> {
                    for (RequestOutput.Choice c : out.choices()) text.append(c.text());
                    if (out.error() != null) done.completeExceptionally(new IllegalStateException(out.error().message()));
                    else if (out.usage() != null) done.complete(text.toString());
                }, TENANT, GenerationRequest.CacheHint.NONE, true);
        if (!engine.submit(List.of(request))) throw new IllegalStateException("the engine's waiting queue is full");
        try {
            return done.get(DEADLINE_SECONDS + 5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            engine.abort(request.id());
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the model answered memory", e);
        } catch (ExecutionException | TimeoutException e) {
            engine.abort(request.id());
            throw new IllegalStateException("the model gave memory no answer: " + e.getMessage(), e);
        }
    }

    @Override
    public boolean followsInstructions() {
        return parameters(model.loaded().config()) >= INSTRUCTION_FOLLOWING_PARAMETERS;
    }

    /** Weights of a Llama model: embeddings (and the output head unless tied), then per layer attention and MLP. */
    static long parameters(LlamaConfig c) {
        long embeddings = (long) c.vocabSize() * c.dim() * (c.tiedEmbeddings() ? 1 : 2);
        long attention = (long) c.dim() * c.headDim() * (2L * c.numHeads() + 2L * c.numKvHeads());
        long mlp = 3L * c.dim() * c.ffnDim();
        return embeddings + (long) c.numLayers() * (attention + mlp + 2L * c.dim());
    }
}
