package dev.kvasir.server;

import dev.kvasir.memory.MemoryFeatures;
import dev.kvasir.memory.store.MemoryStores;
import dev.kvasir.models.tools.ToolCallFormat;
import dev.kvasir.server.api.MemoryPlacement;
import dev.kvasir.server.engine.EngineConfig;

import java.nio.file.Path;

/**
 * Everything {@code kvasir serve} can set. Null means "derive it": the model's context length, or
 * a KV pool sized from {@code kvCacheMemoryBytes} (on CUDA: from the device memory plan).
 *
 * @param servedModelName the name clients send as {@code model}; null: the file name without extension
 * @param port            0 picks a free port
 * @param apiKey          bearer token clients must send; null: open
 * @param maxModelLen     tokens per sequence at most; null: the model's context length
 * @param numKvBlocks     KV pool size in blocks; null: from kvCacheMemoryBytes
 * @param swapSpaceBytes  CPU swap pool for {@code --preemption-mode swap}
 * @param threads         CPU backend workers (0: all cores)
 * @param requestTimeoutSeconds deadline of each generation
 * @param maxBodyBytes    larger request bodies get 413
 * @param device          {@code cpu} or {@code cuda}
 * @param gpuMemoryUtilization on CUDA, the share of device memory for weights, activations and the KV
 *                        cache; the KV pool is what is left of it (numKvBlocks, when set, overrides)
 * @param warmupSteps     forward steps run on scratch sequences at start-up, before requests are
 *                        accepted, so the JIT has compiled the step's code (0: none)
 * @param listener        TLS, the API key file, connection and per-key limits
 * @param memoryStore     where agent memory lives: {@code sqlite:PATH}, {@code postgresql://...}, or
 *                        {@code none} (memory off, and the embedding model never loaded)
 * @param shutdownTimeoutSeconds on SIGTERM, how long requests in progress may still run before they are cut
 * @param kvRetention     which cached prefixes are evicted first ({@code --kv-retention})
 * @param kvOffloadBytes  host memory that keeps evicted cached prefixes for a copy back ({@code --kv-offload-gb}; 0: none)
 * @param kvCacheDtype    how K and V are stored: auto, f32 (CPU), f16 or bf16 ({@link dev.kvasir.models.Backends#create(String, int, String)})
 * @param ui              serve the web console at {@code /} ({@code --no-ui} turns it off; the API,
 *                        {@code /v1/kv/stream} included, is unchanged)
 * @param memoryPlacement where chat puts retrieved memories ({@code --memory-placement}; {@code block} is the
 *                        agent-sessions benchmark's ablation)
 * @param toolCallParser  how the model writes tool calls ({@code --tool-call-parser}); null: what its chat template teaches
 * @param tensorParallelSize ranks the model is split over: GPUs 0 .. N-1 on CUDA, groups of the
 *                        {@code threads} workers on the CPU (1: no split)
 * @param memoryFeatures  the memory's fact extractor, summarizer, policy and budgets, vectors ({@code --memory-*})
 */
public record ServerConfig(
        Path model,
        String servedModelName,
        String host,
        int port,
        String apiKey,
        Integer maxModelLen,
        int blockSize,
        Integer numKvBlocks,
        long kvCacheMemoryBytes,
        int maxNumSeqs,
        int maxNumBatchedTokens,
        boolean enablePrefixCaching,
        long swapSpaceBytes,
        EngineConfig.PreemptionMode preemptionMode,
        int threads,
        int maxWaitingRequests,
        double requestTimeoutSeconds,
        int maxBodyBytes,
        String device,
        double gpuMemoryUtilization,
        int warmupSteps,
        ListenerConfig listener,
        String memoryStore,
        double shutdownTimeoutSeconds,
        EngineConfig.KvRetention kvRetention,
        long kvOffloadBytes,
        String kvCacheDtype,
        boolean ui,
        MemoryPlacement memoryPlacement,
        ToolCallFormat toolCallParser,
        int tensorParallelSize,
        MemoryFeatures memoryFeatures) {

    /** {@code kvasir serve}'s default {@link #shutdownTimeoutSeconds}: Kubernetes' default grace period. */
    public static final double DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 30;

    /** {@code kvasir serve}'s default {@link #warmupSteps}. */
    public static final int DEFAULT_WARMUP_STEPS = 128;

    public ServerConfig {
        if (warmupSteps < 0) throw new IllegalArgumentException("--warmup-steps must be 0 or more: " + warmupSteps);
        if (tensorParallelSize < 1) {
            throw new IllegalArgumentException("--tensor-parallel-size must be at least 1: " + tensorParallelSize);
        }
        if (maxBodyBytes <= 0) throw new IllegalArgumentException("--max-request-body must be 1 byte or more: " + maxBodyBytes);
        if (listener == null) throw new IllegalArgumentException("listener is null: use ListenerConfig.DEFAULTS");
        if (memoryStore == null || memoryStore.isBlank()) throw new IllegalArgumentException("--memory-store is empty: give a store, or none");
        if (kvRetention == null) throw new IllegalArgumentException("--kv-retention is null: lru or session");
        if (kvOffloadBytes < 0) throw new IllegalArgumentException("--kv-offload-gb must be 0 or more: " + kvOffloadBytes + " bytes");
        if (!(shutdownTimeoutSeconds >= 0)) throw new IllegalArgumentException("--shutdown-timeout must be 0 or more seconds: " + shutdownTimeoutSeconds);
        if (memoryFeatures == null) throw new IllegalArgumentException("memoryFeatures is null: use MemoryFeatures.DEFAULTS");
    }

    /** Defaults of {@code kvasir serve} for {@code model}, on a free loopback port. */
    public static ServerConfig defaults(Path model) {
        return builder(model).build();
    }

    /** A builder holding {@code kvasir serve}'s defaults for {@code model}, on a free loopback port. */
    public static Builder builder(Path model) {
        return new Builder(model);
    }

    /** A builder holding this configuration, to change a few settings. */
    public Builder toBuilder() {
        Builder b = new Builder(model);
        b.servedModelName = servedModelName;
        b.host = host;
        b.port = port;
        b.apiKey = apiKey;
        b.maxModelLen = maxModelLen;
        b.blockSize = blockSize;
        b.numKvBlocks = numKvBlocks;
        b.kvCacheMemoryBytes = kvCacheMemoryBytes;
        b.maxNumSeqs = maxNumSeqs;
        b.maxNumBatchedTokens = maxNumBatchedTokens;
        b.enablePrefixCaching = enablePrefixCaching;
        b.swapSpaceBytes = swapSpaceBytes;
        b.preemptionMode = preemptionMode;
        b.threads = threads;
        b.maxWaitingRequests = maxWaitingRequests;
        b.requestTimeoutSeconds = requestTimeoutSeconds;
        b.maxBodyBytes = maxBodyBytes;
        b.device = device;
        b.gpuMemoryUtilization = gpuMemoryUtilization;
        b.warmupSteps = warmupSteps;
        b.listener = listener;
        b.memoryStore = memoryStore;
        b.shutdownTimeoutSeconds = shutdownTimeoutSeconds;
        b.kvRetention = kvRetention;
        b.kvOffloadBytes = kvOffloadBytes;
        b.toolCallParser = toolCallParser;
        b.kvCacheDtype = kvCacheDtype;
        b.ui = ui;
        b.memoryPlacement = memoryPlacement;
        b.tensorParallelSize = tensorParallelSize;
        b.memoryFeatures = memoryFeatures;
        return b;
    }

    public ServerConfig withPort(int port) {
        return toBuilder().port(port).build();
    }

    public ServerConfig withApiKey(String key) {
        return toBuilder().apiKey(key).build();
    }

    public ServerConfig withKv(int numKvBlocks, long swapSpaceBytes, EngineConfig.PreemptionMode mode) {
        return toBuilder().numKvBlocks(numKvBlocks).swapSpaceBytes(swapSpaceBytes).preemptionMode(mode).build();
    }

    public ServerConfig withLimits(int maxNumSeqs, int maxNumBatchedTokens, int maxWaitingRequests, double requestTimeoutSeconds) {
        return toBuilder().maxNumSeqs(maxNumSeqs).maxNumBatchedTokens(maxNumBatchedTokens)
                .maxWaitingRequests(maxWaitingRequests).requestTimeoutSeconds(requestTimeoutSeconds).build();
    }

    public ServerConfig withThreads(int threads) {
        return toBuilder().threads(threads).build();
    }

    public ServerConfig withDevice(String device, double gpuMemoryUtilization) {
        return toBuilder().device(device).gpuMemoryUtilization(gpuMemoryUtilization).build();
    }

    public ServerConfig withWarmupSteps(int warmupSteps) {
        return toBuilder().warmupSteps(warmupSteps).build();
    }

    public ServerConfig withListener(ListenerConfig listener) {
        return toBuilder().listener(listener).build();
    }

    public ServerConfig withMemoryStore(String spec) {
        return toBuilder().memoryStore(spec).build();
    }

    /** Settings one by one, starting from {@code kvasir serve}'s defaults. */
    public static final class Builder {
        private final Path model;
        private String servedModelName;
        private String host = "127.0.0.1";
        private int port;
        private String apiKey;
        private Integer maxModelLen;
        private int blockSize = 16;
        private Integer numKvBlocks;
        private long kvCacheMemoryBytes = 512L << 20;
        private int maxNumSeqs = 256;
        private int maxNumBatchedTokens = 2048;
        private boolean enablePrefixCaching = true;
        private long swapSpaceBytes;
        private EngineConfig.PreemptionMode preemptionMode = EngineConfig.PreemptionMode.RECOMPUTE;
        private int threads;
        private int maxWaitingRequests = 1024;
        private double requestTimeoutSeconds = 600;
        private int maxBodyBytes = 8 << 20;
        private String device = "cpu";
        private double gpuMemoryUtilization = 0.90;
        private int warmupSteps = DEFAULT_WARMUP_STEPS;
        private ListenerConfig listener = ListenerConfig.DEFAULTS;
        private String memoryStore = MemoryStores.DEFAULT_SPEC;
        private double shutdownTimeoutSeconds = DEFAULT_SHUTDOWN_TIMEOUT_SECONDS;
        private EngineConfig.KvRetention kvRetention = EngineConfig.KvRetention.SESSION;
        private long kvOffloadBytes;
        private ToolCallFormat toolCallParser;
        private String kvCacheDtype = "auto";
        private boolean ui = true;
        private MemoryPlacement memoryPlacement = MemoryPlacement.TURN;
        private int tensorParallelSize = 1;
        private MemoryFeatures memoryFeatures = MemoryFeatures.DEFAULTS;

        private Builder(Path model) {
            this.model = model;
        }

        public Builder servedModelName(String v) { servedModelName = v; return this; }
        public Builder host(String v) { host = v; return this; }
        public Builder port(int v) { port = v; return this; }
        public Builder apiKey(String v) { apiKey = v; return this; }
        public Builder maxModelLen(Integer v) { maxModelLen = v; return this; }
        public Builder blockSize(int v) { blockSize = v; return this; }
        public Builder numKvBlocks(Integer v) { numKvBlocks = v; return this; }
        public Builder kvCacheMemoryBytes(long v) { kvCacheMemoryBytes = v; return this; }
        public Builder maxNumSeqs(int v) { maxNumSeqs = v; return this; }
        public Builder maxNumBatchedTokens(int v) { maxNumBatchedTokens = v; return this; }
        public Builder enablePrefixCaching(boolean v) { enablePrefixCaching = v; return this; }
        public Builder swapSpaceBytes(long v) { swapSpaceBytes = v; return this; }
        public Builder preemptionMode(EngineConfig.PreemptionMode v) { preemptionMode = v; return this; }
        public Builder threads(int v) { threads = v; return this; }
        public Builder maxWaitingRequests(int v) { maxWaitingRequests = v; return this; }
        public Builder requestTimeoutSeconds(double v) { requestTimeoutSeconds = v; return this; }
        public Builder maxBodyBytes(int v) { maxBodyBytes = v; return this; }
        public Builder device(String v) { device = v; return this; }
        public Builder gpuMemoryUtilization(double v) { gpuMemoryUtilization = v; return this; }
        public Builder warmupSteps(int v) { warmupSteps = v; return this; }
        public Builder listener(ListenerConfig v) { listener = v; return this; }
        public Builder memoryStore(String v) { memoryStore = v; return this; }
        public Builder shutdownTimeoutSeconds(double v) { shutdownTimeoutSeconds = v; return this; }
        public Builder kvRetention(EngineConfig.KvRetention v) { kvRetention = v; return this; }
        public Builder kvOffloadBytes(long v) { kvOffloadBytes = v; return this; }
        public Builder toolCallParser(ToolCallFormat v) { toolCallParser = v; return this; }
        public Builder kvCacheDtype(String v) { kvCacheDtype = v; return this; }
        public Builder ui(boolean v) { ui = v; return this; }
        public Builder memoryPlacement(MemoryPlacement v) { memoryPlacement = v; return this; }
        public Builder tensorParallelSize(int v) { tensorParallelSize = v; return this; }
        public Builder memoryFeatures(MemoryFeatures v) { memoryFeatures = v; return this; }

        public ServerConfig build() {
            return new ServerConfig(model, servedModelName, host, port, apiKey, maxModelLen, blockSize, numKvBlocks,
                    kvCacheMemoryBytes, maxNumSeqs, maxNumBatchedTokens, enablePrefixCaching, swapSpaceBytes,
                    preemptionMode, threads, maxWaitingRequests, requestTimeoutSeconds, maxBodyBytes, device,
                    gpuMemoryUtilization, warmupSteps, listener, memoryStore, shutdownTimeoutSeconds, kvRetention, kvOffloadBytes,
                    kvCacheDtype, ui, memoryPlacement, toolCallParser, tensorParallelSize, memoryFeatures);
        }
    }
}
