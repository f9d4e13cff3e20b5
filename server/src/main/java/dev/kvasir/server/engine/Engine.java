package dev.kvasir.server.engine;

import dev.kvasir.blockmanager.KvCacheManager;
import dev.kvasir.models.LlamaModel;
import dev.kvasir.models.sampling.SampledToken;
import dev.kvasir.models.sampling.Sampler;
import dev.kvasir.models.sampling.SamplingParams;
import dev.kvasir.models.tokenizer.IncrementalDetokenizer;
import dev.kvasir.models.tokenizer.Tokenizer;
import dev.kvasir.server.metrics.ServerMetrics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The engine thread: owns the scheduler, the block manager and the model. Requests, aborts and
 * test probes arrive through one queue; each step schedules a batch, runs one forward pass,
 * samples, detokenizes, checks stop conditions and hands outputs to the requests' sinks.
 */
public final class Engine implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Engine.class);
    /** Batch sizes the start-up warm-up runs, each within the engine's budgets. */
    private static final int[] WARMUP_BATCHES = {1, 2, 4, 8, 16};
    /** Prompt tokens of each warm-up scratch sequence (one prefill step before the decodes). */
    private static final int WARMUP_PROMPT = 32;

    private sealed interface Command permits Submit, Abort, Probe {}
    private record Submit(GenerationRequest request, long arrivalNanos) implements Command {}
    private record Abort(String requestId) implements Command {}
    private record Probe(Runnable task) implements Command {}

    private final LlamaModel model;
    private final KvCacheManager kv;
    private final EngineConfig config;
    private final Tokenizer tokenizer;
    private final int[] stopTokenIds;
    private final ServerMetrics metrics;
    private final Scheduler scheduler;
    private final ModelRunner runner;
    /** Prefix-cache key of the warm-up's scratch prompts: never the served model's. */
    private final long warmupKey;
    private final LinkedBlockingQueue<Command> inbox = new LinkedBlockingQueue<>();
    private final Map<String, RequestState> live = new HashMap<>();
    /** Requests submitted and not yet admitted to a batch: the bounded waiting queue. */
    private final AtomicInteger queued = new AtomicInteger();
    private final Thread thread;
    private volatile boolean stopping;
    private volatile EngineStats stats;
    private long nextSeqId = 1;
    private long steps;
    private long promptTokens;
    private long generationTokens;
    /** Prefix-cache query tokens of the warm-up's scratch prompts, left out of the published counters. */
    private long warmupQueryTokens;

    /**
     * @param extraKey mixed into the prefix-cache hashes, so blocks of another model never match
     */
    public Engine(LlamaModel model, EngineConfig config, Tokenizer tokenizer, ServerMetrics metrics, long extraKey) {
        this.model = model;
        this.config = config;
        this.tokenizer = tokenizer;
        this.stopTokenIds = tokenizer.stopTokenIds().clone();
        this.metrics = metrics;
        this.kv = new KvCacheManager(config.numKvBlocks(), config.blockSize(), config.numCpuBlocks(),
                config.watermark(), config.enablePrefixCaching());
        this.scheduler = new Scheduler(kv, config, extraKey);
        this.runner = new ModelRunner(model, kv);
        this.warmupKey = ~extraKey;
        this.stats = EngineStats.empty(config.numKvBlocks());
        this.thread = Thread.ofPlatform().name("kvasir-engine").daemon(true).unstarted(this::loop);
    }

    public void start() {
        thread.start();
    }

    /**
     * Warms the JIT up before the engine starts: up to {@code maxSteps} real forward steps (a
     * prefill, then decodes) on scratch sequences through the model runner and a sampler, at batch
     * sizes 1, 2, 4, 8 and 16 in turn (within max-num-seqs and max-num-batched-tokens), stopping
     * early after {@code maxNanos}. The scratch prompts use their own prefix-cache key and never
     * enter the cache (their KV is never marked computed); every block is free again afterwards
     * and no counter the engine publishes changes. Call it before {@link #start}.
     *
     * @return the forward steps run
     */
    public int warmUp(int maxSteps, long maxNanos) {
        if (thread.isAlive()) throw new IllegalStateException("warm-up runs before the engine thread starts");
        long deadline = System.nanoTime() + Math.min(maxNanos, Long.MAX_VALUE / 4);
        long queriesBefore = kv.prefixQueryTokens();
        int sizes = 0;
        while (sizes < WARMUP_BATCHES.length && WARMUP_BATCHES[sizes] <= config.maxNumSeqs()
                && WARMUP_BATCHES[sizes] <= config.maxNumBatchedTokens()) sizes++;
        int ran = 0;
        for (int i = 0; i < sizes && ran < maxSteps && System.nanoTime() - deadline < 0; i++) {
            int batch = WARMUP_BATCHES[i];
            // An equal share of the steps still to run for each batch size still to come.
            int share = Math.max(1, (maxSteps - ran) / (sizes - i));
            int promptLen = Math.min(Math.min(WARMUP_PROMPT, config.maxModelLen() / 2), config.maxNumBatchedTokens() / batch);
            int decodes = Math.min(share - 1, config.maxModelLen() - promptLen);
            List<Sequence> seqs = new ArrayList<>(batch);
            try {
                if (!allocateWarmUp(seqs, batch, promptLen, decodes)) {
                    LOG.warn("warm-up stopped at batch size {}: the KV pool cannot hold its scratch sequences", batch);
                    break;
                }
                List<ScheduledStep.Chunk> prefill = new ArrayList<>(batch);
                for (Sequence seq : seqs) {
                    prefill.add(new ScheduledStep.Chunk(seq, 0, promptLen, kv.slotMapping(seq.id, 0, promptLen), true));
                }
                warmUpStep(prefill);
                ran++;
                for (int d = 0; d < decodes && System.nanoTime() - deadline < 0; d++) {
                    List<ScheduledStep.Chunk> chunks = new ArrayList<>(batch);
                    for (Sequence seq : seqs) {
                        int slot = kv.appendToken(seq.id, seq.lastToken());
                        if (slot < 0) break;
                        chunks.add(new ScheduledStep.Chunk(seq, seq.numTokens() - 1, 1, new int[] {slot}, true));
                    }
                    if (chunks.size() < batch) break;
                    warmUpStep(chunks);
                    ran++;
                }
            } finally {
                for (Sequence seq : seqs) kv.free(seq.id);
            }
        }
        warmupQueryTokens += kv.prefixQueryTokens() - queriesBefore;
        if (kv.numFreeBlocks() != kv.numTotalBlocks() || kv.numCachedBlocks() != 0 || kv.numSequences() != 0) {
            throw new IllegalStateException("warm-up left " + kv.numUsedBlocks() + " blocks in use, " + kv.numCachedBlocks()
                    + " cached and " + kv.numSequences() + " sequences");
        }
        publishStats();
        return ran;
    }

    /** Scratch sequences with their prompts' blocks, into {@code seqs}; false when the pool cannot hold them. */
    private boolean allocateWarmUp(List<Sequence> seqs, int batch, int promptLen, int decodes) {
        int vocab = model.config().vocabSize();
        for (int s = 0; s < batch; s++) {
            int[] prompt = new int[promptLen];
            for (int t = 0; t < promptLen; t++) prompt[t] = (int) ((31L * s + 7L * t + batch) % vocab);
            GenerationRequest request = new GenerationRequest("warm-up-" + batch + "-" + s, prompt, 1, decodes + 1,
                    List.of(), true, false, SamplingParams.temperature(0.8f, (long) s), Long.MAX_VALUE, out -> { });
            Sequence seq = new Sequence(nextSeqId++, new RequestState(request, System.nanoTime()), 0,
                    new Sampler(request.sampling()), new IncrementalDetokenizer(tokenizer));
            if (!kv.canAllocatePrompt(prompt, warmupKey) || kv.allocatePrompt(seq.id, prompt, warmupKey) < 0) return false;
            seqs.add(seq);
        }
        return true;
    }

    /** One warm-up forward step, sampled like a served one (the tokens feed the next step). */
    private void warmUpStep(List<ScheduledStep.Chunk> chunks) {
        float[][] logits = runner.run(new ScheduledStep(chunks, List.of(), List.of()));
        for (int i = 0; i < chunks.size(); i++) {
            Sequence seq = chunks.get(i).sequence();
            int token = seq.sampler.sample(logits[i], seq.prompt, seq.generated(), seq.numGenerated()).tokenId();
            seq.append(token);
            seq.detokenizer.push(token);
        }
    }

    public EngineConfig config() {
        return config;
    }

    /** The latest snapshot; safe from any thread. */
    public EngineStats stats() {
        return stats;
    }

    public boolean alive() {
        return thread.isAlive() && !stopping;
    }

    /**
     * Queues requests all together, or none when the waiting queue is full (the caller answers
     * 503). Safe from any thread.
     */
    public boolean submit(List<GenerationRequest> requests) {
        int k = requests.size();
        while (true) {
            int now = queued.get();
            if (now + k > config.maxWaitingRequests()) return false;
            if (queued.compareAndSet(now, now + k)) break;
        }
        long arrival = System.nanoTime();
        for (GenerationRequest r : requests) inbox.add(new Submit(r, arrival));
        return true;
    }

    /** Ends a request and frees its blocks at the next step; no further output is sent. */
    public void abort(String requestId) {
        inbox.add(new Abort(requestId));
    }

    /** Runs {@code task} on the engine thread between steps (tests read the block manager so). */
    public <T> CompletableFuture<T> probe(java.util.function.Function<KvCacheManager, T> task) {
        CompletableFuture<T> result = new CompletableFuture<>();
        inbox.add(new Probe(() -> {
            try {
                result.complete(task.apply(kv));
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        }));
        return result;
    }

    @Override
    public void close() {
        stopping = true;
        thread.interrupt();
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void loop() {
        while (!stopping) {
            try {
                if (!scheduler.hasWork()) {
                    publishStats();
                    handle(inbox.take());
                }
                Command c;
                while ((c = inbox.poll()) != null) handle(c);
                expireDeadlines();
                if (scheduler.hasWork()) step();
                publishStats();
            } catch (InterruptedException e) {
                break;
            } catch (Throwable t) {
                // A bug must not take the server down: end every request in flight, free its blocks, go on.
                LOG.error("engine step failed; ending {} request(s)", live.size(), t);
                for (RequestState r : new ArrayList<>(live.values())) {
                    try {
                        fail(r, "engine", "internal engine error: " + t);
                    } catch (RuntimeException again) {
                        LOG.error("could not release request {}", r.request.id(), again);
                        live.remove(r.request.id());
                    }
                }
            }
        }
        for (RequestState r : new ArrayList<>(live.values())) fail(r, "engine", "server shutting down");
    }

    private void handle(Command c) {
        switch (c) {
            case Submit s -> admit(s.request(), s.arrivalNanos());
            case Abort a -> {
                RequestState r = live.get(a.requestId());
                if (r != null) {
                    release(r);
                    metrics.aborted();
                }
            }
            case Probe p -> p.task().run();
        }
    }

    private void admit(GenerationRequest request, long arrivalNanos) {
        RequestState r = new RequestState(request, arrivalNanos);
        if (live.putIfAbsent(request.id(), r) != null) {
            queued.decrementAndGet();
            request.sink().onOutput(new RequestOutput(List.of(), null,
                    new RequestOutput.EngineError("engine", "duplicate request id " + request.id())));
            return;
        }
        Sequence seq = new Sequence(nextSeqId++, r, 0, sampler(request, 0), new IncrementalDetokenizer(tokenizer));
        r.sequences.add(seq);
        scheduler.addWaiting(seq);
    }

    private Sampler sampler(GenerationRequest request, int choice) {
        SamplingParams p = request.sampling();
        if (choice > 0 && p.seed() != null) {
            p = new SamplingParams(p.temperature(), p.topP(), p.topK(), p.minP(), p.seed() + choice,
                    p.repetitionPenalty(), p.presencePenalty(), p.frequencyPenalty(), p.topLogprobs());
        }
        return new Sampler(p);
    }

    private void step() {
        ScheduledStep step = scheduler.schedule();
        for (ScheduledStep.Chunk c : step.chunks()) {
            RequestState r = c.sequence().request;
            if (r.admitted && !r.counted) {
                // Admitted for the first time: it leaves the bounded waiting queue.
                r.counted = true;
                queued.decrementAndGet();
                promptTokens += r.request.promptTokens().length;
            }
        }
        if (step.isEmpty()) {
            failUnschedulable();
            return;
        }
        // The model's reused rows: everything below reads them (sampling, logprobs) before the next step.
        float[][] logits = runner.run(step);
        steps++;
        long now = System.nanoTime();
        List<RequestState> touched = new ArrayList<>();
        int row = 0;
        for (ScheduledStep.Chunk c : step.chunks()) {
            Sequence seq = c.sequence();
            float[] rowLogits = c.wantLogits() ? logits[row++] : null;
            if (seq.status != Sequence.Status.RUNNING) continue;
            seq.numComputed = c.start() + c.length();
            kv.markComputed(seq.id, seq.numComputed);
            if (rowLogits == null) continue;
            RequestState r = seq.request;
            if (!r.forked) fork(r, seq);
            if (r.pending.isEmpty()) touched.add(r);
            if (seq.index == 0 && seq.numGenerated() == 0 && r.sequences.size() > 1) {
                // The prompt's choices all sample from the prompt's last logits.
                for (Sequence s : new ArrayList<>(r.sequences)) {
                    if (s.status == Sequence.Status.RUNNING && s.numGenerated() == 0) sample(s, rowLogits, now);
                }
            } else {
                sample(seq, rowLogits, now);
            }
        }
        for (RequestState r : touched) emit(r, now);
    }

    /** n > 1: after the prompt's prefill, the other choices share its blocks (copy-on-write). */
    private void fork(RequestState r, Sequence parent) {
        r.forked = true;
        for (int i = 1; i < r.request.n(); i++) {
            Sequence child = parent.fork(nextSeqId++, i, sampler(r.request, i), new IncrementalDetokenizer(tokenizer));
            kv.fork(parent.id, child.id);
            r.sequences.add(child);
            scheduler.addRunning(child);
        }
    }

    private void sample(Sequence seq, float[] logits, long now) {
        RequestState r = seq.request;
        GenerationRequest req = r.request;
        SampledToken t = seq.sampler.sample(logits, seq.prompt, seq.generated(), seq.numGenerated());
        int token = t.tokenId();
        seq.append(token);
        r.completionTokens++;
        generationTokens++;
        if (r.firstTokenNanos == 0) {
            r.firstTokenNanos = now;
            metrics.timeToFirstToken((now - r.arrivalNanos) / 1e9);
        } else if (seq.lastTokenNanos != 0) {
            metrics.interTokenLatency((now - seq.lastTokenNanos) / 1e9);
        }
        seq.lastTokenNanos = now;

        boolean eos = !req.ignoreEos() && isStopToken(token);
        String text = seq.stopMatcher.push(eos ? "" : seq.detokenizer.push(token));
        String finish = null;
        if (seq.stopMatcher.stopped() || eos) {
            finish = "stop";
        } else if (seq.numGenerated() >= req.maxTokens() || seq.numTokens() >= config.maxModelLen()) {
            finish = "length";
        }
        if (finish != null && !seq.stopMatcher.stopped()) {
            // Bytes of an unfinished character and text held for a possible stop string go out now.
            text += seq.stopMatcher.push(seq.detokenizer.flush());
            if (!seq.stopMatcher.stopped()) text += seq.stopMatcher.flush();
            // Either push found a stop, or flush cut at one found while an earlier-starting stop was still open.
            if (seq.stopMatcher.stopped()) finish = "stop";
        }
        List<RequestOutput.TokenLogprob> logprobs = req.logprobs() ? List.of(logprob(t)) : null;
        r.pending.add(new RequestOutput.Choice(seq.index, text, logprobs, finish));
        if (finish != null) {
            scheduler.remove(seq);
            r.finishedChoices++;
        }
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

    private boolean isStopToken(int token) {
        for (int s : stopTokenIds) if (s == token) return true;
        return false;
    }

    /** Sends what the request's choices produced this step; the last output carries the usage. */
    private void emit(RequestState r, long now) {
        List<RequestOutput.Choice> choices = List.copyOf(r.pending);
        r.pending.clear();
        RequestOutput.Usage usage = null;
        if (r.finished()) {
            usage = new RequestOutput.Usage(r.request.promptTokens().length, r.completionTokens, r.cachedTokens);
            metrics.e2eLatency((now - r.arrivalNanos) / 1e9);
            live.remove(r.request.id());
        }
        r.request.sink().onOutput(new RequestOutput(choices, usage, null));
    }

    private void expireDeadlines() {
        if (live.isEmpty()) return;
        long now = System.nanoTime();
        for (RequestState r : new ArrayList<>(live.values())) {
            if (now - r.request.deadlineNanos() > 0) {
                metrics.aborted();
                fail(r, "deadline", "request " + r.request.id() + " did not finish before its deadline");
            }
        }
    }

    /**
     * Nothing could be scheduled although requests wait: with nothing running, the first waiting
     * prompt can never fit the pool, so it fails instead of blocking the queue forever.
     */
    private void failUnschedulable() {
        if (scheduler.numRunning() > 0 || scheduler.numSwapped() > 0) return;
        Sequence head = scheduler.headOfWaiting();
        if (head == null) return;
        int blocks = (head.numTokens() + config.blockSize() - 1) / config.blockSize();
        fail(head.request, "engine", "prompt of " + head.numTokens() + " tokens needs " + blocks
                + " KV blocks; the pool cannot provide them (" + kv.numTotalBlocks() + " blocks in all)");
    }

    private void fail(RequestState r, String kind, String message) {
        release(r);
        r.request.sink().onOutput(new RequestOutput(List.of(), null, new RequestOutput.EngineError(kind, message)));
    }

    /** Takes every sequence of the request out of the engine and frees its blocks. */
    private void release(RequestState r) {
        live.remove(r.request.id());
        if (!r.counted) {
            r.counted = true;
            queued.decrementAndGet();
        }
        for (Sequence s : r.sequences) scheduler.remove(s);
    }

    private void publishStats() {
        stats = new EngineStats(scheduler.numRunning(), scheduler.numWaiting(), scheduler.numSwapped(), kv.usage(),
                kv.numFreeBlocks(), kv.numUsedBlocks(), kv.numCachedBlocks(), kv.numTotalBlocks(),
                kv.prefixQueryTokens() - warmupQueryTokens, kv.prefixHitTokens(), scheduler.preemptions(), promptTokens,
                generationTokens, steps, kv.copyOnWriteCopies(), kv.evictions());
    }
}
