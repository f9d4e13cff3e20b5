package dev.kvasir.server.console;

import dev.kvasir.server.engine.Engine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The live KV feed behind {@code GET /v1/kv/stream}: a few times a second, the block map and the
 * engine's counters as one JSON event to every subscriber.
 *
 * <p>It costs the engine nothing while nobody watches: no timer runs and nothing is asked of the
 * engine thread. With subscribers, one timer (shared by all of them) asks the engine thread for the
 * block map between two steps ({@link Engine#probe}: an O(blocks) read of two primitive arrays) at
 * most once per period, and never again while a read is still waiting behind a long step; the JSON
 * is built on the timer's thread.
 */
public final class KvFeed implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(KvFeed.class);
    /** Events per second: 4. */
    public static final long PERIOD_MILLIS = 250;
    /** A block-map read still unanswered after this long is given up (a stalled or stopped engine). */
    private static final long STALE_PROBE_NANOS = TimeUnit.SECONDS.toNanos(5);

    private record Subscriber(Consumer<byte[]> events, Runnable onEnd) {}

    /** What the engine thread hands back: the states only; the rest is done on the feed's thread. */
    private record BlockRead(long atMillis, byte[] states, int gpuBlocks) {}

    private final Engine engine;
    /** One thread, created with the first subscriber's timer and idle (no task) when nobody watches. */
    private final ScheduledThreadPoolExecutor timer;
    private final Set<Subscriber> subscribers = ConcurrentHashMap.newKeySet();
    private ScheduledFuture<?> ticking;
    private volatile boolean closed;
    /** When the outstanding block-map read was asked for; 0 when none is outstanding. */
    private final AtomicLong probeSince = new AtomicLong();
    private final AtomicLong reads = new AtomicLong();
    private volatile byte[] latest;

    public KvFeed(Engine engine) {
        this.engine = engine;
        this.timer = new ScheduledThreadPoolExecutor(1, Thread.ofPlatform().name("kvasir-kv-feed").daemon(true).factory());
        timer.setRemoveOnCancelPolicy(true);
    }

    /**
     * Adds a subscriber: {@code events} gets each event's JSON (on the feed's thread: hand it off and
     * return), starting with the latest one when there is one; {@code onEnd} runs once if the feed
     * closes first. Returns what unsubscribes (idempotent); the last one leaving stops the timer.
     */
    public synchronized Runnable subscribe(Consumer<byte[]> events, Runnable onEnd) {
        Subscriber s = new Subscriber(events, onEnd);
        if (closed) {
            onEnd.run();
            return () -> {};
        }
        subscribers.add(s);
        byte[] last = latest;
        if (last != null) events.accept(last);
        if (ticking == null) ticking = timer.scheduleAtFixedRate(this::tick, 0, PERIOD_MILLIS, TimeUnit.MILLISECONDS);
        return () -> unsubscribe(s);
    }

    private synchronized void unsubscribe(Subscriber s) {
        if (!subscribers.remove(s) || !subscribers.isEmpty() || ticking == null) return;
        ticking.cancel(false);
        ticking = null;
        latest = null; // a later subscriber must not start from a stale map
    }

    /** Subscribers now. */
    public int subscribers() {
        return subscribers.size();
    }

    /** Block maps read from the engine since start (the tests prove no reads happen while nobody watches). */
    public long reads() {
        return reads.get();
    }

    private void tick() {
        long now = System.nanoTime();
        long since = probeSince.get();
        if (since != 0 && now - since < STALE_PROBE_NANOS) return; // the last read waits behind a long step
        probeSince.set(now);
        engine.probe(kv -> {
            byte[] states = new byte[kv.numTotalBlocks() + kv.numTotalCpuBlocks()];
            kv.blockStates(states);
            return new BlockRead(System.currentTimeMillis(), states, kv.numTotalBlocks());
        }).thenAcceptAsync(read -> {
            probeSince.set(0);
            reads.incrementAndGet();
            publish(new KvSnapshot(read.atMillis(), engine.stats(), read.states(), read.gpuBlocks()));
        }, timer).exceptionally(e -> {
            probeSince.set(0);
            if (!closed) LOG.warn("KV feed: reading the block map failed: {}", e.toString());
            return null;
        });
    }

    private void publish(KvSnapshot snapshot) {
        if (subscribers.isEmpty()) return;
        byte[] json = snapshot.json();
        latest = json;
        for (Subscriber s : subscribers) s.events().accept(json);
    }

    /** Stops the timer and ends every subscriber's stream (a draining server's open feeds end at once). */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            if (ticking != null) ticking.cancel(false);
            ticking = null;
        }
        for (Subscriber s : subscribers) s.onEnd().run();
        subscribers.clear();
        timer.shutdownNow();
    }
}
