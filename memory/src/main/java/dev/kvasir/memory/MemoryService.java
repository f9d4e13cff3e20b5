package dev.kvasir.memory;

import dev.kvasir.memory.search.Candidate;
import dev.kvasir.memory.search.Embedder;
import dev.kvasir.memory.search.SearchFilter;
import dev.kvasir.memory.search.SearchIndexes;
import dev.kvasir.memory.store.MemoryStore;
import dev.kvasir.memory.store.MemoryStores;
import dev.kvasir.memory.store.StoredMemory;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The memory layer as the server sees it: one call per API operation, each taking the tenant (from
 * the API key) and the user (from the request), validating its input before anything is written
 * ({@link MemoryInputException} names the parameter), and scoping every read and write to that
 * owner. A memory of another tenant or user is never found, changed or counted:
 * {@link MemoryNotFoundException} looks the same whether an id exists elsewhere or nowhere.
 *
 * <p>Thread-safe. Writes have committed to the store when they return. Chat turns are recorded on
 * a background thread ({@link #recordTurn}); {@link #close} finishes them first.
 */
public final class MemoryService implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MemoryService.class);
    /** Candidates each retriever hands to fusion: enough for k = 100 and for the RRF tail to matter. */
    private static final int CANDIDATES = 100;
    private static final int MAX_EMBED_INPUTS = 2048;
    private static final int MAX_HISTORY_TURNS = 400;

    private final MemoryStore store;
    private final MemoryConfig config;
    private final SearchIndexes indexes;
    private final CompletableFuture<Embedder> embedder;
    private final MemoryStats stats = new MemoryStats();
    private final AccessLog accessLog = new AccessLog();
    private final ExecutorService turnWriter;
    private final ScheduledExecutorService accessFlusher;

    public MemoryService(MemoryStore store, MemoryConfig config) {
        this.store = store;
        this.config = config;
        this.indexes = new SearchIndexes(store, config.analyzer(), config.maxCachedUsers());
        this.embedder = Embedder.shared();
        this.turnWriter = Executors.newSingleThreadExecutor(daemon("kvasir-memory-turns"));
        this.accessFlusher = Executors.newSingleThreadScheduledExecutor(daemon("kvasir-memory-access"));
        accessFlusher.scheduleWithFixedDelay(this::flushAccesses, 1, 1, TimeUnit.SECONDS);
    }

    /** The service for {@code --memory-store SPEC}, or empty for {@code none} (memory off, no model loaded). */
    public static Optional<MemoryService> open(String spec, MemoryConfig config) {
        return MemoryStores.open(spec).map(store -> new MemoryService(store, config));
    }

    public MemoryStats stats() {
        return stats;
    }

    /** Whether the embedding model has loaded (before that, searches run on BM25 alone). */
    public boolean embeddingsReady() {
        return embedder.isDone() && !embedder.isCompletedExceptionally();
    }

    // ---- memories -------------------------------------------------------------------------------

    /** {@code POST /v1/memories}. */
    public Memory add(String tenant, String user, NewMemory memory) {
        return addAll(tenant, user, List.of(memory), "api").get(0);
    }

    /** Several memories of one user in one transaction, embedded as a batch (imports, the bench). */
    public List<Memory> addAll(String tenant, String user, List<NewMemory> memories, String by) {
        Owner owner = new Owner(tenant, user);
        Instant now = now();
        List<Memory> built = new ArrayList<>(memories.size());
        for (NewMemory m : memories) built.add(build(owner, m, now));
        List<String> texts = built.stream().map(Memory::content).toList();
        List<float[]> vectors = embedder().embedAll(texts).vectors();
        List<StoredMemory> rows = new ArrayList<>(built.size());
        for (int i = 0; i < built.size(); i++) rows.add(new StoredMemory(built.get(i), vectors.get(i)));
        guarded(() -> {
            store.insert(owner, rows, by);
            return null;
        });
        stats.stored.add(rows.size());
        return built;
    }

    /**
     * Writes memories whose vectors the caller computed (unit length, {@link Embedder#DIMENSION}
     * floats): the bench's path to 100,000 memories without embedding each.
     */
    public List<Memory> addPrecomputed(String tenant, String user, List<NewMemory> memories, List<float[]> vectors) {
        Owner owner = new Owner(tenant, user);
        Instant now = now();
        List<StoredMemory> rows = new ArrayList<>(memories.size());
        for (int i = 0; i < memories.size(); i++) {
            if (vectors.get(i).length != Embedder.DIMENSION) throw new IllegalArgumentException("vector " + i + " is not " + Embedder.DIMENSION + "-dimensional");
            rows.add(new StoredMemory(build(owner, memories.get(i), now), vectors.get(i)));
        }
        guarded(() -> {
            store.insert(owner, rows, "import");
            return null;
        });
        stats.stored.add(rows.size());
        return rows.stream().map(StoredMemory::memory).toList();
    }

    /** {@code GET /v1/memories/{id}}. */
    public Memory get(String tenant, String user, String id) {
        Owner owner = new Owner(tenant, user);
        MemoryIds.check(id, "id");
        return guarded(() -> store.get(owner, id)).orElseThrow(() -> new MemoryNotFoundException(id));
    }

    /** {@code GET /v1/memories?user=&limit=&cursor=}: oldest first. */
    public MemoryPage list(String tenant, String user, int limit, String cursor) {
        Owner owner = new Owner(tenant, user);
        InputRules.checkLimit(limit);
        String after = cursor == null ? null : MemoryIds.afterId(cursor);
        List<Memory> page = guarded(() -> store.list(owner, after, limit + 1));
        boolean more = page.size() > limit;
        List<Memory> data = more ? page.subList(0, limit) : page;
        return new MemoryPage(List.copyOf(data), more ? MemoryIds.cursorAfter(data.get(data.size() - 1).id()) : null);
    }

    /** {@code PATCH /v1/memories/{id}}: sets the patch's non-null fields, records the change in the history. */
    public Memory patch(String tenant, String user, String id, MemoryPatch patch) {
        Owner owner = new Owner(tenant, user);
        MemoryIds.check(id, "id");
        if (patch.content() != null) InputRules.checkContent(patch.content(), "content");
        if (patch.importance() != null) InputRules.checkUnit(patch.importance(), "importance");
        if (patch.confidence() != null) InputRules.checkUnit(patch.confidence(), "confidence");
        if (patch.factKey() != null) InputRules.checkFactKey(patch.factKey());
        if (patch.metadata() != null) InputRules.checkMetadata(patch.metadata());
        if (patch.invalidatedBy() != null) MemoryIds.check(patch.invalidatedBy(), "invalidated_by");
        Memory old = get(tenant, user, id);
        if (patch.isEmpty()) return old;
        Instant now = now();
        boolean invalidates = patch.invalidAt() != null || patch.invalidatedBy() != null;
        Memory updated = new Memory(old.id(), old.tenant(), old.user(), old.scope(), old.sessionId(),
                or(patch.factKey(), old.factKey()), or(patch.content(), old.content()),
                or(patch.importance(), old.importance()), or(patch.confidence(), old.confidence()),
                or(patch.correction(), old.correction()), or(patch.tier(), old.tier()), old.source(),
                old.createdAt(), old.lastAccessedAt(), old.accessCount(), or(patch.metadata(), old.metadata()),
                or(micros(patch.validAt()), old.validAt()), or(micros(patch.invalidAt()), old.invalidAt()),
                patch.invalidatedBy() != null ? now : old.expiredAt(), or(patch.invalidatedBy(), old.invalidatedBy()),
                old.summaryDepth(), old.replaces());
        Map<String, String> changes = changes(old, updated);
        float[] vector = updated.content().equals(old.content()) ? null : embedder().embed(updated.content());
        MemoryEvent.Kind kind = invalidates ? MemoryEvent.Kind.INVALIDATED : MemoryEvent.Kind.UPDATED;
        String by = patch.invalidatedBy() != null ? patch.invalidatedBy() : "api";
        if (!guarded(() -> store.update(owner, updated, vector, kind, by, changes))) throw new MemoryNotFoundException(id);
        return updated;
    }

    /** {@code DELETE /v1/memories/{id}}: the memory, its vector, index entries and history. */
    public void delete(String tenant, String user, String id) {
        Owner owner = new Owner(tenant, user);
        MemoryIds.check(id, "id");
        if (!guarded(() -> store.delete(owner, id))) throw new MemoryNotFoundException(id);
    }

    /** {@code GET /v1/memories/{id}/history}: every change, oldest first. */
    public List<MemoryEvent> history(String tenant, String user, String id) {
        Owner owner = new Owner(tenant, user);
        MemoryIds.check(id, "id");
        List<MemoryEvent> events = guarded(() -> store.history(owner, id));
        if (events.isEmpty()) throw new MemoryNotFoundException(id);
        return events;
    }

    /** {@code DELETE /v1/memories?user=}: everything of the user. Returns how many memories went. */
    public int forgetUser(String tenant, String user) {
        Owner owner = new Owner(tenant, user);
        int removed = guarded(() -> store.forget(owner));
        indexes.drop(owner);
        return removed;
    }

    // ---- retrieval ------------------------------------------------------------------------------

    /**
     * {@code POST /v1/memories/search}: the best {@code k} memories (cut to {@code maxTokens} when
     * set, which needs {@code counter}), in injection order, with scores. {@code counter} may be
     * null when no budget is set; then {@link SearchResult#tokens()} is -1.
     */
    public SearchResult search(String tenant, String user, SearchRequest request, TokenCounter counter) {
        Owner owner = new Owner(tenant, user);
        InputRules.checkContent(request.query(), "query");
        InputRules.checkK(request.k());
        if (request.maxTokens() != null) {
            InputRules.checkMaxTokens(request.maxTokens());
            if (counter == null) throw new IllegalArgumentException("a token budget needs a token counter");
        }
        if (request.sessionId() != null) InputRules.checkSessionId(request.sessionId());
        return search(owner, request, counter, null);
    }

    /**
     * What {@code /v1/chat/completions} injects for the latest user turn: up to {@code topK}
     * memories within {@code maxTokens} (the whole block, header included), leaving out the
     * session's own recorded turns (the prompt has them). Place {@link SearchResult#block()}, when
     * not null, as one system message right after the system prompt.
     */
    public SearchResult contextFor(String tenant, String user, String sessionId, String query, int topK, int maxTokens,
            TokenCounter counter) {
        Owner owner = new Owner(tenant, user);
        if (sessionId != null) InputRules.checkSessionId(sessionId);
        InputRules.checkK(topK);
        InputRules.checkMaxTokens(maxTokens);
        if (query == null || query.isBlank()) return new SearchResult(List.of(), null, 0);
        String q = InputRules.utf8Length(query) > InputRules.MAX_CONTENT_BYTES ? truncate(query) : query;
        SearchRequest request = new SearchRequest(q, topK, maxTokens, sessionId, null, null, false, null);
        return search(owner, request, counter, sessionId);
    }

    private SearchResult search(Owner owner, SearchRequest request, TokenCounter counter, String excludeTurnsOf) {
        long t0 = System.nanoTime();
        Instant now = now();
        Instant at = request.asOf() != null ? request.asOf() : now;
        SearchFilter filter = new SearchFilter(request.sessionId(), request.tiers(), at, request.includeInvalid(), excludeTurnsOf);
        RetrievalMode mode = request.mode() == null ? RetrievalMode.HYBRID : request.mode();
        // The model may still be loading: search lexically rather than stall (DENSE alone has to wait).
        Embedder e = mode == RetrievalMode.DENSE ? embedder() : embedder.getNow(null);
        Supplier<float[]> queryVector = () -> mode != RetrievalMode.LEXICAL && e != null ? e.embed(request.query()) : null;
        List<Candidate> candidates = guarded(() -> indexes.candidates(owner, request.query(), queryVector, filter,
                CANDIDATES, mode != RetrievalMode.DENSE));
        record Scored(Candidate c, double score) {}
        double[] scores = config.scorer().score(candidates, now);
        List<Scored> ranked = new ArrayList<>(candidates.size());
        for (int i = 0; i < scores.length; i++) ranked.add(new Scored(candidates.get(i), scores[i]));
        ranked.sort(Comparator.comparingDouble(Scored::score).reversed().thenComparing(s -> s.c().memory().id()));
        List<Scored> chosen = new ArrayList<>(ranked.subList(0, Math.min(request.k(), ranked.size())));
        String block = null;
        int tokens = -1;
        while (true) {
            List<Scored> ordered = new ArrayList<>(chosen);
            ordered.sort(Comparator.comparing((Scored s) -> s.c().memory().createdAt()).thenComparing(s -> s.c().memory().id()));
            block = ordered.isEmpty() ? null : MemoryPromptRenderer.render(ordered.stream().map(s -> s.c().memory()).toList());
            tokens = counter == null ? -1 : block == null ? 0 : counter.count(block);
            if (request.maxTokens() == null || tokens <= request.maxTokens()) {
                chosen = ordered;
                break;
            }
            chosen.remove(chosen.size() - 1); // over budget: drop the lowest-scored memory and re-render
        }
        List<SearchHit> hits = new ArrayList<>(chosen.size());
        boolean hit = false;
        for (Scored s : chosen) {
            Candidate c = s.c();
            hits.add(new SearchHit(c.memory(), s.score(), c.similarity(), c.lexicalScore(), MemoryPromptRenderer.line(c.memory())));
            hit |= c.similarity() >= config.similarityFloor();
        }
        if (!hits.isEmpty()) accessLog.note(owner, hits.stream().map(h -> h.memory().id()).toList());
        stats.searches.increment();
        if (hit) stats.searchHits.increment();
        config.searchLatencyNanos().accept(System.nanoTime() - t0);
        return new SearchResult(List.copyOf(hits), block, tokens);
    }

    /** How many memories this process's index of the user holds once caught up with the store. */
    public int indexedCount(String tenant, String user) {
        return guarded(() -> indexes.size(new Owner(tenant, user)));
    }

    // ---- chat sessions ----------------------------------------------------------------------------

    /**
     * Records a finished chat exchange of a session on a background thread (never delaying the
     * response): the user's and the assistant's message, each a user-scoped memory of the session
     * with metadata kind=turn and its role. Input is checked now; text past 16 KiB is cut.
     */
    public CompletableFuture<Void> recordTurn(String tenant, String user, String sessionId, String userText, String assistantText) {
        Owner owner = new Owner(tenant, user); // refuses a bad tenant or user now, not on the background thread
        InputRules.checkSessionId(sessionId);
        List<NewMemory> turn = new ArrayList<>(2);
        addTurn(turn, sessionId, "user", userText);
        addTurn(turn, sessionId, "assistant", assistantText);
        if (turn.isEmpty()) return CompletableFuture.completedFuture(null);
        return CompletableFuture.runAsync(() -> {
            try {
                addAll(owner.tenant(), owner.user(), turn, "chat");
            } catch (RuntimeException e) {
                LOG.warn("recording a chat turn of session {} failed: {}", sessionId, e.toString());
                throw e;
            }
        }, turnWriter);
    }

    private static void addTurn(List<NewMemory> turn, String sessionId, String role, String text) {
        if (text == null || text.isBlank()) return;
        String content = InputRules.utf8Length(text) > InputRules.MAX_CONTENT_BYTES ? truncate(text) : text.replace('\0', ' ');
        turn.add(new NewMemory(content, Scope.USER, sessionId, null, null, null, null, Tier.RECENT, null, null,
                Map.of(SearchFilter.KIND, SearchFilter.TURN, SearchFilter.ROLE, role), null));
    }

    /**
     * The session's recorded messages, oldest first: the newest ones whose text fits in
     * {@code maxTokens} together (for {@code history: "server"}).
     */
    public List<ChatTurn> sessionHistory(String tenant, String user, String sessionId, int maxTokens, TokenCounter counter) {
        Owner owner = new Owner(tenant, user);
        InputRules.checkSessionId(sessionId);
        InputRules.checkMaxTokens(maxTokens);
        List<Memory> newestFirst = guarded(() -> store.sessionMemories(owner, sessionId, MAX_HISTORY_TURNS));
        List<ChatTurn> turns = new ArrayList<>();
        int used = 0;
        for (Memory m : newestFirst) {
            if (!SearchFilter.TURN.equals(m.metadata().get(SearchFilter.KIND))) continue;
            int t = counter.count(m.content());
            if (used + t > maxTokens) break;
            used += t;
            turns.add(new ChatTurn(m.metadata().get(SearchFilter.ROLE), m.content(), m.createdAt()));
        }
        return turns.reversed();
    }

    // ---- embeddings -------------------------------------------------------------------------------

    /** {@code POST /v1/embeddings}: unit-length all-MiniLM-L6-v2 vectors and the tokens used. Waits for the model. */
    public Embedder.Embedded embed(List<String> inputs) {
        if (inputs == null || inputs.isEmpty()) throw new MemoryInputException("input", "input is missing or empty");
        if (inputs.size() > MAX_EMBED_INPUTS) throw new MemoryInputException("input", "input has more than " + MAX_EMBED_INPUTS + " items");
        for (String s : inputs) {
            if (s == null || s.isEmpty()) throw new MemoryInputException("input", "input must not contain empty strings");
            if (InputRules.utf8Length(s) > 4 * InputRules.MAX_CONTENT_BYTES) {
                throw new MemoryInputException("input", "an input is longer than " + 4 * InputRules.MAX_CONTENT_BYTES + " bytes");
            }
        }
        return embedder().embedAll(inputs);
    }

    /** Finishes recorded turns and access notes, then closes the store. */
    @Override
    public void close() {
        turnWriter.shutdown();
        accessFlusher.shutdown();
        try {
            if (!turnWriter.awaitTermination(30, TimeUnit.SECONDS)) LOG.warn("chat turns still being recorded at close");
            accessFlusher.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        flushAccesses();
        indexes.close();
        store.close();
    }

    // ---- helpers ----------------------------------------------------------------------------------

    private Memory build(Owner owner, NewMemory m, Instant now) {
        InputRules.checkContent(m.content(), "content");
        Scope scope = m.scope() == null ? Scope.USER : m.scope();
        if (m.sessionId() != null) InputRules.checkSessionId(m.sessionId());
        if (scope == Scope.SESSION && m.sessionId() == null) {
            throw new MemoryInputException("session_id", "session_id is required for scope session");
        }
        if (m.factKey() != null) InputRules.checkFactKey(m.factKey());
        double importance = m.importance() == null ? 0.5 : m.importance();
        InputRules.checkUnit(importance, "importance");
        double confidence = m.confidence() == null ? 1.0 : m.confidence();
        InputRules.checkUnit(confidence, "confidence");
        if (m.turnId() != null) InputRules.checkTurnId(m.turnId());
        Map<String, String> metadata = m.metadata() == null ? Map.of() : m.metadata();
        InputRules.checkMetadata(metadata);
        return new Memory(MemoryIds.newId(now), owner.tenant(), owner.user(), scope, m.sessionId(), m.factKey(), m.content(),
                importance, confidence, Boolean.TRUE.equals(m.correction()), m.tier() == null ? Tier.RECENT : m.tier(),
                new Source(m.sessionId(), m.turnId(), m.sourceTime() == null ? now : micros(m.sourceTime())),
                now, null, 0, metadata, micros(m.validAt()), null, null, null, 0, List.of());
    }

    private static Map<String, String> changes(Memory old, Memory now) {
        Map<String, String> c = new LinkedHashMap<>();
        if (!now.content().equals(old.content())) {
            c.put("content", now.content());
            c.put("previous_content", old.content());
        }
        diff(c, "importance", old.importance(), now.importance());
        diff(c, "confidence", old.confidence(), now.confidence());
        diff(c, "correction", old.correction(), now.correction());
        diff(c, "tier", old.tier().apiName(), now.tier().apiName());
        diff(c, "fact_key", old.factKey(), now.factKey());
        diff(c, "metadata", old.metadata(), now.metadata());
        diff(c, "valid_at", old.validAt(), now.validAt());
        diff(c, "invalid_at", old.invalidAt(), now.invalidAt());
        diff(c, "expired_at", old.expiredAt(), now.expiredAt());
        diff(c, "invalidated_by", old.invalidatedBy(), now.invalidatedBy());
        return c;
    }

    private static void diff(Map<String, String> c, String field, Object old, Object now) {
        if (!java.util.Objects.equals(old, now)) c.put(field, String.valueOf(now));
    }

    private <T> T guarded(Supplier<T> storeCall) {
        try {
            return storeCall.get();
        } catch (MemoryStoreException e) {
            stats.storeErrors.increment();
            throw e;
        }
    }

    private void flushAccesses() {
        try {
            accessLog.flush(store, now());
        } catch (MemoryStoreException e) {
            stats.storeErrors.increment();
            LOG.warn("recording memory accesses failed: {}", e.getMessage());
        } catch (RuntimeException e) {
            LOG.warn("recording memory accesses failed", e);
        }
    }

    private Embedder embedder() {
        try {
            return embedder.join();
        } catch (RuntimeException e) {
            throw new IllegalStateException("the embedding model failed to load: " + e.getMessage(), e);
        }
    }

    private Instant now() {
        return config.clock().instant().truncatedTo(ChronoUnit.MICROS);
    }

    private static Instant micros(Instant t) {
        return t == null ? null : t.truncatedTo(ChronoUnit.MICROS);
    }

    private static <T> T or(T value, T fallback) {
        return value != null ? value : fallback;
    }

    private static String truncate(String text) {
        byte[] utf8 = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        int end = InputRules.MAX_CONTENT_BYTES;
        while (end > 0 && (utf8[end] & 0xC0) == 0x80) end--; // never split a character
        return new String(utf8, 0, end, java.nio.charset.StandardCharsets.UTF_8).replace('\0', ' ');
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }
}
