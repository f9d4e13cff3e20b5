package dev.kvasir.memory.search;

import dev.kvasir.memory.Owner;
import dev.kvasir.memory.store.MemoryStore;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import org.apache.lucene.analysis.Analyzer;

/**
 * This process's search indexes, one per (tenant, user), the least recently searched dropped past
 * {@code maxUsers} (rebuilt from the store on their next search).
 *
 * <p>Consistency across replicas sharing one store: before every search the index asks the store
 * for the owner's (generation, head), one primary-key read (tens of microseconds on SQLite, a
 * loopback round trip on PostgreSQL). If it moved, the index fetches the rows and tombstones with
 * a higher seq and applies them. So a write committed by any process is seen by the next search in
 * every process: no polling interval, and nothing is kept that the store has deleted or forgotten.
 * Writes from this process take the same path, so there is one way in.
 */
public final class SearchIndexes implements AutoCloseable {
    private final MemoryStore store;
    private final LexicalAnalyzer analyzerKind;
    private final Analyzer analyzer;
    private final Map<Owner, UserIndex> indexes;
    /** Runs BM25 while the searching thread embeds the query and scans vectors. */
    private final ExecutorService helper = Executors.newFixedThreadPool(2, r -> {
        Thread t = new Thread(r, "kvasir-memory-bm25");
        t.setDaemon(true);
        return t;
    });

    public SearchIndexes(MemoryStore store, LexicalAnalyzer analyzerKind, int maxUsers) {
        this.store = store;
        this.analyzerKind = analyzerKind;
        this.analyzer = analyzerKind.create();
        this.indexes = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Owner, UserIndex> eldest) {
                if (size() <= maxUsers) return false;
                eldest.getValue().close();
                return true;
            }
        };
    }

    public LexicalAnalyzer analyzer() {
        return analyzerKind;
    }

    /** The owner's index, caught up with the store. */
    UserIndex current(Owner owner) {
        UserIndex index;
        synchronized (indexes) {
            index = indexes.computeIfAbsent(owner, o -> new UserIndex(analyzer));
        }
        long[] head = store.head(owner);
        if (head[0] != index.generation() || head[1] != index.head()) {
            index.apply(store.changesSince(owner, index.generation(), index.head()));
        }
        return index;
    }

    /** The owner's best candidates after catching up: see {@link UserIndex#candidates}. */
    public List<Candidate> candidates(Owner owner, String query, Supplier<float[]> embed, SearchFilter filter, int n, boolean lexical) {
        return current(owner).candidates(query, embed, filter, n, lexical, helper);
    }

    /** Drops the owner's index here at once (others drop theirs when they next see the new generation). */
    public void drop(Owner owner) {
        UserIndex removed;
        synchronized (indexes) {
            removed = indexes.remove(owner);
        }
        if (removed != null) removed.close();
    }

    /** How many memories the owner's index holds after catching up (for tests and the bench). */
    public int size(Owner owner) {
        return current(owner).liveCount();
    }

    @Override
    public void close() {
        helper.shutdown();
        synchronized (indexes) {
            indexes.values().forEach(UserIndex::close);
            indexes.clear();
        }
    }
}
