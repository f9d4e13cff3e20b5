package dev.kvasir.kernels.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of worker threads that split a job into numbered chunks; the calling thread works
 * too. Dispatch allocates nothing: the job is a reusable {@link Job} object, and chunks are
 * claimed with one CAS on a ticket that packs (generation, chunk count, next chunk), so a worker
 * that wakes late can never claim a chunk of a job that has already moved on. Idle workers spin
 * briefly (a forward pass dispatches hundreds of jobs per token, microseconds apart), then park.
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
    private static final int SPINS_BEFORE_PARK = 1 << 14;

    private final Thread[] workers;
    private final AtomicIntegerArray parked; // volatile flags: a Dekker handshake with the ticket
    private final AtomicLong ticket = new AtomicLong();
    private final AtomicInteger done = new AtomicInteger();
    private volatile Job job;
    private volatile Throwable failure;
    private volatile boolean closed;
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
        done.set(0);
        generation = (generation + 1) & 0xFFFFFF;
        ticket.set(generation << (2 * CHUNK_BITS) | (long) chunks << CHUNK_BITS);
        for (int i = 0; i < workers.length; i++) {
            if (parked.get(i) != 0) LockSupport.unpark(workers[i]);
        }
        claimChunks(generation, job, 0);
        while (done.get() < chunks) Thread.onSpinWait();
        Throwable t = failure;
        if (t != null) {
            failure = null;
            if (t instanceof RuntimeException re) throw re;
            if (t instanceof Error e) throw e;
            throw new IllegalStateException(t);
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
                done.incrementAndGet();
            }
        }
    }

    private void workLoop(int id) {
        long seen = 0;
        int idle = 0;
        while (!closed) {
            long gen = ticket.get() >>> (2 * CHUNK_BITS);
            if (gen != seen) {
                seen = gen;
                idle = 0;
                // Read after seeing the generation: the job of this generation or a later one; a later
                // one never runs here, because this generation's chunks are all claimed by then.
                claimChunks(gen, job, id + 1);
                continue;
            }
            if (++idle < SPINS_BEFORE_PARK) {
                Thread.onSpinWait();
                continue;
            }
            parked.set(id, 1);
            if ((ticket.get() >>> (2 * CHUNK_BITS)) == seen && !closed) LockSupport.park(this);
            parked.set(id, 0);
            idle = 0;
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
