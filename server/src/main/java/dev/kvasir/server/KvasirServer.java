package dev.kvasir.server;

import dev.kvasir.blockmanager.KvCacheManager;
import dev.kvasir.memory.MemoryConfig;
import dev.kvasir.memory.MemoryService;
import dev.kvasir.models.Backends;
import dev.kvasir.models.KvCacheSizing;
import dev.kvasir.models.LlamaModel;
import dev.kvasir.models.Ranks;
import dev.kvasir.models.ShardPlan;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.server.api.ApiGuards;
import dev.kvasir.server.api.ApiInitializer;
import dev.kvasir.server.api.ApiKeys;
import dev.kvasir.server.api.ApiService;
import dev.kvasir.server.console.WebConsole;
import dev.kvasir.server.engine.Engine;
import dev.kvasir.server.engine.EngineConfig;
import dev.kvasir.server.metrics.ServerMetrics;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A running server: the model, the engine thread and the Netty HTTP listener, started together and
 * closed together. Tests and the benchmark start it in process; {@code kvasir serve} from the CLI.
 */
public final class KvasirServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(KvasirServer.class);
    /** The start-up warm-up ends after this many seconds even with steps left. */
    public static final int WARMUP_SECONDS = 5;

    private final LoadedModel loaded;
    private final Ranks ranks;
    private final LlamaModel model;
    private final ServedModel served;
    private final Engine engine;
    private final ServerMetrics metrics;
    private final ApiService api;
    private final WebConsole console;
    private final EventLoopGroup group;
    private final Channel channel;
    private final ApiGuards guards;
    private final HangupSignal.Registration keyReloads;
    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
    /** Agent memory, or null with {@code --memory-store none}. */
    private final MemoryService memory;

    private KvasirServer(ServerConfig c) throws InterruptedException {
        long t0 = System.nanoTime();
        guards = ApiGuards.of(c.apiKey(), c.listener());
        // The memory store opens beside the model's loading (schema check, index and class loading take a core for
        // about a second on a small machine); a bad --memory-store fails before any backend starts or weight moves.
        AtomicReference<ServerMetrics> metricsRef = new AtomicReference<>();
        long[] memoryNanos = new long[1];
        CompletableFuture<MemoryService> opening = CompletableFuture.supplyAsync(() -> {
            long started = System.nanoTime();
            MemoryService opened = MemoryService.open(c.memoryStore(), MemoryConfig.defaults().withFeatures(c.memoryFeatures())
                    .withSearchLatency(nanos -> metricsRef.get().memorySearch(nanos / 1e9))).orElse(null);
            memoryNanos[0] = System.nanoTime() - started;
            return opened;
        }, task -> Thread.ofPlatform().name("kvasir-memory-open").daemon(true).start(task));
        MemoryService mem;
        try {
            loaded = ModelLoader.load(c.model());
        } catch (RuntimeException e) {
            closeWhenOpen(opening);
            throw e;
        }
        try {
            mem = opening.join();
        } catch (CompletionException e) {
            loaded.close();
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
        memory = mem;
        long tModel = System.nanoTime();
        Ranks created = null;
        try {
            served = ServedModel.of(loaded, c.servedModelName(), c.maxModelLen(), c.toolCallParser());
            // A split that cannot work stops here, before any backend starts or weight moves.
            ShardPlan plan = ShardPlan.of(loaded.config(), c.tensorParallelSize()).requireSplittable(loaded.weights());
            created = Backends.create(c.device(), c.threads(), c.tensorParallelSize(), c.kvCacheDtype());
            ranks = created;
            KvCacheSizing.Sized sized = KvCacheSizing.create(loaded.config(), loaded.weights(), ranks, plan,
                    new KvCacheSizing.StepLimits(c.maxNumSeqs(), c.maxNumBatchedTokens(), served.maxModelLen(), c.blockSize()),
                    new KvCacheSizing.Budget(c.numKvBlocks(), c.kvCacheMemoryBytes(), c.gpuMemoryUtilization(), c.swapSpaceBytes(),
                            c.kvOffloadBytes()));
            model = sized.model();
            int blocks = sized.numBlocks();
            EngineConfig ec = new EngineConfig(c.maxNumSeqs(), c.maxNumBatchedTokens(), served.maxModelLen(), c.blockSize(),
                    blocks, sized.numCpuBlocks(), KvCacheManager.DEFAULT_WATERMARK, c.enablePrefixCaching(),
                    c.preemptionMode(), c.maxWaitingRequests(), sized.numOffloadBlocks(), c.kvRetention());
            AtomicReference<Engine> engineRef = new AtomicReference<>();
            metrics = new ServerMetrics(served.name(), () -> engineRef.get().stats());
            metricsRef.set(metrics);
            if (memory != null) metrics.memory(memory.stats());
            engine = new Engine(model, ec, served.tokenizer(), metrics, served.name().hashCode());
            engineRef.set(engine);
            long tEngine = System.nanoTime();
            if (c.warmupSteps() > 0) {
                // On the engine thread while it is idle: the listener (and /health) does not wait for it, and the
                // first request stops it. The launcher's AOT cache carries the JIT's profiles, so few steps are needed.
                long warmUpStart = System.nanoTime();
                engine.warmUpWhenIdle(c.warmupSteps(), TimeUnit.SECONDS.toNanos(WARMUP_SECONDS)).whenComplete((steps, error) -> {
                    if (error == null) LOG.info("warm-up: {} forward steps in {} ms", steps, (System.nanoTime() - warmUpStart) / 1_000_000);
                });
            }
            if (memory != null) {
                // Budgets in the served model's tokens; summaries and model facts from the model, at low priority.
                memory.attach(text -> served.tokenizer().encode(text, false, false).length, new ServedMemoryModel(served, engine),
                        served.maxModelLen());
            }
            ThreadPoolExecutor workers = new ThreadPoolExecutor(2, 2, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(1024),
                    Thread.ofPlatform().name("kvasir-api-", 0).daemon(true).factory());
            api = new ApiService(served, engine, metrics, memory, workers, c.requestTimeoutSeconds(), c.memoryPlacement());
            console = WebConsole.start(engine, c.ui());
            boolean epoll = Epoll.isAvailable();
            IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
            Class<? extends ServerChannel> channelType = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
            group = new MultiThreadIoEventLoopGroup(Math.min(4, Runtime.getRuntime().availableProcessors()), io);
            channel = new ServerBootstrap().group(group).channel(channelType)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ApiInitializer(api, c.maxBodyBytes(), guards, console))
                    .bind(new InetSocketAddress(c.host(), c.port())).sync().channel();
            // After the bind: the warm-up it begins with does not take a core from the start-up (the queue holds requests till then).
            engine.start();
            keyReloads = c.listener().apiKeyFile() != null ? HangupSignal.onHangup(guards.keys()::reload) : () -> {};
            LOG.info("serving {} on {} ({} KV blocks of {} tokens, max-model-len {}, {} transport) at {}", served.name(),
                    ranks.name(), blocks, c.blockSize(), served.maxModelLen(), epoll ? "epoll" : "nio", baseUrl());
            long now = System.nanoTime();
            LOG.info(String.format(java.util.Locale.ROOT, "started in %.2f s since the JVM's start: memory store %.2f s, model (alongside) %.2f s,"
                            + " backend, KV pool and engine %.2f s, API and listener %.2f s",
                    java.lang.management.ManagementFactory.getRuntimeMXBean().getUptime() / 1e3, memoryNanos[0] / 1e9,
                    (tModel - t0) / 1e9, (tEngine - tModel) / 1e9, (now - tEngine) / 1e9));
        } catch (RuntimeException | InterruptedException e) {
            if (created != null) created.close();
            loaded.close();
            if (memory != null) memory.close();
            throw e;
        }
    }

    /** Closes the memory store once its opening ends (the server failed to start meanwhile). */
    private static void closeWhenOpen(CompletableFuture<MemoryService> opening) {
        opening.thenAccept(m -> {
            if (m != null) m.close();
        });
    }

    /** Loads the model, starts the engine and binds the listener; returns once requests are accepted. */
    public static KvasirServer start(ServerConfig config) throws InterruptedException {
        return new KvasirServer(config);
    }

    public int port() {
        return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    public String baseUrl() {
        InetSocketAddress a = (InetSocketAddress) channel.localAddress();
        String host = a.getAddress().isAnyLocalAddress() ? "localhost" : a.getHostString();
        return (guards.tls() != null ? "https://" : "http://") + (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
    }

    public Engine engine() {
        return engine;
    }

    public ServedModel model() {
        return served;
    }

    /** Ranks the model is split over (1: not split). */
    public int tensorParallelSize() {
        return ranks.size();
    }

    /** Blocks until the listener closes (the CLI's main thread waits here). */
    public void awaitClose() throws InterruptedException {
        channel.closeFuture().sync();
    }

    /** The accepted API keys ({@link ApiKeys#reload()} reads the key file again, as SIGHUP does). */
    public ApiKeys apiKeys() {
        return guards.keys();
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) return; // a drain's close, then the JVM's shutdown hook
        keyReloads.close();
        console.close();
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        api.shutdown();
        engine.close();
        model.close();
        ranks.close();
        loaded.close();
        // Last: recorded turns still being written are finished and flushed.
        if (memory != null) memory.close();
    }

    /**
     * A graceful stop, as Kubernetes expects on SIGTERM: no new requests ({@code /health} answers 503
     * "draining", new requests 503), the ones in progress finish for up to {@code timeout}, then those
     * still running end with a "shutdown" error (a stream: an error event and {@code [DONE]}). Returns
     * once nothing is open or a grace period after that has passed; {@link #close} then stops
     * the rest and flushes the memory store.
     *
     * @return requests that had to be cut short
     */
    public int drain(java.time.Duration timeout) throws InterruptedException {
        api.startDraining();
        LOG.info("draining: {} request(s) in progress, waiting up to {} s", api.openRequests(), timeout.toMillis() / 1000.0);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (api.openRequests() > 0 && System.nanoTime() - deadline < 0) Thread.sleep(20);
        int cut = api.openRequests();
        if (cut > 0) {
            LOG.warn("drain timed out: ending {} request(s)", cut);
            engine.endAll("the server is shutting down; the request was cut short after the drain timeout");
            long grace = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            while (api.openRequests() > 0 && System.nanoTime() - grace < 0) Thread.sleep(20);
        }
        return cut;
    }

    /** The web console: its files (null with --no-ui) and the KV feed. */
    public WebConsole webConsole() {
        return console;
    }

    /** The agent memory, or null when it is off. */
    public MemoryService memory() {
        return memory;
    }
}
