package dev.kvasir.memory;

import java.util.concurrent.atomic.LongAdder;

/**
 * Counters the server exports ({@code kvasir:memory_*}): searches, searches that returned a memory
 * above the similarity floor (hit rate = hits / searches), memories stored, store errors. Search
 * latency goes to {@link MemoryConfig#searchLatencyNanos()}.
 */
public final class MemoryStats {
    final LongAdder searches = new LongAdder();
    final LongAdder searchHits = new LongAdder();
    final LongAdder stored = new LongAdder();
    final LongAdder storeErrors = new LongAdder();

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
}
