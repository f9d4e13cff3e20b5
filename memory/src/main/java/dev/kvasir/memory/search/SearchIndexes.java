package dev.kvasir.memory.search;

import dev.kvasir.memory.Owner;
import dev.kvasir.memory.VectorMode;
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
    /** Pq mode's codebook, shared by every user's index; null in float mode. */
    private final SharedCodebook codebook;
    /** Runs BM25 while the searching thread embeds the query and scans vectors. */
    private final ExecutorService helper = Executors.newFixedThreadPool(2, r -> {
        Thread t = new Thread(r, "kvasir-memory-bm25");
        t.setDaemon(true);
        return t;
    });

    public SearchIndexes(MemoryStore store, LexicalAnalyzer analyzerKind, int maxUsers, VectorMode vectors) {
        this.store = store;
        this.codebook = vectors == VectorMode.PQ ? new SharedCodebook() : null;
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
            index = indexes.computeIfAbsent(owner, o -> new UserIndex(analyzer, codebook));
        }
        return caughtUp(owner, index);
    }

    private UserIndex caughtUp(Owner owner, UserIndex index) {
        long[] head = store.head(owner);
        if (head[0] != index.generation() || head[1] != index.head()) {
            index.apply(store.changesSince(owner, index.generation(), index.head()));
        }
        return index;
    }

    /**
     * Catches the owner's index up with the store now, if this process holds one (a write does not
     * build an index for a user nobody searched). A writer calls it after its writes, off the
     * request path, so the next search finds its index current and only reads the head.
     */
    public void catchUp(Owner owner) {
        UserIndex index;
        synchronized (indexes) {
            index = indexes.get(owner);
        }
        if (index != null) caughtUp(owner, index);
    }

    /**
     * The owner's best candidates after catching up: see {@link UserIndex#candidates}. {@code approximate}:
     * their similarities come from pq codes, and the caller re-ranks on exact vectors ({@link #exactVectors}).
     */
    public record CandidateSet(List<Candidate> candidates, boolean approximate) {}

    public CandidateSet candidates(Owner owner, String query, Supplier<float[]> embed, SearchFilter filter, int n, boolean lexical) {
        return reader(owner).candidates(query, embed, filter, n, lexical);
    }

    /**
     * The owner's index caught up once, for the several reads of one request (a chat turn's core
     * block, search and conflicts): one head read in all instead of one per read. Writes committed
     * before this call are seen; later ones by the next reader.
     */
    public Reader reader(Owner owner) {
        return new Reader(current(owner));
    }

    /** Reads of one owner's index without a catch-up each: see {@link #reader}. */
    public final class Reader {
        private final UserIndex index;

        private Reader(UserIndex index) {
            this.index = index;
        }

        /** See {@link SearchIndexes#candidates}. */
        public CandidateSet candidates(String query, Supplier<float[]> embed, SearchFilter filter, int n, boolean lexical) {
            return new CandidateSet(index.candidates(query, embed, filter, n, lexical, helper), index.approximate());
        }

        /** The memories that pass {@code test}, in write order. */
        public List<dev.kvasir.memory.Memory> select(java.util.function.Predicate<dev.kvasir.memory.Memory> test) {
            return index.select(test);
        }
    }

    /** The stored exact vectors of some of the owner's memories (for the re-rank in pq mode). */
    public Map<String, float[]> exactVectors(Owner owner, java.util.Collection<String> ids) {
        return store.vectors(owner, ids);
    }

    /** The owner's memories that pass {@code test}, after catching up, in write order. */
    public List<dev.kvasir.memory.Memory> select(Owner owner, java.util.function.Predicate<dev.kvasir.memory.Memory> test) {
        return current(owner).select(test);
    }

    /** Bytes the owner's index holds per memory for vectors: 1,924 as floats and int8, 48 as pq codes. */
    public int vectorBytes(Owner owner) {
        return current(owner).vectorBytes();
    }

    /** Bytes of the process's pq codebook (0 in float mode, or before it is trained). */
    public long codebookBytes() {
        return codebook == null || codebook.get() == null ? 0 : ProductQuantizer.codebookBytes();
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
