package dev.kvasir.server.engine;

import dev.kvasir.blockmanager.BlockPool;
import dev.kvasir.blockmanager.KvCacheManager;
import dev.kvasir.blockmanager.SwapPlan;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Continuous batching policy. Each step: running sequences first (oldest first: decodes, and the
 * next chunk of prompts being prefilled), preempting the newest running sequence whenever a
 * decode cannot get a slot; then swapped sequences back in; then waiting prompts while their
 * blocks fit above the watermark, all within the token and sequence budgets. The block manager is
 * the mechanism; every choice of who runs is made here.
 */
final class Scheduler {

    private final KvCacheManager kvManager;
    private final EngineConfig config;
    /** Admission order: the last one is the newest, the first to be preempted. */
    private final ArrayList<Sequence> running = new ArrayList<>();
    private final ArrayDeque<Sequence> waiting = new ArrayDeque<>();
    private final ArrayDeque<Sequence> swapped = new ArrayDeque<>();
    private long preemptions;

    Scheduler(KvCacheManager kvManager, EngineConfig config) {
        this.kvManager = kvManager;
        this.config = config;
    }

    void addWaiting(Sequence seq) {
        seq.status = Sequence.Status.WAITING;
        waiting.addLast(seq);
    }

    /** A forked choice joins the batch right behind its parent's admission order (at the end). */
    void addRunning(Sequence seq) {
        seq.status = Sequence.Status.RUNNING;
        running.add(seq);
    }

    /** Takes a finished or aborted sequence out of every queue and frees its blocks. */
    void remove(Sequence seq) {
        switch (seq.status) {
            case RUNNING -> running.remove(seq);
            case WAITING -> waiting.remove(seq);
            case SWAPPED -> swapped.remove(seq);
            case FINISHED -> { }
        }
        if (seq.allocated) {
            free(seq, false);
            seq.allocated = false;
        }
        seq.status = Sequence.Status.FINISHED;
    }

    boolean hasWork() {
        return !running.isEmpty() || !waiting.isEmpty() || !swapped.isEmpty();
    }

    int numRunning() { return running.size(); }
    int numWaiting() { return waiting.size(); }
    int numSwapped() { return swapped.size(); }
    long preemptions() { return preemptions; }

    /** The first waiting sequence, for the engine to fail when it can never fit. */
    Sequence headOfWaiting() {
        return waiting.peekFirst();
    }

    ScheduledStep schedule() {
        List<ScheduledStep.Chunk> chunks = new ArrayList<>();
        List<SwapPlan> swapOuts = new ArrayList<>();
        List<SwapPlan> swapIns = new ArrayList<>();
        int budget = config.maxNumBatchedTokens();
        boolean preempted = false;

        // 1. Running sequences, oldest first; victims come from the newest end.
        for (int i = 0; i < running.size() && budget > 0; i++) {
            Sequence seq = running.get(i);
            if (kvManager.numTokens(seq.id) < seq.numTokens()) {
                // Decode: the last sampled token needs a slot before it can be fed back.
                int slot = kvManager.appendToken(seq.id, seq.lastToken());
                while (slot < 0) {
                    Sequence victim = running.getLast();
                    preempt(victim, swapOuts);
                    preempted = true;
                    if (victim == seq) break;
                    slot = kvManager.appendToken(seq.id, seq.lastToken());
                }
                if (slot < 0) break; // seq itself was the newest: nothing after it runs either
                chunks.add(new ScheduledStep.Chunk(seq, seq.numTokens() - 1, 1, new int[] {slot}, true));
                budget--;
            } else {
                chunks.add(prefillChunk(seq, budget));
                budget -= chunks.getLast().length();
            }
        }

        // 2. Swapped sequences come back before any new prompt, when nothing was just pushed out.
        while (!preempted && !swapped.isEmpty() && running.size() < config.maxNumSeqs()) {
            Sequence seq = swapped.peekFirst();
            if (!kvManager.canSwapIn(seq.id)) break;
            SwapPlan plan = kvManager.swapIn(seq.id);
            if (plan == null) break;
            swapped.pollFirst();
            swapIns.add(plan);
            addRunning(seq); // decodes from the next step on
        }

        // 3. Waiting prompts (new, or preempted for recompute), first come first served.
        while (!preempted && swapped.isEmpty() && budget > 0 && !waiting.isEmpty()) {
            Sequence seq = waiting.peekFirst();
            if (running.size() + seq.request.seatsNeeded() > config.maxNumSeqs()) break;
            int[] tokens = seq.tokens(0, seq.numTokens());
            if (!kvManager.canAllocatePrompt(tokens, seq.request.cacheKey)) break;
            int cached = kvManager.allocatePrompt(seq.id, tokens, seq.request.cacheKey);
            if (cached < 0) break;
            waiting.pollFirst();
            seq.allocated = true;
            seq.numComputed = cached;
            if (!seq.request.admitted) {
                seq.request.admitted = true;
                seq.request.cachedTokens = cached;
            }
            addRunning(seq);
            chunks.add(prefillChunk(seq, budget));
            budget -= chunks.getLast().length();
        }
        return new ScheduledStep(chunks, swapOuts, swapIns);
    }

    /**
     * After the forward pass: the chunks' tokens now have KV in the cache (full blocks of them
     * enter the prefix cache).
     *
     * @return the sequences whose prompt was completed this step (they sample next)
     */
    List<Sequence> markComputed(ScheduledStep step) {
        List<Sequence> prompted = new ArrayList<>();
        for (ScheduledStep.Chunk c : step.chunks()) {
            Sequence seq = c.sequence();
            if (seq.status != Sequence.Status.RUNNING) continue;
            seq.numComputed = c.start() + c.length();
            kvManager.markComputed(seq.id, seq.numComputed);
            if (c.wantLogits() && seq.numGenerated() == 0) prompted.add(seq);
        }
        return prompted;
    }

    /**
     * Frees the sequence's blocks into the retention class its request earned: with session
     * retention, pinned prefixes last, then sessions' and preempted sequences' (they come back soon)
     * and prefixes other requests share, then everything else; with LRU, all alike.
     */
    private void free(Sequence seq, boolean preempted) {
        if (config.retention() == EngineConfig.KvRetention.LRU) {
            kvManager.free(seq.id);
            return;
        }
        GenerationRequest.CacheHint hint = seq.request.request.cache();
        BlockPool.Retention r = hint.pinNanos() > 0 ? BlockPool.Retention.PINNED
                : hint.session() || preempted ? BlockPool.Retention.SESSION : BlockPool.Retention.NORMAL;
        kvManager.free(seq.id, r, true);
    }

    /** The next piece of a prompt being prefilled, as much as the token budget allows. */
    private ScheduledStep.Chunk prefillChunk(Sequence seq, int budget) {
        int start = seq.numComputed;
        int length = Math.min(seq.numTokens() - start, budget);
        boolean last = start + length == seq.numTokens();
        return new ScheduledStep.Chunk(seq, start, length, kvManager.slotMapping(seq.id, start, start + length), last);
    }

    /**
     * Makes room: by swapping when configured and the CPU pool has space, else by recompute (free
     * the blocks, keep their prefix hashes, go first in line to be prefilled again).
     */
    private void preempt(Sequence seq, List<SwapPlan> swapOuts) {
        running.remove(seq);
        preemptions++;
        if (config.preemptionMode() == EngineConfig.PreemptionMode.SWAP) {
            SwapPlan plan = kvManager.swapOut(seq.id);
            if (plan != null) {
                swapOuts.add(plan);
                seq.status = Sequence.Status.SWAPPED;
                swapped.addLast(seq);
                return;
            }
        }
        free(seq, true);
        seq.allocated = false;
        seq.numComputed = 0;
        seq.status = Sequence.Status.WAITING;
        waiting.addFirst(seq);
    }
}
