package dev.kvasir.server.cli;

import dev.kvasir.models.Backends;
import dev.kvasir.server.KvasirServer;
import dev.kvasir.server.ServerConfig;
import dev.kvasir.server.engine.EngineConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
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

    @Option(names = "--api-key", description = "require 'Authorization: Bearer KEY' (also $KVASIR_API_KEY)")
    String apiKey;

    @Option(names = "--served-model-name", description = "model name clients send (default: the file name)")
    String servedModelName;

    @Option(names = "--max-model-len", description = "tokens per sequence at most (default: the model's context length)")
    Integer maxModelLen;

    @Option(names = "--block-size", defaultValue = "16", description = "tokens per KV block (a power of two; default: ${DEFAULT-VALUE})")
    int blockSize;

    @Option(names = "--num-kv-blocks",
            description = "KV pool size in blocks (instead of --kv-cache-memory, or on CUDA of the memory plan)")
    Integer numKvBlocks;

    @Option(names = "--kv-cache-memory", defaultValue = "512MiB", converter = Bytes.class,
            description = "memory for the KV pool on the CPU, e.g. 2GiB (default: ${DEFAULT-VALUE}); CUDA sizes it"
                    + " by --gpu-memory-utilization")
    long kvCacheMemory;

    @Option(names = "--max-num-seqs", defaultValue = "256", description = "sequences per batch at most (default: ${DEFAULT-VALUE})")
    int maxNumSeqs;

    @Option(names = "--max-num-batched-tokens", defaultValue = "2048",
            description = "tokens per forward pass at most; longer prompts prefill in chunks (default: ${DEFAULT-VALUE})")
    int maxNumBatchedTokens;

    @Option(names = "--enable-prefix-caching", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "reuse the KV of shared prompt prefixes (default: on)")
    boolean enablePrefixCaching;

    @Option(names = "--swap-space", defaultValue = "0", converter = Bytes.class,
            description = "CPU swap pool for --preemption-mode swap, e.g. 1GiB (plain numbers are GiB, as in vLLM)")
    long swapSpace;

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

    @Option(names = "--max-request-body", defaultValue = "8MiB", converter = Bytes.class,
            description = "larger request bodies get 413 (default: ${DEFAULT-VALUE})")
    long maxRequestBody;

    @Override
    public Integer call() throws Exception {
        try {
            device = Backends.check(device);
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
        if (warmupSteps < 0) {
            System.err.println("serve: --warmup-steps must be 0 or more, got " + warmupSteps);
            return 2;
        }
        Path modelPath = model != null ? model : DefaultModel.locate(System.err);
        String key = apiKey != null ? apiKey : System.getenv("KVASIR_API_KEY");
        ServerConfig config = new ServerConfig(modelPath, servedModelName, host, port, key, maxModelLen, blockSize,
                numKvBlocks, kvCacheMemory, maxNumSeqs, maxNumBatchedTokens, enablePrefixCaching, swapSpace, mode,
                threads, maxWaitingRequests, requestTimeout, (int) Math.min(Integer.MAX_VALUE, maxRequestBody), device,
                gpuMemoryUtilization, warmupSteps, kvCacheDtype);
        KvasirServer server = KvasirServer.start(config);
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "kvasir-shutdown"));
        String url = server.baseUrl();
        System.out.println();
        System.out.println("Kvasir is serving '" + server.model().name() + "' at " + url + "/v1");
        System.out.println("Try it:");
        System.out.println("  curl " + url + "/v1/chat/completions -H 'Content-Type: application/json'"
                + (key != null ? " -H \"Authorization: Bearer $KVASIR_API_KEY\"" : "")
                + " -d '{\"model\": \"" + server.model().name()
                + "\", \"messages\": [{\"role\": \"user\", \"content\": \"Tell me a story\"}], \"max_tokens\": 64}'");
        System.out.println("Metrics: " + url + "/metrics   Health: " + url + "/health");
        System.out.flush();
        server.awaitClose();
        return 0;
    }

    /** Sizes like {@code 512MiB}, {@code 2GB}, {@code 1g}; a plain number means GiB (vLLM's --swap-space unit). */
    static final class Bytes implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            String v = value.trim().toLowerCase(Locale.ROOT).replace("ib", "").replace("b", "");
            long unit = 1L << 30;
            char last = v.isEmpty() ? ' ' : v.charAt(v.length() - 1);
            switch (last) {
                case 'k' -> unit = 1L << 10;
                case 'm' -> unit = 1L << 20;
                case 'g' -> unit = 1L << 30;
                case 't' -> unit = 1L << 40;
                default -> { }
            }
            String number = Character.isLetter(last) ? v.substring(0, v.length() - 1) : v;
            try {
                return (long) (Double.parseDouble(number) * unit);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a size: '" + value + "' (try 512MiB or 2GiB)");
            }
        }
    }
}
