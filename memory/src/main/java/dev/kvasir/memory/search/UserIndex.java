package dev.kvasir.memory.search;

import dev.kvasir.memory.Memory;
import dev.kvasir.memory.Scope;
import dev.kvasir.memory.Tier;
import dev.kvasir.memory.store.StoredMemory;
import dev.kvasir.memory.store.UserChanges;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Supplier;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.NumericDocValuesField;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.index.NumericDocValues;
import org.apache.lucene.index.ReaderUtil;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause.Occur;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.Query;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.store.ByteBuffersDirectory;

/**
 * One user's search index in this process: the memories in slots, their vectors in one flat float
 * matrix (row = slot) and as int8 codes with a scale per row (the dense side scans the codes, a
 * quarter of the bytes, then re-ranks its best 2n exactly on the floats: at 100,000 memories the
 * scan took 10.5 ms instead of 23 ms, same best row), and an in-memory Lucene index (BM25) whose documents
 * carry their slot. It mirrors the store up to {@link #head()} of {@link #generation()}; {@link
 * #apply} moves it forward. Deleted slots stay empty (not reused) until the next reset.
 */
final class UserIndex implements AutoCloseable {
    private static final int DIM = Embedder.DIMENSION;
    private static final int MAX_QUERY_TERMS = 256;

    private final Analyzer analyzer;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final Map<String, Integer> slotById = new HashMap<>();
    private final ByteBuffersDirectory directory = new ByteBuffersDirectory();
    private final IndexWriter writer;
    private DirectoryReader reader;
    private IndexSearcher searcher;
    private Memory[] memories = new Memory[16];
    private float[] vectors = new float[16 * DIM];
    private byte[] codes = new byte[16 * DIM];
    private float[] scales = new float[16];
    private int size;
    private long generation;
    private long head;

    UserIndex(Analyzer analyzer) {
        this.analyzer = analyzer;
        try {
            IndexWriterConfig config = new IndexWriterConfig(analyzer);
            config.setSimilarity(new BM25Similarity());
            writer = new IndexWriter(directory, config);
            reader = DirectoryReader.open(writer);
            searcher = newSearcher(reader);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    long generation() {
        lock.readLock().lock();
        try {
            return generation;
        } finally {
            lock.readLock().unlock();
        }
    }

    long head() {
        lock.readLock().lock();
        try {
            return head;
        } finally {
            lock.readLock().unlock();
        }
    }

    int liveCount() {
        lock.readLock().lock();
        try {
            return slotById.size();
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Applies a catch-up; one older than what is applied already (a slower concurrent catch-up) is ignored. */
    void apply(UserChanges changes) {
        lock.writeLock().lock();
        try {
            if (changes.generation() == generation && changes.head() <= head) return;
            if (changes.reset()) {
                writer.deleteAll();
                slotById.clear();
                Arrays.fill(memories, 0, size, null);
                size = 0;
            }
            for (StoredMemory sm : changes.upserts()) upsert(sm);
            for (String id : changes.deletedIds()) {
                Integer slot = slotById.remove(id);
                if (slot == null) continue;
                memories[slot] = null;
                writer.deleteDocuments(new Term("id", id));
            }
            generation = changes.generation();
            head = changes.head();
            DirectoryReader newer = DirectoryReader.openIfChanged(reader, writer);
            if (newer != null) {
                reader.close();
                reader = newer;
                searcher = newSearcher(newer);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            lock.writeLock().unlock();
        }
    }

    private void upsert(StoredMemory sm) throws IOException {
        Memory m = sm.memory();
        Integer existing = slotById.get(m.id());
        int slot;
        if (existing != null) {
            slot = existing;
        } else {
            slot = size++;
            if (slot == memories.length) {
                memories = Arrays.copyOf(memories, slot * 2);
                vectors = Arrays.copyOf(vectors, slot * 2 * DIM);
                codes = Arrays.copyOf(codes, slot * 2 * DIM);
                scales = Arrays.copyOf(scales, slot * 2);
            }
            slotById.put(m.id(), slot);
        }
        if (sm.vector().length != DIM) {
            throw new IllegalStateException("memory " + m.id() + " has a " + sm.vector().length + "-dimensional vector, not " + DIM);
        }
        memories[slot] = m;
        System.arraycopy(sm.vector(), 0, vectors, slot * DIM, DIM);
        scales[slot] = VectorMath.quantize(sm.vector(), codes, slot * DIM);
        Document doc = new Document();
        doc.add(new StringField("id", m.id(), Field.Store.NO));
        doc.add(new NumericDocValuesField("slot", slot));
        doc.add(new TextField("content", m.content(), Field.Store.NO));
        doc.add(new StringField("scope", m.scope().apiName(), Field.Store.NO));
        if (m.sessionId() != null) doc.add(new StringField("session", m.sessionId(), Field.Store.NO));
        doc.add(new StringField("tier", m.tier().apiName(), Field.Store.NO));
        writer.updateDocument(new Term("id", m.id()), doc);
    }

    /**
     * The best {@code n} memories of each retriever that pass the filter, merged: lexical when
     * {@code lexical}, dense when {@code embed} gives a query vector (null: none). BM25 runs on
     * {@code helper} while this thread embeds the query and scans the vectors, so the two overlap;
     * this thread holds the read lock throughout and waits for the helper before releasing it, so
     * no catch-up can change the slots under either.
     */
    List<Candidate> candidates(String query, Supplier<float[]> embed, SearchFilter filter, int n, boolean lexical,
            Executor helper) {
        lock.readLock().lock();
        try {
            CompletableFuture<List<Candidate>> lexicalHits = lexical
                    ? CompletableFuture.supplyAsync(() -> lexicalHits(query, filter, n), helper)
                    : CompletableFuture.completedFuture(List.of());
            float[] queryVector;
            int[] denseSlots;
            try {
                queryVector = embed.get();
                denseSlots = queryVector == null ? new int[0] : denseSlots(queryVector, filter, n);
            } finally {
                lexicalHits.handle((hits, error) -> null).join(); // never leave the helper running past the lock
            }
            Map<Integer, Candidate> bySlot = new LinkedHashMap<>();
            for (Candidate c : lexicalHits.join()) {
                int slot = slotById.get(c.memory().id());
                float sim = queryVector == null ? 0 : VectorMath.dot(vectors, slot * DIM, queryVector);
                bySlot.put(slot, new Candidate(c.memory(), c.lexicalRank(), c.lexicalScore(), c.lexicalShare(), -1, sim));
            }
            for (int rank = 0; rank < denseSlots.length; rank++) {
                int slot = denseSlots[rank];
                Candidate lex = bySlot.get(slot);
                float sim = VectorMath.dot(vectors, slot * DIM, queryVector);
                bySlot.put(slot, lex == null
                        ? new Candidate(memories[slot], -1, 0, 0, rank, sim)
                        : new Candidate(lex.memory(), lex.lexicalRank(), lex.lexicalScore(), lex.lexicalShare(), rank, sim));
            }
            return new ArrayList<>(bySlot.values());
        } finally {
            lock.readLock().unlock();
        }
    }

    /** BM25's best n that pass the filter, best first (similarity not yet known: 0). Caller holds the read lock. */
    private List<Candidate> lexicalHits(String query, SearchFilter filter, int n) {
        try {
            List<Term> terms = queryTerms(query);
            float idfSum = idfSum(terms);
            List<Candidate> hits = new ArrayList<>();
            for (ScoreDoc hit : bm25(terms, filter, n)) {
                Memory m = memories[slotOf(hit.doc)];
                if (m == null || !filter.accepts(m)) continue;
                hits.add(new Candidate(m, hits.size(), hit.score, idfSum > 0 ? hit.score / idfSum : 0, -1, 0));
                if (hits.size() == n) break;
            }
            return hits;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The dense side's best n slots that pass the filter, best first: the int8 scan's best 2n,
     * re-ranked on the float rows. Caller holds the read lock.
     */
    private int[] denseSlots(float[] queryVector, SearchFilter filter, int n) {
        float[] approx = new float[size];
        VectorMath.scan(codes, scales, size, queryVector, approx);
        TopScores approximate = new TopScores(2 * n);
        for (int slot = 0; slot < size; slot++) {
            float s = approx[slot];
            if (!approximate.wouldAccept(s)) continue;
            Memory m = memories[slot];
            if (m != null && filter.accepts(m)) approximate.offer(slot, s);
        }
        TopScores top = new TopScores(n);
        for (int slot : approximate.slotsDescending()) top.offer(slot, VectorMath.dot(vectors, slot * DIM, queryVector));
        return top.slotsDescending();
    }

    /** The query's distinct analyzed terms, at most {@link #MAX_QUERY_TERMS}. */
    private List<Term> queryTerms(String query) {
        List<Term> terms = new ArrayList<>();
        for (String t : new LinkedHashSet<>(LexicalAnalyzer.terms(analyzer, "content", query))) {
            if (terms.size() == MAX_QUERY_TERMS) break;
            terms.add(new Term("content", t));
        }
        return terms;
    }

    /** Sum of the terms' BM25 IDFs over this user's memories (Lucene's formula). */
    private float idfSum(List<Term> terms) throws IOException {
        long docs = reader.numDocs();
        float sum = 0;
        for (Term t : terms) {
            int df = reader.docFreq(t);
            sum += (float) Math.log(1 + (docs - df + 0.5) / (df + 0.5));
        }
        return sum;
    }

    /** BM25 over the content, with the filter's session and tier conditions inside Lucene. */
    private ScoreDoc[] bm25(List<Term> terms, SearchFilter filter, int n) throws IOException {
        if (terms.isEmpty()) return new ScoreDoc[0];
        BooleanQuery.Builder text = new BooleanQuery.Builder();
        for (Term t : terms) text.add(new TermQuery(t), Occur.SHOULD);
        BooleanQuery.Builder scope = new BooleanQuery.Builder().add(new TermQuery(new Term("scope", Scope.USER.apiName())), Occur.SHOULD);
        if (filter.sessionId() != null) scope.add(new TermQuery(new Term("session", filter.sessionId())), Occur.SHOULD);
        BooleanQuery.Builder q = new BooleanQuery.Builder().add(text.build(), Occur.MUST).add(scope.build(), Occur.FILTER);
        if (filter.tiers() != null) {
            BooleanQuery.Builder tiers = new BooleanQuery.Builder();
            for (Tier t : filter.tiers()) tiers.add(new TermQuery(new Term("tier", t.apiName())), Occur.SHOULD);
            q.add(tiers.build(), Occur.FILTER);
        }
        Query built = q.build();
        // Twice n: validity is checked after Lucene, and a few invalid hits should not crowd out valid ones.
        return searcher.search(built, 2 * n).scoreDocs;
    }

    private int slotOf(int doc) throws IOException {
        List<LeafReaderContext> leaves = reader.leaves();
        LeafReaderContext leaf = leaves.get(ReaderUtil.subIndex(doc, leaves));
        NumericDocValues values = leaf.reader().getNumericDocValues("slot");
        if (values == null || !values.advanceExact(doc - leaf.docBase)) throw new IllegalStateException("document " + doc + " has no slot");
        return (int) values.longValue();
    }

    private static IndexSearcher newSearcher(DirectoryReader r) {
        IndexSearcher s = new IndexSearcher(r);
        s.setSimilarity(new BM25Similarity());
        return s;
    }

    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            reader.close();
            writer.close();
            directory.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            lock.writeLock().unlock();
        }
    }
}
