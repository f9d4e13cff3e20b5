package dev.kvasir.memory;

import dev.kvasir.memory.store.MemoryStore;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * Which memories searches returned, written to the store (last accessed, access count) in one
 * batch per owner every second instead of one write per search, so searching never waits on a
 * disk sync.
 */
final class AccessLog {
    private final Map<Owner, Set<String>> pending = new HashMap<>();

    synchronized void note(Owner owner, Iterable<String> ids) {
        Set<String> set = pending.computeIfAbsent(owner, o -> new LinkedHashSet<>());
        for (String id : ids) set.add(id);
    }

    /** Writes what was noted; failures are the store's to count and are not retried. */
    void flush(MemoryStore store, Instant at) {
        Map<Owner, Set<String>> batch;
        synchronized (this) {
            if (pending.isEmpty()) return;
            batch = new HashMap<>(pending);
            pending.clear();
        }
        batch.forEach((owner, ids) -> store.touch(owner, ids, at));
    }
}
