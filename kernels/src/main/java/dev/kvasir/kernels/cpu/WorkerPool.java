package dev.kvasir.kernels.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of worker threads that split a job into numbered chunks; the calling thread works
 * too. Dispatch allocates nothing: the job is a reusable {@link Job} object, and chunks are
 * claimed with one CAS on a ticket that packs (generation, chunk count, next chunk), so a worker
 * that wakes late can never claim a chunk of a job that has already moved on. Waiting spins
 * briefly, then parks: idle workers spin for {@link #WORKER_SPIN_NANOS} (a forward pass dispatches
 * hundreds of jobs per token, microseconds apart, so they stay hot through a step and park between
 * steps), and the caller waiting for the last chunks spins for {@link #CALLER_SPIN_NANOS} (a chunk
 * takes microseconds) and then parks until the worker that finishes the last chunk unparks it, so a
 * worker that the OS has descheduled gets its core back instead of watching the caller spin.
 */
final class WorkerPool implements AutoCloseable {

    /**
     * A parallel job: {@code run(chunk, worker)} for every chunk in {@code [0, chunks)}, in any order;
     * {@code worker} (0 = the caller) indexes per-thread scratch space.
     */
    interface Job {
        void run(int chunk, int worker);
    }

    private static final int CHUNK_BITS = 20;
    private static final long CHUNK_MASK = (1L << CHUNK_BITS) - 1;
    /** How long an idle worker spins for the next job before it parks. */
    static final long WORKER_SPIN_NANOS = 50_000;
    /** How long the caller spins for the last chunks of its job before it parks. */
    static final long CALLER_SPIN_NANOS = 50_000;
    /** Spins between two clock reads. */
    private static final int CLOCK_EVERY = 64;

    private final Thread[] workers;
    private final AtomicIntegerArray parked; // volatile flags: a Dekker handshake with the ticket
    private final AtomicLong ticket = new AtomicLong();
    private final AtomicInteger done = new AtomicInteger();
    private volatile Job job;
    private volatile Throwable failure;
    private volatile boolean closed;
    /** The thread in {@link #run}; published to the workers by the ticket's volatile write. */
    private Thread caller;
    /** The caller is parked or about to park: a Dekker handshake with {@code done}. */
    private volatile boolean callerParked;
    private long generation;

    WorkerPool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("thread count must be at least 1: " + threads);
        workers = new Thread[threads - 1];
        parked = new AtomicIntegerArray(Math.max(1, threads - 1));
        for (int i = 0; i < workers.length; i++) {
            int id = i;
            workers[i] = Thread.ofPlatform().daemon().name("kvasir-cpu-" + (i + 1)).unstarted(() -> workLoop(id));
            workers[i].start();
        }
    }

    int threads() {
        return workers.length + 1;
    }

    /** Runs {@code job} over {@code chunks} chunks and returns when all are done. Not reentrant. */
    void run(Job job, int chunks) {
        if (chunks <= 0) return;
        if (chunks > CHUNK_MASK) throw new IllegalArgumentException("too many chunks: " + chunks);
        if (workers.length == 0 || chunks == 1) {
            for (int c = 0; c < chunks; c++) job.run(c, 0);
            return;
        }
        this.job = job;
        caller = Thread.currentThread();
        done.set(0);
        generation = (generation + 1) & 0xFFFFFF;
        ticket.set(generation << (2 * CHUNK_BITS) | (long) chunks << CHUNK_BITS);
        for (int i = 0; i < workers.length; i++) {
            if (parked.get(i) != 0) LockSupport.unpark(workers[i]);
        }
        claimChunks(generation, job, 0);
        if (done.get() < chunks) awaitDone(chunks);
        Throwable t = failure;
        if (t != null) {
            failure = null;
            if (t instanceof RuntimeException re) throw re;
            if (t instanceof Error e) throw e;
            throw new IllegalStateException(t);
        }
    }

    /** Spins, then parks, until all {@code chunks} chunks of the current job are done. */
    private void awaitDone(int chunks) {
        long spinUntil = System.nanoTime() + CALLER_SPIN_NANOS;
        int spins = 0;
        while (done.get() < chunks) {
            if (++spins % CLOCK_EVERY != 0 || System.nanoTime() - spinUntil < 0) {
                Thread.onSpinWait();
                continue;
            }
            callerParked = true;
            if (done.get() < chunks) LockSupport.park(this);
            callerParked = false;
        }
    }

    /** Claims and runs chunks of generation {@code gen} until none are left. */
    private void claimChunks(long gen, Job j, int worker) {
        while (true) {
            long v = ticket.get();
            if (v >>> (2 * CHUNK_BITS) != gen) return;
            long total = (v >>> CHUNK_BITS) & CHUNK_MASK;
            long next = v & CHUNK_MASK;
            if (next >= total) return;
            if (!ticket.compareAndSet(v, v + 1)) continue;
            try {
                j.run((int) next, worker);
            } catch (Throwable t) {
                failure = t;
            } finally {
                // The last chunk wakes a parked caller (its flag is read after the count is published).
                if (done.incrementAndGet() == total && worker != 0 && callerParked) LockSupport.unpark(caller);
            }
        }
    }

    private void workLoop(int id) {
        long seen = 0;
        int spins = 0;
        long spinUntil = System.nanoTime() + WORKER_SPIN_NANOS;
        while (!closed) {
            long gen = ticket.get() >>> (2 * CHUNK_BITS);
            if (gen != seen) {
                seen = gen;
                // Read after seeing the generation: the job of this generation or a later one; a later
                // one never runs here, because this generation's chunks are all claimed by then.
                claimChunks(gen, job, id + 1);
                spins = 0;
                spinUntil = System.nanoTime() + WORKER_SPIN_NANOS;
                continue;
            }
            if (++spins % CLOCK_EVERY != 0 || System.nanoTime() - spinUntil < 0) {
                Thread.onSpinWait();
                continue;
            }
            parked.set(id, 1);
            if ((ticket.get() >>> (2 * CHUNK_BITS)) == seen && !closed) LockSupport.park(this);
            parked.set(id, 0);
            spins = 0;
            spinUntil = System.nanoTime() + WORKER_SPIN_NANOS;
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
