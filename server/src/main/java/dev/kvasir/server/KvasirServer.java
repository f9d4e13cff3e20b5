package dev.kvasir.server;

import dev.kvasir.blockmanager.KvCacheManager;
import dev.kvasir.kernels.Backend;
import dev.kvasir.models.Backends;
import dev.kvasir.models.KvCacheSizing;
import dev.kvasir.models.LlamaModel;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.server.api.ApiInitializer;
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

    private KvasirServer(ServerConfig c) throws InterruptedException {
        loaded = ModelLoader.load(c.model());
        Backend created = null;
        try {
            served = ServedModel.of(loaded, c.servedModelName(), c.maxModelLen());
            created = Backends.create(c.device(), c.threads(), c.kvCacheDtype());
            backend = created;
            KvCacheSizing.Sized sized = KvCacheSizing.create(loaded.config(), loaded.weights(), backend,
                    new KvCacheSizing.StepLimits(c.maxNumSeqs(), c.maxNumBatchedTokens(), served.maxModelLen(), c.blockSize()),
                    new KvCacheSizing.Budget(c.numKvBlocks(), c.kvCacheMemoryBytes(), c.gpuMemoryUtilization(), c.swapSpaceBytes()));
            model = sized.model();
            int blocks = sized.numBlocks();
            EngineConfig ec = new EngineConfig(c.maxNumSeqs(), c.maxNumBatchedTokens(), served.maxModelLen(), c.blockSize(),
                    blocks, sized.numCpuBlocks(), KvCacheManager.DEFAULT_WATERMARK, c.enablePrefixCaching(),
                    c.preemptionMode(), c.maxWaitingRequests());
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
            api = new ApiService(served, engine, metrics, c.apiKey(), workers, c.requestTimeoutSeconds());
            boolean epoll = Epoll.isAvailable();
            IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
            Class<? extends ServerChannel> channelType = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
            group = new MultiThreadIoEventLoopGroup(Math.min(4, Runtime.getRuntime().availableProcessors()), io);
            channel = new ServerBootstrap().group(group).channel(channelType)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ApiInitializer(api, c.maxBodyBytes()))
                    .bind(new InetSocketAddress(c.host(), c.port())).sync().channel();
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

    public int port() {
        return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    public String baseUrl() {
        InetSocketAddress a = (InetSocketAddress) channel.localAddress();
        String host = a.getAddress().isAnyLocalAddress() ? "localhost" : a.getHostString();
        return "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
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

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        api.shutdown();
        engine.close();
        model.close();
        backend.close();
        loaded.close();
    }
}
