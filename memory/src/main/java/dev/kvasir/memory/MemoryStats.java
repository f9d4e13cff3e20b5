package dev.kvasir.memory;

import java.util.concurrent.atomic.LongAdder;

/**
 * Counters the server exports ({@code kvasir:memory_*}): searches, searches that returned a memory
 * above the similarity floor (hit rate = hits / searches), memories stored, store errors, conflicts
 * resolved, facts extracted, summaries written, evictions. Search
 * latency goes to {@link MemoryConfig#searchLatencyNanos()}.
 */
public final class MemoryStats {
    final LongAdder searches = new LongAdder();
    final LongAdder searchHits = new LongAdder();
    final LongAdder stored = new LongAdder();
    final LongAdder storeErrors = new LongAdder();
    final LongAdder conflictsResolved = new LongAdder();
    final LongAdder guardDrops = new LongAdder();
    final LongAdder factsExtracted = new LongAdder();
    final LongAdder summaries = new LongAdder();
    final LongAdder evictions = new LongAdder();

    public long searches() {
        return searches.sum();
    }

    public long searchHits() {
        return searchHits.sum();
    }

    public long stored() {
        return stored.sum();
    }

    public long storeErrors() {
        return storeErrors.sum();
    }

    /** Facts retired at write time because a newer or surer value of their key won. */
    public long conflictsResolved() {
        return conflictsResolved.sum();
    }

    /** Second values of a key the read-time guard kept out of a result (two writers raced, or a patch made two valid). */
    public long guardDrops() {
        return guardDrops.sum();
    }

    public long factsExtracted() {
        return factsExtracted.sum();
    }

    public long summaries() {
        return summaries.sum();
    }

    /** Memories a policy moved out of the active set (to the archive) or out of core. */
    public long evictions() {
        return evictions.sum();
    }
}
