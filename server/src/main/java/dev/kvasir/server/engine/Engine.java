package dev.kvasir.server.engine;

import dev.kvasir.blockmanager.BlockPool;
import dev.kvasir.blockmanager.KvCacheManager;
import dev.kvasir.models.LlamaModel;
import dev.kvasir.models.sampling.Sampler;
import dev.kvasir.models.sampling.SamplingParams;
import dev.kvasir.models.tokenizer.IncrementalDetokenizer;
import dev.kvasir.models.tokenizer.Tokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The engine thread: owns the scheduler, the block manager and the model. Requests, aborts and
 * test probes arrive through one queue; each {@link #step} schedules a batch ({@link Scheduler}),
 * runs one forward pass ({@link ModelRunner}) and processes its outputs ({@link OutputProcessor}).
 */
public final class Engine implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Engine.class);

    private sealed interface Command permits Submit, Abort, Probe, EndAll {}
    private record Submit(GenerationRequest request, long arrivalNanos) implements Command {}
    private record Abort(String requestId) implements Command {}
    private record Probe(Runnable task) implements Command {}
    private record EndAll(String message) implements Command {}

    private final LlamaModel model;
    private final KvCacheManager kvManager;
    private final EngineConfig config;
    private final Tokenizer tokenizer;
    private final EngineObserver observer;
    private final Scheduler scheduler;
    private final ModelRunner runner;
    private final OutputProcessor outputs;
    private final MaskPrefetch masks = new MaskPrefetch();
    private final long extraKey;
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
    /** Prefix-cache query tokens of the warm-up's scratch prompts, left out of the published counters. */
    private long warmupQueryTokens;
    /** {@link #warmUpWhenIdle}'s run, taken by the engine thread first thing. */
    private volatile Runnable pendingWarmUp;
    /** When the latest pin ends ({@link System#nanoTime()}); 0 while nothing is pinned. */
    private long pinnedUntil;

    /**
     * @param observer told each request's timings (the server's metrics)
     * @param extraKey mixed into the prefix-cache hashes, so blocks of another model never match
     */
    public Engine(LlamaModel model, EngineConfig config, Tokenizer tokenizer, EngineObserver observer, long extraKey) {
        this.model = model;
        this.config = config;
        this.tokenizer = tokenizer;
        this.observer = observer;
        this.extraKey = extraKey;
        this.kvManager = new KvCacheManager(config.numKvBlocks(), config.blockSize(), config.numCpuBlocks(),
                config.numOffloadBlocks(), config.watermark(), config.enablePrefixCaching());
        this.scheduler = new Scheduler(kvManager, config);
        this.runner = new ModelRunner(model, kvManager, config.numCpuBlocks());
        this.outputs = new OutputProcessor(tokenizer, config.maxModelLen(), observer);
        this.stats = EngineStats.empty(config.numKvBlocks());
        this.thread = Thread.ofPlatform().name("kvasir-engine").daemon(true).unstarted(this::loop);
    }

    public void start() {
        thread.start();
    }

    /**
     * Warms the JIT up before the engine starts: up to {@code maxSteps} real forward steps on scratch
     * sequences (see {@link WarmUp}), stopping early after {@code maxNanos}. Every block is free
     * again afterwards, nothing enters the prefix cache and no counter the engine publishes
     * changes. Call it before {@link #start}.
     *
     * @return the forward steps run
     */
    public int warmUp(int maxSteps, long maxNanos) {
        if (thread.isAlive()) throw new IllegalStateException("warm-up runs before the engine thread starts");
        return runWarmUp(maxSteps, maxNanos, () -> false);
    }

    /**
     * {@link #warmUp} on the engine thread once it starts, while nothing else is asked of it: the
     * first request, abort or probe stops it between two steps (its scratch blocks are freed
     * first) and is handled next. A server listens, and answers {@code /health}, without waiting
     * for it. Call it before {@link #start}.
     *
     * @return completes with the forward steps run
     */
    public CompletableFuture<Integer> warmUpWhenIdle(int maxSteps, long maxNanos) {
        if (thread.isAlive()) throw new IllegalStateException("warm-up runs before the engine thread starts");
        CompletableFuture<Integer> done = new CompletableFuture<>();
        pendingWarmUp = () -> {
            try {
                done.complete(runWarmUp(maxSteps, maxNanos, () -> stopping || !inbox.isEmpty()));
            } catch (RuntimeException e) {
                done.completeExceptionally(e);
                throw e;
            }
        };
        return done;
    }

    private int runWarmUp(int maxSteps, long maxNanos, java.util.function.BooleanSupplier stop) {
        long queriesBefore = kvManager.prefixQueryTokens();
        int ran = new WarmUp(config, kvManager, runner, tokenizer, model.config().vocabSize(), ~extraKey).run(maxSteps, maxNanos, stop);
        warmupQueryTokens += kvManager.prefixQueryTokens() - queriesBefore;
        publishStats();
        return ran;
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

    /**
     * Ends every request in the engine at the next step with a "shutdown" error (a stream gets an
     * error event and its end), freeing their blocks: the end of a drain that ran out of time.
     */
    public void endAll(String message) {
        inbox.add(new EndAll(message));
    }

    /** Runs {@code task} on the engine thread between steps (tests, and the console's KV feed, read the block manager so). */
    public <T> CompletableFuture<T> probe(java.util.function.Function<KvCacheManager, T> task) {
        CompletableFuture<T> result = new CompletableFuture<>();
        inbox.add(new Probe(() -> {
            try {
                result.complete(task.apply(kvManager));
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
        masks.close();
    }

    private void loop() {
        Runnable warmUp = pendingWarmUp;
        pendingWarmUp = null;
        if (warmUp != null) {
            try {
                warmUp.run();
            } catch (RuntimeException e) {
                // A close during a step closes the KV cache under it: nothing to report then.
                if (!stopping) LOG.error("warm-up failed; serving without it", e);
            }
        }
        while (!stopping) {
            try {
                if (!scheduler.hasWork()) {
                    publishStats();
                    handle(inbox.take());
                }
                Command c;
                while ((c = inbox.poll()) != null) handle(c);
                expireDeadlines();
                expirePins();
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
                    observer.aborted();
                }
            }
            case Probe p -> p.task().run();
            case EndAll e -> {
                for (RequestState r : new ArrayList<>(live.values())) fail(r, "shutdown", e.message());
            }
        }
    }

    private void admit(GenerationRequest request, long arrivalNanos) {
        RequestState r = new RequestState(request, arrivalNanos, extraKey);
        if (live.putIfAbsent(request.id(), r) != null) {
            queued.decrementAndGet();
            request.sink().onOutput(new RequestOutput(List.of(), null,
                    new RequestOutput.EngineError("engine", "duplicate request id " + request.id())));
            return;
        }
        Sequence seq = new Sequence(nextSeqId++, r, 0, sampler(request, 0), detokenizer(request));
        r.sequences.add(seq);
        scheduler.addWaiting(seq);
    }

    /**
     * Free text continues the prompt (a SentencePiece continuation keeps its leading space, as vLLM
     * returns it). A constrained output is a document of its own, decoded as its constraint reads
     * the tokens: the first token's dummy-prefix space is dropped, so the text returned is the text
     * the grammar matched ("▁{" comes back as "{", and a regex matches the whole text).
     */
    private IncrementalDetokenizer detokenizer(GenerationRequest request) {
        return request.constraint() != null ? new IncrementalDetokenizer(tokenizer)
                : IncrementalDetokenizer.after(tokenizer, request.promptTokens());
    }

    /** Choice i of a seeded request draws with seed + i, so choices differ and each repeats. */
    private static Sampler sampler(GenerationRequest request, int choice) {
        SamplingParams p = request.sampling();
        return new Sampler(choice > 0 && p.seed() != null ? p.withSeed(p.seed() + choice) : p);
    }

    /** One step, nano-vllm's and vLLM's: schedule, run the model, process its outputs. */
    private void step() {
        ScheduledStep step = scheduler.schedule();
        leaveWaitingQueue(step);
        if (step.isEmpty()) {
            failUnschedulable();
            return;
        }
        // Constrained sequences' masks are computed while the forward pass runs, and are back before sampling.
        Future<?> prefetch = masks.start(step);
        float[][] logits;
        try {
            // The model's reused rows: everything below reads them (sampling, logprobs) before the next step.
            logits = runner.run(step);
        } finally {
            masks.await(prefetch);
        }
        steps++;
        for (Sequence seq : scheduler.markComputed(step)) forkChoices(seq);
        OutputProcessor.Finished finished = outputs.process(step, logits, System.nanoTime());
        for (Sequence seq : finished.sequences()) scheduler.remove(seq);
        for (RequestState r : finished.requests()) {
            live.remove(r.request.id());
            notePin(r);
        }
    }

    /** Requests admitted for the first time this step leave the bounded waiting queue. */
    private void leaveWaitingQueue(ScheduledStep step) {
        for (ScheduledStep.Chunk c : step.chunks()) {
            RequestState r = c.sequence().request;
            if (r.admitted && !r.counted) {
                r.counted = true;
                queued.decrementAndGet();
                promptTokens += r.request.promptTokens().length;
                observer.promptCache(r.request.tenant(), r.request.promptTokens().length, r.cachedTokens);
            }
        }
    }

    /** n > 1: once the prompt is prefilled, the other choices share its blocks (copy-on-write). */
    private void forkChoices(Sequence parent) {
        RequestState r = parent.request;
        if (r.forked) return;
        r.forked = true;
        for (int i = 1; i < r.request.n(); i++) {
            Sequence child = parent.fork(nextSeqId++, i, sampler(r.request, i), detokenizer(r.request));
            kvManager.fork(parent.id, child.id);
            r.sequences.add(child);
            scheduler.addRunning(child);
        }
    }

    /** A pinned prefix stays pinned until the latest pin a request asked for has passed. */
    private void notePin(RequestState r) {
        long pin = r.request.cache().pinNanos();
        if (pin <= 0) return;
        long until = System.nanoTime() + pin;
        if (pinnedUntil == 0 || until - pinnedUntil > 0) pinnedUntil = until;
    }

    private void expirePins() {
        if (pinnedUntil != 0 && System.nanoTime() - pinnedUntil > 0) {
            kvManager.unpinAll();
            pinnedUntil = 0;
        }
    }

    private void expireDeadlines() {
        if (live.isEmpty()) return;
        long now = System.nanoTime();
        for (RequestState r : new ArrayList<>(live.values())) {
            if (now - r.request.deadlineNanos() > 0) {
                observer.aborted();
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
                + " KV blocks; the pool cannot provide them (" + kvManager.numTotalBlocks() + " blocks in all)");
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
        notePin(r);
    }

    private void publishStats() {
        stats = new EngineStats(scheduler.numRunning(), scheduler.numWaiting(), scheduler.numSwapped(), kvManager.usage(),
                kvManager.numFreeBlocks(), kvManager.numUsedBlocks(), kvManager.numCachedBlocks(), kvManager.numTotalBlocks(),
                kvManager.prefixQueryTokens() - warmupQueryTokens, kvManager.prefixHitTokens(), scheduler.preemptions(), promptTokens,
                outputs.generatedTokens(), steps, kvManager.copyOnWriteCopies(), kvManager.evictions(),
                kvManager.numRetainedBlocks(BlockPool.Retention.SESSION), kvManager.numRetainedBlocks(BlockPool.Retention.PINNED),
                kvManager.numOffloadedBlocks(), kvManager.offloadStores(), kvManager.offloadHitTokens());
    }

}
