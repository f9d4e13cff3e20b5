package dev.kvasir.memory;

import dev.kvasir.memory.store.MemoryStore;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Which memories searches returned, and when, written to the store (last accessed, access count)
 * in one batch per owner every second instead of one write per search, so searching never waits on
 * a disk sync. Each read keeps its own time and counts once, so what reaches the store does not
 * depend on when the flush runs (policies read it: {@link #flush} runs before they do).
 */
final class AccessLog {
    private final Map<Owner, Map<String, MemoryStore.Access>> pending = new HashMap<>();
    /** Held while a batch is written: a flush returns only once every read noted before it is in the store. */
    private final Object writing = new Object();

    synchronized void note(Owner owner, Iterable<String> ids, Instant at) {
        Map<String, MemoryStore.Access> reads = pending.computeIfAbsent(owner, o -> new LinkedHashMap<>());
        for (String id : ids) {
            reads.merge(id, new MemoryStore.Access(at, 1), (a, b) -> new MemoryStore.Access(
                    a.last().isAfter(b.last()) ? a.last() : b.last(), a.count() + b.count()));
        }
    }

    /** Writes what was noted; failures are the store's to count and are not retried. */
    void flush(MemoryStore store) {
        synchronized (writing) {
            Map<Owner, Map<String, MemoryStore.Access>> batch;
            synchronized (this) {
                if (pending.isEmpty()) return;
                batch = new HashMap<>(pending);
                pending.clear();
            }
            batch.forEach(store::touch);
        }
    }
}
