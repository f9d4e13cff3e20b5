package dev.kvasir.bench.kvmemory;

import dev.kvasir.blockmanager.BlockTable;
import dev.kvasir.blockmanager.KvCacheManager;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Replays a trace through a minimal FCFS continuous-batching loop within a fixed KV budget: each step
 * admits waiting requests while their memory fits, every running sample decodes one token, finished
 * requests free their memory. Paged strategies run the real {@link KvCacheManager}; when a block cannot
 * be appended the newest request is preempted by recompute (freed and put back at the queue's front).
 * Memory is sampled after admission on every step.
 */
final class TraceReplay {

    static final int BUDGET_SLOTS = 32_768;
    static final int BLOCK_SIZE = 16;

    /** A running request: one KV sequence per sample. */
    private static final class Running {
        final Request request;
        final long[] ids;
        int generated;

        Running(Request request, long[] ids) {
            this.request = request;
            this.ids = ids;
        }

        int length() { return request.prompt().length + generated; }
    }

    private final String workload;
    private final Strategy strategy;
    private final KvCacheManager kv;
    private final ArrayDeque<Request> waiting;
    private final List<Running> running = new ArrayList<>();
    private final int[] seenAt;
    private long nextId;
    private int contiguousReserved;
    private int preemptions;

    private long step;
    private double wasteSlots;
    private double reservedSlots;
    private double savedSlots;
    private double unsharedSlots;
    private double seqSum;
    private int peakSeqs;

    private TraceReplay(String workload, Strategy strategy, List<Request> trace) {
        this.workload = workload;
        this.strategy = strategy;
        int blocks = BUDGET_SLOTS / BLOCK_SIZE;
        this.kv = strategy == Strategy.CONTIGUOUS ? null
                : new KvCacheManager(blocks, BLOCK_SIZE, 0, KvCacheManager.DEFAULT_WATERMARK, strategy == Strategy.PAGED_SHARED);
        this.waiting = new ArrayDeque<>(trace);
        this.seenAt = new int[blocks];
    }

    static ReplayResult replay(String workload, Strategy strategy, List<Request> trace) {
        return new TraceReplay(workload, strategy, trace).run();
    }

    private ReplayResult run() {
        while (!waiting.isEmpty() || !running.isEmpty()) {
            step++;
            admit();
            if (running.isEmpty()) {
                throw new IllegalStateException("a request does not fit the budget even alone");
            }
            measure();
            decode();
            retire();
        }
        return new ReplayResult(workload, strategy, 100 * wasteSlots / reservedSlots, peakSeqs, seqSum / step,
                unsharedSlots == 0 ? 0 : 100 * savedSlots / unsharedSlots, step, preemptions);
    }

    private void admit() {
        while (!waiting.isEmpty() && tryAdmit(waiting.peekFirst())) {
            waiting.pollFirst();
        }
    }

    private boolean tryAdmit(Request r) {
        int[] prompt = r.prompt();
        long[] ids = new long[r.samples()];
        switch (strategy) {
            case CONTIGUOUS -> {
                int need = r.samples() * Workloads.MAX_MODEL_LEN;
                if (contiguousReserved + need > BUDGET_SLOTS) {
                    return false;
                }
                contiguousReserved += need;
            }
            case PAGED -> {
                int need = r.samples() * kv.blocksFor(prompt.length);
                if (kv.numFreeBlocks() - need < kv.watermarkBlocks()) {
                    return false;
                }
                for (int s = 0; s < ids.length; s++) {
                    ids[s] = nextId++;
                    kv.allocatePrompt(ids[s], prompt, 0);
                    kv.markComputed(ids[s], prompt.length);
                }
            }
            case PAGED_SHARED -> {
                if (!kv.canAllocatePrompt(prompt, 0)) {
                    return false;
                }
                ids[0] = nextId++;
                kv.allocatePrompt(ids[0], prompt, 0);
                kv.markComputed(ids[0], prompt.length);
                for (int s = 1; s < ids.length; s++) {
                    ids[s] = nextId++;
                    kv.fork(ids[0], ids[s]);
                }
            }
        }
        running.add(new Running(r, ids));
        return true;
    }

    private void decode() {
        for (int i = 0; i < running.size(); i++) {
            Running r = running.get(i);
            if (strategy != Strategy.CONTIGUOUS && !appendAll(r)) {
                i--; // r itself was preempted (it was the newest); everything after it is gone too
                continue;
            }
            r.generated++;
        }
    }

    /** Appends one token to every sample of r, preempting newest requests for room; false if r was preempted. */
    private boolean appendAll(Running r) {
        for (int s = 0; s < r.ids.length; s++) {
            while (kv.appendToken(r.ids[s], (int) (r.ids[s] * 31 + r.generated)) < 0) {
                Running victim = running.getLast();
                preempt(victim);
                if (victim == r) {
                    return false;
                }
            }
        }
        kv.drainCopies(); // the copies a backend would perform; memory is what this benchmark measures
        return true;
    }

    private void preempt(Running victim) {
        for (long id : victim.ids) {
            if (kv.contains(id)) {
                kv.free(id);
            }
        }
        running.remove(victim);
        waiting.addFirst(victim.request);
        preemptions++;
    }

    private void retire() {
        for (int i = running.size() - 1; i >= 0; i--) {
            Running r = running.get(i);
            if (r.generated >= r.request.outputTokens()) {
                if (strategy == Strategy.CONTIGUOUS) {
                    contiguousReserved -= r.ids.length * Workloads.MAX_MODEL_LEN;
                } else {
                    for (long id : r.ids) {
                        kv.free(id);
                    }
                }
                running.remove(i);
            }
        }
    }

    private void measure() {
        int seqs = 0;
        long tokens = 0;
        long unshared = 0;
        for (Running r : running) {
            seqs += r.ids.length;
            tokens += (long) r.ids.length * r.length();
            unshared += (long) r.ids.length * blocks(r.length()) * BLOCK_SIZE;
        }
        long reserved;
        long filled;
        if (strategy == Strategy.CONTIGUOUS) {
            reserved = contiguousReserved;
            filled = tokens;
        } else {
            reserved = (long) kv.numUsedBlocks() * BLOCK_SIZE;
            filled = strategy == Strategy.PAGED ? tokens : distinctFilledSlots();
            if (strategy == Strategy.PAGED_SHARED) {
                savedSlots += unshared - reserved;
                unsharedSlots += unshared;
            }
        }
        wasteSlots += reserved - filled;
        reservedSlots += reserved;
        seqSum += seqs;
        peakSeqs = Math.max(peakSeqs, seqs);
    }

    /** Slots holding a token, counting each physical block once however many sequences share it. */
    private long distinctFilledSlots() {
        long filled = 0;
        int stamp = (int) step;
        for (Running r : running) {
            int length = kv.numTokens(r.ids[0]);
            for (long id : r.ids) {
                BlockTable t = kv.blockTable(id);
                for (int i = 0; i < t.size(); i++) {
                    int b = t.get(i);
                    if (seenAt[b] != stamp) {
                        seenAt[b] = stamp;
                        filled += Math.min(BLOCK_SIZE, length - i * BLOCK_SIZE);
                    }
                }
            }
        }
        return filled;
    }

    private static int blocks(int tokens) {
        return (tokens + BLOCK_SIZE - 1) / BLOCK_SIZE;
    }
}
