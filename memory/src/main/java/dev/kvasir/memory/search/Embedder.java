package dev.kvasir.memory.search;

import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.output.Response;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * all-MiniLM-L6-v2 (quantized ONNX, shipped inside the langchain4j jar, so it loads offline) run in
 * process by ONNX Runtime. The model takes a while to load, so it loads once per JVM, on a background thread,
 * started by the first {@link #shared()} call: a server that never turns memory on never pays, and
 * a search that arrives before it is ready runs lexically instead of waiting.
 */
public final class Embedder {
    public static final int DIMENSION = 384;
    public static final String MODEL_NAME = "all-minilm-l6-v2";

    private static CompletableFuture<Embedder> shared;

    private final MiniLmModel model;
    private final long loadMillis;

    private Embedder(MiniLmModel model, long loadMillis) {
        this.model = model;
        this.loadMillis = loadMillis;
    }

    /** The process's embedder, loading in the background after the first call. */
    public static synchronized CompletableFuture<Embedder> shared() {
        if (shared == null) {
            shared = new CompletableFuture<>();
            CompletableFuture<Embedder> target = shared;
            Thread loader = new Thread(() -> {
                try {
                    long t0 = System.nanoTime();
                    // DJL (the tokenizer's library) otherwise looks up cloud metadata and "calls home" over the network.
                    if (System.getProperty("OPT_OUT_TRACKING") == null) System.setProperty("OPT_OUT_TRACKING", "true");
                    MiniLmModel m = new MiniLmModel(1, batchPool());
                    m.embed("warm up"); // the first inference initialises ONNX Runtime's kernels
                    target.complete(new Embedder(m, (System.nanoTime() - t0) / 1_000_000));
                } catch (Throwable e) {
                    target.completeExceptionally(e);
                }
            }, "kvasir-embedder-load");
            loader.setDaemon(true);
            loader.start();
        }
        return shared;
    }

    /** Batches run one inference per core, each on one thread (see {@link MiniLmModel}). */
    private static ExecutorService batchPool() {
        return Executors.newFixedThreadPool(Runtime.getRuntime().availableProcessors(), r -> {
            Thread t = new Thread(r, "kvasir-embedder");
            t.setDaemon(true);
            return t;
        });
    }

    /** Milliseconds the model took to load and run its first inference. */
    public long loadMillis() {
        return loadMillis;
    }

    /** The unit-length embedding of one text. */
    public float[] embed(String text) {
        return normalized(model.embed(text).content().vector());
    }

    /** Unit-length embeddings of several texts (in parallel) and the word-piece tokens they held. */
    public Embedded embedAll(List<String> texts) {
        List<TextSegment> segments = new ArrayList<>(texts.size());
        for (String t : texts) segments.add(TextSegment.from(t));
        Response<List<Embedding>> response = model.embedAll(segments);
        List<float[]> vectors = new ArrayList<>(texts.size());
        for (Embedding e : response.content()) vectors.add(normalized(e.vector()));
        Integer tokens = response.tokenUsage() == null ? null : response.tokenUsage().inputTokenCount();
        return new Embedded(vectors, tokens == null ? 0 : tokens);
    }

    /** Embeddings with the number of model tokens they consumed (the {@code usage} of /v1/embeddings). */
    public record Embedded(List<float[]> vectors, int tokens) {}

    static float[] normalized(float[] v) {
        double sum = 0;
        for (float x : v) sum += x * x;
        float inv = sum == 0 ? 0 : (float) (1 / Math.sqrt(sum));
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) out[i] = v[i] * inv;
        return out;
    }
}
