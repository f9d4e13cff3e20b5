package dev.kvasir.server;

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
        int warmupSteps) {

    /** {@code kvasir serve}'s default {@link #warmupSteps}. */
    public static final int DEFAULT_WARMUP_STEPS = 128;

    public ServerConfig {
        if (warmupSteps < 0) throw new IllegalArgumentException("--warmup-steps must be 0 or more: " + warmupSteps);
    }

    /** On the CPU (the configuration before the device could be chosen), without a start-up warm-up. */
    public ServerConfig(Path model, String servedModelName, String host, int port, String apiKey, Integer maxModelLen,
                        int blockSize, Integer numKvBlocks, long kvCacheMemoryBytes, int maxNumSeqs, int maxNumBatchedTokens,
                        boolean enablePrefixCaching, long swapSpaceBytes, EngineConfig.PreemptionMode preemptionMode,
                        int threads, int maxWaitingRequests, double requestTimeoutSeconds, int maxBodyBytes) {
        this(model, servedModelName, host, port, apiKey, maxModelLen, blockSize, numKvBlocks, kvCacheMemoryBytes, maxNumSeqs,
                maxNumBatchedTokens, enablePrefixCaching, swapSpaceBytes, preemptionMode, threads, maxWaitingRequests,
                requestTimeoutSeconds, maxBodyBytes, "cpu", 0.90, 0);
    }

    /** Defaults of {@code kvasir serve} for {@code model}, on a free loopback port. */
    public static ServerConfig defaults(Path model) {
        return new ServerConfig(model, null, "127.0.0.1", 0, null, null, 16, null, 512L << 20, 256, 2048, true,
                0, EngineConfig.PreemptionMode.RECOMPUTE, 0, 1024, 600, 8 << 20).withWarmupSteps(DEFAULT_WARMUP_STEPS);
    }

    public ServerConfig withPort(int port) {
        return new ServerConfig(model, servedModelName, host, port, apiKey, maxModelLen, blockSize, numKvBlocks,
                kvCacheMemoryBytes, maxNumSeqs, maxNumBatchedTokens, enablePrefixCaching, swapSpaceBytes, preemptionMode,
                threads, maxWaitingRequests, requestTimeoutSeconds, maxBodyBytes, device, gpuMemoryUtilization, warmupSteps);
    }

    public ServerConfig withApiKey(String key) {
        return new ServerConfig(model, servedModelName, host, port, key, maxModelLen, blockSize, numKvBlocks,
                kvCacheMemoryBytes, maxNumSeqs, maxNumBatchedTokens, enablePrefixCaching, swapSpaceBytes, preemptionMode,
                threads, maxWaitingRequests, requestTimeoutSeconds, maxBodyBytes, device, gpuMemoryUtilization, warmupSteps);
    }

    public ServerConfig withKv(int numKvBlocks, long swapSpaceBytes, EngineConfig.PreemptionMode mode) {
        return new ServerConfig(model, servedModelName, host, port, apiKey, maxModelLen, blockSize, numKvBlocks,
                kvCacheMemoryBytes, maxNumSeqs, maxNumBatchedTokens, enablePrefixCaching, swapSpaceBytes, mode,
                threads, maxWaitingRequests, requestTimeoutSeconds, maxBodyBytes, device, gpuMemoryUtilization, warmupSteps);
    }

    public ServerConfig withLimits(int maxNumSeqs, int maxNumBatchedTokens, int maxWaitingRequests, double requestTimeoutSeconds) {
        return new ServerConfig(model, servedModelName, host, port, apiKey, maxModelLen, blockSize, numKvBlocks,
                kvCacheMemoryBytes, maxNumSeqs, maxNumBatchedTokens, enablePrefixCaching, swapSpaceBytes, preemptionMode,
                threads, maxWaitingRequests, requestTimeoutSeconds, maxBodyBytes, device, gpuMemoryUtilization, warmupSteps);
    }

    public ServerConfig withThreads(int threads) {
        return new ServerConfig(model, servedModelName, host, port, apiKey, maxModelLen, blockSize, numKvBlocks,
                kvCacheMemoryBytes, maxNumSeqs, maxNumBatchedTokens, enablePrefixCaching, swapSpaceBytes, preemptionMode,
                threads, maxWaitingRequests, requestTimeoutSeconds, maxBodyBytes, device, gpuMemoryUtilization, warmupSteps);
    }

    public ServerConfig withDevice(String device, double gpuMemoryUtilization) {
        return new ServerConfig(model, servedModelName, host, port, apiKey, maxModelLen, blockSize, numKvBlocks,
                kvCacheMemoryBytes, maxNumSeqs, maxNumBatchedTokens, enablePrefixCaching, swapSpaceBytes, preemptionMode,
                threads, maxWaitingRequests, requestTimeoutSeconds, maxBodyBytes, device, gpuMemoryUtilization, warmupSteps);
    }

    public ServerConfig withWarmupSteps(int warmupSteps) {
        return new ServerConfig(model, servedModelName, host, port, apiKey, maxModelLen, blockSize, numKvBlocks,
                kvCacheMemoryBytes, maxNumSeqs, maxNumBatchedTokens, enablePrefixCaching, swapSpaceBytes, preemptionMode,
                threads, maxWaitingRequests, requestTimeoutSeconds, maxBodyBytes, device, gpuMemoryUtilization, warmupSteps);
    }
}
