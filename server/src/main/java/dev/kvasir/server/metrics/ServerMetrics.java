package dev.kvasir.server.metrics;

import dev.kvasir.memory.MemoryStats;
import dev.kvasir.server.engine.EngineObserver;
import dev.kvasir.server.engine.EngineStats;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * The Prometheus registry behind {@code GET /metrics}. vLLM's names where vLLM has the metric (so
 * existing dashboards work), ours under {@code kvasir:}. Engine state is read from the latest
 * {@link EngineStats} snapshot, so a scrape never touches the engine thread's structures.
 * Latencies are histograms in seconds with vLLM's bucket bounds.
 */
public final class ServerMetrics implements EngineObserver {

    private static final double[] TTFT_BUCKETS = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
            0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
    private static final double[] ITL_BUCKETS = {0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3,
            0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0};
    private static final double[] E2E_BUCKETS = {0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
            40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0};

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final DistributionSummary ttft;
    private final DistributionSummary itl;
    private final DistributionSummary e2e;
    private final Counter rejected;
    private final Counter clientErrors;
    private final Counter aborted;
    /** Micrometer holds gauge sources weakly; this field keeps the snapshot source alive. */
    private final Supplier<EngineStats> stats;

    public ServerMetrics(String modelName, Supplier<EngineStats> stats) {
        this.stats = stats;
        registry.config().commonTags("model_name", modelName);
        gauge("vllm:num_requests_running", "Requests in the running batch", stats, EngineStats::running);
        gauge("vllm:num_requests_waiting", "Requests waiting to be scheduled", stats, EngineStats::waiting);
        gauge("vllm:num_requests_swapped", "Requests swapped out to the CPU block pool", stats, EngineStats::swapped);
        gauge("vllm:kv_cache_usage_perc", "Fraction of KV cache blocks in use (1 = full)", stats, EngineStats::kvUsage);
        gauge("kvasir:kv_blocks_free", "Free KV cache blocks (including cached ones)", stats, EngineStats::kvBlocksFree);
        gauge("kvasir:kv_blocks_used", "KV cache blocks referenced by a sequence", stats, EngineStats::kvBlocksUsed);
        gauge("kvasir:kv_blocks_cached", "Free KV cache blocks that still hold a prefix-cache entry", stats, EngineStats::kvBlocksCached);
        // Not "_total": the Prometheus client keeps that suffix for counters and would strip it from a gauge.
        gauge("kvasir:kv_pool_blocks", "KV cache blocks in the pool", stats, EngineStats::kvBlocksTotal);
        counter("vllm:prefix_cache_queries", "Prompt tokens looked up in the prefix cache", stats, EngineStats::prefixQueryTokens);
        counter("vllm:prefix_cache_hits", "Prompt tokens served from the prefix cache", stats, EngineStats::prefixHitTokens);
        counter("vllm:num_preemptions", "Sequences preempted under KV cache pressure", stats, EngineStats::preemptions);
        counter("vllm:prompt_tokens", "Prompt tokens processed (prefill, including cache hits)", stats, EngineStats::promptTokens);
        counter("vllm:generation_tokens", "Tokens generated", stats, EngineStats::generationTokens);
        counter("kvasir:engine_steps", "Engine steps (one forward pass each)", stats, EngineStats::steps);
        counter("kvasir:copy_on_write_copies", "KV blocks copied on write after a fork", stats, EngineStats::copyOnWriteCopies);
        counter("kvasir:prefix_cache_evictions", "Prefix-cache blocks evicted for reuse", stats, EngineStats::evictions);
        Gauge.builder("kvasir:kv_blocks_retained", stats, s -> s.get().kvBlocksRetainedSession()).tag("class", "session")
                .description("Free cached blocks kept for active sessions and shared prefixes (evicted after plain ones)").register(registry);
        Gauge.builder("kvasir:kv_blocks_retained", stats, s -> s.get().kvBlocksRetainedPinned()).tag("class", "pinned")
                .description("Free cached blocks pinned by requests (memory.pin_prefix)").register(registry);
        gauge("kvasir:kv_offload_blocks_used", "Host offload-tier blocks holding an evicted prefix", stats, EngineStats::offloadBlocksUsed);
        counter("kvasir:kv_offload_stores", "Cached prefix blocks copied to the host tier on eviction", stats, EngineStats::offloadStores);
        counter("kvasir:kv_offload_hit_tokens", "Prompt tokens loaded back from the host tier instead of recomputed", stats,
                EngineStats::offloadHitTokens);
        ttft = histogram("vllm:time_to_first_token_seconds", "Time to first token", TTFT_BUCKETS);
        itl = histogram("vllm:inter_token_latency_seconds", "Time between consecutive tokens of a choice", ITL_BUCKETS);
        e2e = histogram("vllm:e2e_request_latency_seconds", "Time from arrival to the last token", E2E_BUCKETS);
        rejected = Counter.builder("kvasir:requests_rejected").description("Requests refused with 503 (waiting queue full, workers busy or engine down)").register(registry);
        clientErrors = Counter.builder("kvasir:client_errors").description("Requests answered with a 4xx status").register(registry);
        aborted = Counter.builder("kvasir:requests_aborted").description("Requests cancelled by a disconnect or a deadline").register(registry);
    }

    private void gauge(String name, String help, Supplier<EngineStats> stats, ToDoubleFunction<EngineStats> f) {
        Gauge.builder(name, stats, s -> f.applyAsDouble(s.get())).description(help).register(registry);
    }

    private void counter(String name, String help, Supplier<EngineStats> stats, ToDoubleFunction<EngineStats> f) {
        FunctionCounter.builder(name, stats, s -> f.applyAsDouble(s.get())).description(help).register(registry);
    }

    private DistributionSummary histogram(String name, String help, double[] buckets) {
        return DistributionSummary.builder(name).description(help).serviceLevelObjectives(buckets).register(registry);
    }

    @Override public void timeToFirstToken(double seconds) { ttft.record(seconds); }
    @Override public void interTokenLatency(double seconds) { itl.record(seconds); }
    @Override public void e2eLatency(double seconds) { e2e.record(seconds); }
    @Override public void aborted() { aborted.increment(); }

    @Override
    public void promptCache(String tenant, int promptTokens, int cachedTokens) {
        // Tenants come from the key file: a bounded set of label values.
        Counter.builder("kvasir:prefix_cache_queries_by_tenant").tag("tenant", tenant)
                .description("Prompt tokens looked up in the prefix cache, per tenant").register(registry).increment(promptTokens);
        Counter.builder("kvasir:prefix_cache_hits_by_tenant").tag("tenant", tenant)
                .description("Prompt tokens served from the prefix cache, per tenant").register(registry).increment(cachedTokens);
    }
    public void rejected() { rejected.increment(); }
    public void clientError() { clientErrors.increment(); }

    private DistributionSummary memorySearch;
    /** Micrometer holds gauge sources weakly; this field keeps the memory counters alive. */
    private MemoryStats memoryStats;

    /**
     * Exports the agent memory's counters: searches, the share of searches that found a memory above
     * the similarity floor (under 60% means retrieval needs work), search latency, memories stored,
     * store errors. Called once at start-up when memory is on.
     */
    public void memory(MemoryStats stats) {
        this.memoryStats = stats;
        FunctionCounter.builder("kvasir:memory_searches", stats, MemoryStats::searches)
                .description("Memory searches (API and chat injection)").register(registry);
        FunctionCounter.builder("kvasir:memory_search_hits", stats, MemoryStats::searchHits)
                .description("Memory searches that returned a memory above the similarity floor").register(registry);
        Gauge.builder("kvasir:memory_hit_rate", stats, s -> s.searches() == 0 ? 0 : (double) s.searchHits() / s.searches())
                .description("Share of memory searches with a hit above the similarity floor").register(registry);
        FunctionCounter.builder("kvasir:memories_stored", stats, MemoryStats::stored)
                .description("Memories written (API and recorded chat turns)").register(registry);
        FunctionCounter.builder("kvasir:memory_store_errors", stats, MemoryStats::storeErrors)
                .description("Memory store operations that failed").register(registry);
        memorySearch = histogram("kvasir:memory_search_seconds", "Memory search latency, query embedding included", TTFT_BUCKETS);
    }

    /** One memory search took {@code seconds}. */
    public void memorySearch(double seconds) {
        DistributionSummary h = memorySearch;
        if (h != null) h.record(seconds);
    }

    /** The Prometheus text exposition (format 0.0.4). */
    public String scrape() {
        return registry.scrape();
    }
}
