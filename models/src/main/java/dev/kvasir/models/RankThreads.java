package dev.kvasir.models;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * One thread per tensor-parallel rank beyond the first, so that the ranks of a step run at once
 * (their all-reduces wait for each other); rank 0 runs on the calling thread (the engine's). A
 * step hands out one task: a rank thread spins briefly for the next one, then parks, as
 * {@code WorkerPool}'s workers do, and allocates nothing per step.
 */
final class RankThreads implements AutoCloseable {

    private static final long SPIN_NANOS = 50_000;
    private static final int CLOCK_EVERY = 64;

    private final Thread[] threads;
    private final AtomicInteger done = new AtomicInteger();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile long generation;
    private volatile IntConsumer task;
    private volatile Runnable onFailure;
    private volatile boolean closed;
    private volatile boolean callerParked;
    private Thread caller;

    /** @param ranks ranks in all, the caller's included */
    RankThreads(int ranks, String name) {
        threads = new Thread[ranks - 1];
        for (int i = 0; i < threads.length; i++) {
            int rank = i + 1;
            threads[i] = Thread.ofPlatform().daemon().name(name + "-rank-" + rank).unstarted(() -> loop(rank));
            threads[i].start();
        }
    }

    /**
     * Runs {@code task.accept(r)} for every rank r at once and returns when all have returned.
     * When a rank throws, {@code onFailure} runs at once (to release ranks waiting for it), and the
     * first failure is rethrown after every rank has returned.
     */
    void run(IntConsumer task, Runnable onFailure) {
        this.task = task;
        this.onFailure = onFailure;
        caller = Thread.currentThread();
        done.set(0);
        generation = generation + 1;
        for (Thread t : threads) LockSupport.unpark(t);
        runRank(0);
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        int spins = 0;
        while (done.get() < threads.length) {
            if (++spins % CLOCK_EVERY != 0 || System.nanoTime() - spinUntil < 0) {
                Thread.onSpinWait();
                continue;
            }
            callerParked = true;
            if (done.get() < threads.length) LockSupport.park(this);
            callerParked = false;
        }
        this.task = null;
        Throwable t = failure.getAndSet(null);
        if (t instanceof RuntimeException re) throw re;
        if (t instanceof Error e) throw e;
        if (t != null) throw new IllegalStateException(t);
    }

    private void runRank(int rank) {
        try {
            task.accept(rank);
        } catch (Throwable t) {
            if (failure.compareAndSet(null, t)) onFailure.run();
        }
    }

    private void loop(int rank) {
        long seen = 0;
        while (!closed) {
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            int spins = 0;
            while (generation == seen && !closed) {
                if (++spins % CLOCK_EVERY != 0 || System.nanoTime() - spinUntil < 0) {
                    Thread.onSpinWait();
                    continue;
                }
                LockSupport.park(this);
            }
            if (closed) return;
            seen = generation;
            runRank(rank);
            // The last rank wakes a parked caller (its flag is read after the count is published).
            if (done.incrementAndGet() == threads.length && callerParked) LockSupport.unpark(caller);
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread t : threads) LockSupport.unpark(t);
    }
}
