package dev.kvasir.server.cli;

import dev.kvasir.memory.MemoryFeatures;
import dev.kvasir.memory.VectorMode;
import dev.kvasir.memory.facts.ExtractorMode;
import dev.kvasir.memory.policy.PolicyKind;
import dev.kvasir.memory.store.MemoryStores;
import dev.kvasir.memory.summary.SummarizerMode;
import dev.kvasir.models.Backends;
import dev.kvasir.models.tools.ToolCallFormat;
import dev.kvasir.server.KvasirServer;
import dev.kvasir.server.ListenerConfig;
import dev.kvasir.server.ServerConfig;
import dev.kvasir.server.api.MemoryPlacement;
import dev.kvasir.server.api.RateLimit;
import dev.kvasir.server.engine.EngineConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code kvasir serve}: the OpenAI-compatible server. Flags follow vLLM's where vLLM has one. */
@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Serve a model over an OpenAI-compatible HTTP API (chat, completions, streaming, metrics).")
public final class ServeCommand implements Callable<Integer> {

    @Option(names = "--model", description = "GGUF file or Hugging Face directory (default: stories260K, fetched once)")
    Path model;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "address to listen on (default: ${DEFAULT-VALUE})")
    String host;

    @Option(names = "--port", defaultValue = "8000", description = "port (default: ${DEFAULT-VALUE}; 0 picks a free one)")
    int port;

    @Option(names = "--api-key", description = "require 'Authorization: Bearer KEY' (also $KVASIR_API_KEY); tenant 'default'")
    String apiKey;

    @Option(names = "--api-key-file", paramLabel = "FILE",
            description = "accept the keys in FILE: one 'TENANT KEY' per line, '#' comments; read again on SIGHUP"
                    + " (a bad file then changes nothing and logs why)")
    Path apiKeyFile;

    @Option(names = "--served-model-name", description = "model name clients send (default: the file name)")
    String servedModelName;

    @Option(names = "--max-model-len", description = "tokens per sequence at most (default: the model's context length)")
    Integer maxModelLen;

    @Option(names = "--block-size", defaultValue = "16", description = "tokens per KV block (a power of two; default: ${DEFAULT-VALUE})")
    int blockSize;

    @Option(names = "--num-kv-blocks",
            description = "KV pool size in blocks (instead of --kv-cache-memory, or on CUDA of the memory plan)")
    Integer numKvBlocks;

    @Option(names = "--kv-cache-memory", defaultValue = "512MiB", converter = ByteSize.Bytes.class,
            description = "memory for the KV pool on the CPU: 2GiB, 1.5GiB, 512MiB, 2GB (10^9), or bytes"
                    + " (default: ${DEFAULT-VALUE}); CUDA sizes it by --gpu-memory-utilization")
    long kvCacheMemory;

    @Option(names = "--max-num-seqs", defaultValue = "256", description = "sequences per batch at most (default: ${DEFAULT-VALUE})")
    int maxNumSeqs;

    @Option(names = "--max-num-batched-tokens", defaultValue = "2048",
            description = "tokens per forward pass at most; longer prompts prefill in chunks (default: ${DEFAULT-VALUE})")
    int maxNumBatchedTokens;

    @Option(names = "--enable-prefix-caching", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "reuse the KV of shared prompt prefixes (default: on)")
    boolean enablePrefixCaching;

    @Option(names = "--swap-space", defaultValue = "0", converter = ByteSize.GibibytesByDefault.class,
            description = "CPU swap pool for --preemption-mode swap: a plain number is GiB, as in vLLM (4, 0.5),"
                    + " or give a unit: 512MiB, 2GB (default: 0; 1GiB when swap is asked for)")
    long swapSpace;

    @Option(names = "--kv-retention", defaultValue = "session", paramLabel = "lru|session",
            description = "which cached prefixes go first when the KV pool is full: lru (vLLM's), or session: active"
                    + " sessions', shared and pinned prefixes last (default: ${DEFAULT-VALUE})")
    String kvRetention;

    @Option(names = "--kv-offload-gb", defaultValue = "0", converter = ByteSize.GibibytesByDefault.class, paramLabel = "SIZE",
            description = "host memory that keeps cached prefixes evicted from the device, to copy back instead of"
                    + " recomputing: a plain number is GiB, or give a unit (default: 0, off)")
    long kvOffload;

    @Option(names = "--preemption-mode", defaultValue = "recompute",
            description = "what preemption does: recompute or swap (default: ${DEFAULT-VALUE})")
    String preemptionMode;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu (default) or cuda")
    String device;

    @Option(names = "--gpu-memory-utilization", defaultValue = "0.90",
            description = "on CUDA, the share of GPU memory for weights, activations and the KV cache, which gets what is"
                    + " left (default: ${DEFAULT-VALUE})")
    double gpuMemoryUtilization;

    @Option(names = "--threads", defaultValue = "0", description = "CPU worker threads (0: all cores)")
    int threads;

    @Option(names = {"--tensor-parallel-size", "-tp"}, defaultValue = "1",
            description = "split the model over N ranks: GPUs 0 .. N-1 with NCCL on cuda, groups of the --threads workers"
                    + " on cpu (default: ${DEFAULT-VALUE})")
    int tensorParallelSize;

    @Option(names = "--max-waiting-requests", defaultValue = "1024",
            description = "queued requests at most; more get 503 with Retry-After (default: ${DEFAULT-VALUE})")
    int maxWaitingRequests;

    @Option(names = "--request-timeout", defaultValue = "600", description = "seconds a generation may take (default: ${DEFAULT-VALUE})")
    double requestTimeout;

    @Option(names = "--warmup-steps", defaultValue = "" + ServerConfig.DEFAULT_WARMUP_STEPS,
            description = "forward steps at several batch sizes on scratch sequences before serving, so the JIT has"
                    + " compiled the step (at most " + KvasirServer.WARMUP_SECONDS + " s; 0 disables; default: ${DEFAULT-VALUE})")
    int warmupSteps;

    @Option(names = "--kv-cache-dtype", defaultValue = "auto",
            description = "how K and V are stored: auto (f32 on the CPU, exact; f16 on CUDA), f32, f16 or bf16 (half the"
                    + " bytes per token) (default: ${DEFAULT-VALUE})")
    String kvCacheDtype;

    @Option(names = "--max-request-body", defaultValue = "8MiB", converter = ByteSize.Bytes.class,
            description = "larger request bodies get 413: 8MiB, 100KiB, or bytes (default: ${DEFAULT-VALUE})")
    long maxRequestBody;

    @Option(names = "--header-timeout", defaultValue = "" + ListenerConfig.DEFAULT_HEADER_TIMEOUT_SECONDS, paramLabel = "SECONDS",
            description = "close a connection that has not sent a request's complete headers this long after it opened"
                    + " or after its last response (slow clients, idle keep-alive; default: ${DEFAULT-VALUE})")
    double headerTimeout;

    @Option(names = "--max-connections", defaultValue = "" + ListenerConfig.DEFAULT_MAX_CONNECTIONS,
            description = "open connections at most; a connection past it gets 503 and is closed (0: no limit;"
                    + " default: ${DEFAULT-VALUE})")
    int maxConnections;

    @Option(names = "--rate-limit", paramLabel = "Nrpm,Ntpm",
            description = "per API key: requests and/or tokens per minute, e.g. 600rpm,100000tpm or 60rpm; prompt tokens"
                    + " count when a request is admitted, completion tokens as they are generated; over it: 429 with"
                    + " Retry-After (default: none)")
    String rateLimit;

    @Option(names = "--max-concurrent-requests-per-key", defaultValue = "0", paramLabel = "N",
            description = "requests of one API key served at once; more get 429 (0: no limit; default: ${DEFAULT-VALUE})")
    int maxConcurrentRequestsPerKey;

    @Option(names = "--ssl-keyfile", paramLabel = "FILE",
            description = "serve HTTPS with this PEM private key (PKCS#8, PKCS#1 RSA or EC; unencrypted)")
    Path sslKeyFile;

    @Option(names = "--ssl-certfile", paramLabel = "FILE", description = "the PEM certificate chain for --ssl-keyfile")
    Path sslCertFile;

    @Option(names = "--memory-store", defaultValue = MemoryStores.DEFAULT_SPEC, paramLabel = "SPEC",
            description = "agent memory: sqlite:PATH, postgresql://HOST:PORT/DB?user=U&password=P (shared by replicas), or none"
                    + " (default: ${DEFAULT-VALUE})")
    String memoryStore;

    @Option(names = "--memory-extractor", defaultValue = "rules", paramLabel = "rules|model|both",
            description = "facts from each user turn: rules (patterns), model (the served model, asked for JSON), or both"
                    + " (the rules win a key both find; for models that follow the prompt) (default: ${DEFAULT-VALUE})")
    String memoryExtractor;

    @Option(names = "--memory-summarizer", defaultValue = "auto", paramLabel = "model|extractive|auto",
            description = "who summarizes a long session: the served model, extractive (for models too small), or auto"
                    + " (the model from 1B parameters) (default: ${DEFAULT-VALUE})")
    String memorySummarizer;

    @Option(names = "--memory-policy", defaultValue = "hybrid", paramLabel = "lru|importance|tiered|hybrid",
            description = "what stays in a user's active memory under the budget; the rest moves to the archive"
                    + " (default: ${DEFAULT-VALUE})")
    String memoryPolicy;

    @Option(names = "--memory-user-budget-tokens", defaultValue = "4096", paramLabel = "N",
            description = "active memory (core and recent tiers) per user, in tokens of the served model (default: ${DEFAULT-VALUE})")
    int memoryUserBudgetTokens;

    @Option(names = "--memory-core-budget-tokens", defaultValue = "256", paramLabel = "N",
            description = "the core block in every prompt (tiered and hybrid), in tokens (default: ${DEFAULT-VALUE})")
    int memoryCoreBudgetTokens;

    @Option(names = "--memory-vectors", defaultValue = "float", paramLabel = "float|pq",
            description = "search index vectors: float, or pq (48 bytes a memory, re-ranked on exact vectors) (default: ${DEFAULT-VALUE})")
    String memoryVectors;

    @Option(names = "--shutdown-timeout", defaultValue = "" + ServerConfig.DEFAULT_SHUTDOWN_TIMEOUT_SECONDS, paramLabel = "SECONDS",
            description = "on SIGTERM: stop taking requests (/health answers 503), let running ones finish this long, then end them"
                    + " (default: ${DEFAULT-VALUE})")
    double shutdownTimeout;
    @Option(names = "--memory-placement", defaultValue = "turn", paramLabel = "turn|block",
            description = "where chat puts retrieved memories: turn (before the turn that retrieved them, kept there: each"
                    + " turn's prompt extends the last, so its KV is reused) or block (one block after the system prompt,"
                    + " re-retrieved each turn: an ablation for scripts/bench agent-sessions) (default: ${DEFAULT-VALUE})")
    String memoryPlacement;

    @Option(names = "--no-ui", description = "do not serve the web console at / (the API, /v1/kv/stream included, is unchanged)")
    boolean noUi;

    @Option(names = "--tool-call-parser", paramLabel = "json|llama3_json|hermes",
            description = "how the model writes tool calls, for tool_choice required/named (constrained) and auto (parsed)"
                    + " (default: what the chat template teaches: hermes for <tool_call> tags, llama3_json for Llama 3.1, else json)")
    String toolCallParser;

    @Override
    public Integer call() throws Exception {
        try {
            device = Backends.check(device, tensorParallelSize);
            kvCacheDtype = Backends.checkKvCacheDtype(device, kvCacheDtype);
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("serve: " + e.getMessage());
            return 2;
        }
        if (!(gpuMemoryUtilization > 0 && gpuMemoryUtilization <= 1)) {
            System.err.println("serve: --gpu-memory-utilization must be in (0, 1], got " + gpuMemoryUtilization);
            return 2;
        }
        EngineConfig.PreemptionMode mode = switch (preemptionMode.toLowerCase(Locale.ROOT)) {
            case "recompute" -> EngineConfig.PreemptionMode.RECOMPUTE;
            case "swap" -> EngineConfig.PreemptionMode.SWAP;
            default -> null;
        };
        if (mode == null) {
            System.err.println("serve: --preemption-mode must be recompute or swap, got " + preemptionMode);
            return 2;
        }
        if (mode == EngineConfig.PreemptionMode.SWAP && swapSpace == 0) swapSpace = 1L << 30;
        EngineConfig.KvRetention retention = switch (kvRetention.toLowerCase(Locale.ROOT)) {
            case "lru" -> EngineConfig.KvRetention.LRU;
            case "session" -> EngineConfig.KvRetention.SESSION;
            default -> null;
        };
        if (retention == null) {
            System.err.println("serve: --kv-retention must be lru or session, got " + kvRetention);
            return 2;
        }
        MemoryPlacement placement = switch (memoryPlacement.toLowerCase(Locale.ROOT)) {
            case "turn" -> MemoryPlacement.TURN;
            case "block" -> MemoryPlacement.BLOCK;
            default -> null;
        };
        if (placement == null) {
            System.err.println("serve: --memory-placement must be turn or block, got " + memoryPlacement);
            return 2;
        }
        if (warmupSteps < 0) {
            System.err.println("serve: --warmup-steps must be 0 or more, got " + warmupSteps);
            return 2;
        }
        if (maxRequestBody < 1 || maxRequestBody > Integer.MAX_VALUE) {
            System.err.println("serve: --max-request-body must be between 1 byte and 2GiB less one byte, got " + maxRequestBody + " bytes");
            return 2;
        }
        if (maxConcurrentRequestsPerKey < 0) {
            System.err.println("serve: --max-concurrent-requests-per-key must be 0 (no limit) or more, got " + maxConcurrentRequestsPerKey);
            return 2;
        }
        ToolCallFormat toolCalls = null;
        if (toolCallParser != null) {
            try {
                toolCalls = ToolCallFormat.valueOf(toolCallParser.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                System.err.println("serve: --tool-call-parser must be json, llama3_json or hermes, got " + toolCallParser);
                return 2;
            }
        }
        ListenerConfig listener;
        try {
            RateLimit limit = RateLimit.NONE.withConcurrentRequests(maxConcurrentRequestsPerKey);
            listener = new ListenerConfig(apiKeyFile, headerTimeout, maxConnections,
                    rateLimit == null ? limit : limit.withPerMinute(rateLimit), sslKeyFile, sslCertFile);
        } catch (IllegalArgumentException e) {
            System.err.println("serve: " + (e.getMessage().startsWith("--") ? "" : "--rate-limit ") + e.getMessage());
            return 2;
        }
        MemoryFeatures memoryFeatures;
        try {
            memoryFeatures = new MemoryFeatures(ExtractorMode.parse(memoryExtractor), SummarizerMode.parse(memorySummarizer),
                    PolicyKind.parse(memoryPolicy), memoryUserBudgetTokens, memoryCoreBudgetTokens, 0, VectorMode.parse(memoryVectors));
        } catch (IllegalArgumentException e) {
            System.err.println("serve: " + e.getMessage());
            return 2;
        }
        Path modelPath = model != null ? model : DefaultModel.locate(System.err);
        String key = apiKey != null ? apiKey : System.getenv("KVASIR_API_KEY");
        ServerConfig config = ServerConfig.builder(modelPath).servedModelName(servedModelName).host(host).port(port).apiKey(key)
                .maxModelLen(maxModelLen).blockSize(blockSize).numKvBlocks(numKvBlocks).kvCacheMemoryBytes(kvCacheMemory)
                .maxNumSeqs(maxNumSeqs).maxNumBatchedTokens(maxNumBatchedTokens).enablePrefixCaching(enablePrefixCaching)
                .swapSpaceBytes(swapSpace).preemptionMode(mode).threads(threads).maxWaitingRequests(maxWaitingRequests)
                .requestTimeoutSeconds(requestTimeout).maxBodyBytes((int) maxRequestBody).device(device)
                .gpuMemoryUtilization(gpuMemoryUtilization).warmupSteps(warmupSteps).listener(listener).memoryStore(memoryStore)
                .shutdownTimeoutSeconds(shutdownTimeout).kvRetention(retention).kvOffloadBytes(kvOffload)
                .kvCacheDtype(kvCacheDtype).ui(!noUi).memoryPlacement(placement).toolCallParser(toolCalls)
                .tensorParallelSize(tensorParallelSize).memoryFeatures(memoryFeatures).build();
        KvasirServer server = KvasirServer.start(config);
        // SIGTERM drains (Kubernetes' stop): the main thread's awaitClose returns after close, and serve exits 0.
        // Anything else that ends the JVM (Ctrl-C, System.exit) still closes the server on the way out.
        TerminateSignal.onTerminate(() -> {
            try {
                server.drain(java.time.Duration.ofMillis((long) (config.shutdownTimeoutSeconds() * 1000)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                server.close();
            }
        });
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "kvasir-shutdown"));
        String keyFrom = apiKeyFile != null ? "--api-key-file " + apiKeyFile
                : apiKey != null ? "--api-key" : key != null ? "$" + ServeBanner.KEY_VARIABLE : null;
        System.out.print(new ServeBanner(server.baseUrl(), server.model().name(), keyFrom, sslCertFile).text());
        if (!noUi) System.out.println("Web console: " + server.baseUrl() + "/");
        System.out.flush();
        server.awaitClose();
        return 0;
    }
}
