package dev.kvasir.kernels.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A reusable barrier for the threads of a fixed set of ranks, built like {@link WorkerPool}'s
 * waits: a rank that arrives early spins for {@link #SPIN_NANOS} (ranks doing equal work arrive
 * microseconds apart), then parks until the last one unparks it; no allocation per use. It can be
 * broken ({@link #abort}) so that a rank that failed never leaves the others waiting forever.
 */
final class RankBarrier {

    /** How long an early rank spins before it parks. */
    static final long SPIN_NANOS = 30_000;
    private static final int CLOCK_EVERY = 64;

    private final int parties;
    private final AtomicInteger arrived = new AtomicInteger();
    private final AtomicLong generation = new AtomicLong();
    /** Parked (or about to park) ranks: a Dekker handshake with the generation. */
    private final AtomicIntegerArray parked;
    private final Thread[] threads;
    private volatile boolean broken;

    RankBarrier(int parties) {
        if (parties < 1) throw new IllegalArgumentException("a barrier needs at least one party: " + parties);
        this.parties = parties;
        this.parked = new AtomicIntegerArray(parties);
        this.threads = new Thread[parties];
    }

    /** Returns once every rank has called it; throws when the barrier is broken. */
    void await(int rank) {
        if (broken) throw broken();
        long gen = generation.get();
        if (arrived.incrementAndGet() == parties) {
            // Reset before releasing: a released rank may arrive at the next use at once.
            arrived.set(0);
            generation.incrementAndGet();
            for (int r = 0; r < parties; r++) {
                if (parked.get(r) != 0) LockSupport.unpark(threads[r]);
            }
            return;
        }
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        int spins = 0;
        while (generation.get() == gen && !broken) {
            if (++spins % CLOCK_EVERY != 0 || System.nanoTime() - spinUntil < 0) {
                Thread.onSpinWait();
                continue;
            }
            threads[rank] = Thread.currentThread();
            parked.set(rank, 1);
            if (generation.get() == gen && !broken) LockSupport.park(this);
            parked.set(rank, 0);
        }
        if (generation.get() == gen) throw broken();
    }

    /** Wakes every waiting rank with an exception; later calls throw until {@link #reset}. */
    void abort() {
        broken = true;
        for (int r = 0; r < parties; r++) {
            Thread t = threads[r];
            if (t != null) LockSupport.unpark(t);
        }
    }

    /** Ready for use again; only when no rank is inside {@link #await}. */
    void reset() {
        arrived.set(0);
        broken = false;
    }

    private static IllegalStateException broken() {
        return new IllegalStateException("another tensor-parallel rank failed in this step");
    }
}
