package dev.kvasir.server;

import dev.kvasir.kernels.Backend;
import dev.kvasir.kernels.cuda.CudaBackend;
import dev.kvasir.models.Backends;
import dev.kvasir.models.DeviceKvCache;
import dev.kvasir.models.LlamaModel;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.server.api.ApiGuards;
import dev.kvasir.server.api.ApiInitializer;
import dev.kvasir.server.api.ApiKeys;
import dev.kvasir.server.api.ApiService;
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
    private final Backend backend;
    private final LlamaModel model;
    private final ServedModel served;
    private final Engine engine;
    private final ServerMetrics metrics;
    private final ApiService api;
    private final EventLoopGroup group;
    private final Channel channel;
    private final ApiGuards guards;
    private final HangupSignal.Registration keyReloads;

    private KvasirServer(ServerConfig c) throws InterruptedException {
        guards = ApiGuards.of(c.apiKey(), c.listener());
        loaded = ModelLoader.load(c.model());
        Backend created = null;
        try {
            served = ServedModel.of(loaded, c.servedModelName(), c.maxModelLen());
            created = Backends.create(c.device(), c.threads());
            backend = created;
            // Swap blocks hold the backend's KV element type (f16 on CUDA): a budget fits twice the f32 count there.
            int cpuBlocks = (int) Math.min(Integer.MAX_VALUE, c.swapSpaceBytes()
                    / LlamaModel.kvBytesPerBlock(loaded.config(), c.blockSize(), backend.kvElementBytes()));
            int blocks;
            if (backend instanceof CudaBackend cuda && c.numKvBlocks() == null) {
                // Weights, then a profiling forward at the largest step, then the KV pool from what is left.
                KvBlockBounds bounds = KvBlockBounds.of(served.maxModelLen(), c.blockSize(), c.maxNumSeqs());
                DeviceKvCache.Sized sized = DeviceKvCache.create(loaded.config(), loaded.weights(), cuda,
                        new DeviceKvCache.StepLimits(c.maxNumSeqs(), c.maxNumBatchedTokens(), served.maxModelLen(), c.blockSize()),
                        c.gpuMemoryUtilization(), (int) Math.min(Integer.MAX_VALUE, bounds.min()),
                        (int) Math.min(Integer.MAX_VALUE, bounds.max()), cpuBlocks);
                model = sized.model();
                blocks = sized.numBlocks();
            } else {
                blocks = c.numKvBlocks() != null ? c.numKvBlocks()
                        : kvBlocksFor(c.kvCacheMemoryBytes(), loaded, c.blockSize(), backend.kvElementBytes(),
                                served.maxModelLen(), c.maxNumSeqs());
                model = LlamaModel.create(loaded.config(), loaded.weights(), backend, blocks, c.blockSize(), cpuBlocks);
            }
            EngineConfig ec = new EngineConfig(c.maxNumSeqs(), c.maxNumBatchedTokens(), served.maxModelLen(), c.blockSize(),
                    blocks, cpuBlocks, 0.01, c.enablePrefixCaching(), c.preemptionMode(), c.maxWaitingRequests());
            AtomicReference<Engine> engineRef = new AtomicReference<>();
            metrics = new ServerMetrics(served.name(), () -> engineRef.get().stats());
            engine = new Engine(model, ec, served.tokenizer(), metrics, served.name().hashCode());
            engineRef.set(engine);
            if (c.warmupSteps() > 0) {
                long t0 = System.nanoTime();
                int steps = engine.warmUp(c.warmupSteps(), TimeUnit.SECONDS.toNanos(WARMUP_SECONDS));
                LOG.info("warm-up: {} forward steps in {} ms", steps, (System.nanoTime() - t0) / 1_000_000);
            }
            engine.start();
            ThreadPoolExecutor workers = new ThreadPoolExecutor(2, 2, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(1024),
                    Thread.ofPlatform().name("kvasir-api-", 0).daemon(true).factory());
            api = new ApiService(served, engine, metrics, workers, c.requestTimeoutSeconds());
            boolean epoll = Epoll.isAvailable();
            IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
            Class<? extends ServerChannel> channelType = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
            group = new MultiThreadIoEventLoopGroup(Math.min(4, Runtime.getRuntime().availableProcessors()), io);
            channel = new ServerBootstrap().group(group).channel(channelType)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ApiInitializer(api, c.maxBodyBytes(), guards))
                    .bind(new InetSocketAddress(c.host(), c.port())).sync().channel();
            keyReloads = c.listener().apiKeyFile() != null ? HangupSignal.onHangup(guards.keys()::reload) : () -> {};
            LOG.info("serving {} on {} ({} KV blocks of {} tokens, max-model-len {}, {} transport) at {}", served.name(),
                    backend.name(), blocks, c.blockSize(), served.maxModelLen(), epoll ? "epoll" : "nio", baseUrl());
        } catch (RuntimeException | InterruptedException e) {
            if (created != null) created.close();
            loaded.close();
            throw e;
        }
    }

    /** Loads the model, starts the engine and binds the listener; returns once requests are accepted. */
    public static KvasirServer start(ServerConfig config) throws InterruptedException {
        return new KvasirServer(config);
    }

    /**
     * Blocks for the KV pool: the memory budget divided by one block's bytes, but no more than every
     * sequence at full length needs, and never fewer than one full-length sequence needs.
     */
    static int kvBlocksFor(long memoryBytes, LoadedModel loaded, int blockSize, int elementBytes, int maxModelLen,
                           int maxNumSeqs) {
        long perBlock = LlamaModel.kvBytesPerBlock(loaded.config(), blockSize, elementBytes);
        KvBlockBounds bounds = KvBlockBounds.of(maxModelLen, blockSize, maxNumSeqs);
        long blocks = Math.min(memoryBytes / perBlock, bounds.max());
        long minimum = bounds.min();
        if (blocks < minimum) {
            throw new IllegalArgumentException("--kv-cache-memory " + memoryBytes + " bytes holds " + memoryBytes / perBlock
                    + " blocks; one sequence of max-model-len " + maxModelLen + " needs " + minimum
                    + " (lower --max-model-len or raise --kv-cache-memory)");
        }
        return (int) Math.min(blocks, Integer.MAX_VALUE);
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
        keyReloads.close();
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        api.shutdown();
        engine.close();
        model.close();
        backend.close();
        loaded.close();
    }
}
