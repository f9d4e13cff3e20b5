package dev.kvasir.memory;

import dev.kvasir.memory.facts.Fact;
import dev.kvasir.memory.facts.FactContext;
import dev.kvasir.memory.facts.FactExtractor;
import dev.kvasir.memory.facts.FactExtractors;
import dev.kvasir.memory.search.Candidate;
import dev.kvasir.memory.search.Embedder;
import dev.kvasir.memory.search.SearchFilter;
import dev.kvasir.memory.search.SearchIndexes;
import dev.kvasir.memory.store.FactResolution;
import dev.kvasir.memory.store.MemoryStore;
import dev.kvasir.memory.store.MemoryStores;
import dev.kvasir.memory.store.StoredMemory;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
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
 * <p>Beyond storing and searching ({@link MemoryFeatures}): every recorded user turn passes the fact
 * extractor and each fact is written with write-time conflict resolution ({@link ConflictResolver});
 * a search never returns two values of one key (the read-time guard); under a tiered policy the
 * core tier is in every chat prompt and long sessions are summarized ({@link SessionCompactor});
 * after each write the policy keeps the user's active set within its budget ({@link PolicyEnforcer}).
 *
 * <p>Thread-safe. Writes have committed to the store when they return. Chat turns, and what follows
 * them (facts, summaries, the policy), are handled on one background thread ({@link #recordTurn});
 * {@link #close} finishes them first.
 */
public final class MemoryService implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MemoryService.class);
    /** Candidates each retriever hands to fusion: enough for k = 100 and for the RRF tail to matter. */
    private static final int CANDIDATES = 100;
    /** Pq mode: the best max(RERANK_MIN, RERANK_FACTOR × k) candidates are re-ranked on exact vectors. */
    private static final int RERANK_MIN = 64;
    private static final int RERANK_FACTOR = 4;
    private static final int MAX_EMBED_INPUTS = 2048;
    private static final int MAX_HISTORY_TURNS = 400;
    private static final int MAX_CORE_LINES = 64;

    private final MemoryStore store;
    private final MemoryConfig config;
    private final MemoryFeatures features;
    private final SearchIndexes indexes;
    private final CompletableFuture<Embedder> embedder;
    private final MemoryStats stats = new MemoryStats();
    private final AccessLog accessLog = new AccessLog();
    private final ExecutorService turnWriter;
    private final ScheduledExecutorService accessFlusher;
    private final FactExtractor extractor;
    private final ConflictResolver resolver = new ConflictResolver();
    private final TokenCache tokens = new TokenCache();
    private final SessionCompactor compactor;
    private final PolicyEnforcer policy;
    private volatile MemoryModel model;
    private volatile int contextTokens = 2048;

    public MemoryService(MemoryStore store, MemoryConfig config) {
        this.store = store;
        this.config = config;
        this.features = config.features();
        this.indexes = new SearchIndexes(store, config.analyzer(), config.maxCachedUsers(), features.vectors());
        this.embedder = Embedder.shared();
        this.extractor = FactExtractors.create(features.extractor(), () -> model);
        this.compactor = new SessionCompactor(store, features.summarizer(), tokens, () -> model, text -> vectors(List.of(text)).get(0));
        this.policy = new PolicyEnforcer(store, accessLog, features, tokens);
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

    public MemoryFeatures features() {
        return features;
    }

    /**
     * Binds the served model once it is loaded: its tokenizer counts the budgets (until then a
     * rough estimate does), {@code model} (null: none) serves the model extractor and summarizer,
     * and {@code contextTokens} sizes a session's history budget when the features leave it at 0.
     */
    public void attach(TokenCounter counter, MemoryModel model, int contextTokens) {
        tokens.use(counter);
        this.model = model;
        this.contextTokens = contextTokens;
    }

    /** A session's history budget in tokens: past 75% of it, its oldest turns are summarized. */
    public int sessionBudget() {
        return features.sessionBudgetTokens() > 0 ? features.sessionBudgetTokens() : Math.max(64, contextTokens / 2);
    }

    /** Whether the embedding model has loaded (before that, searches run on BM25 alone). */
    public boolean embeddingsReady() {
        return embedder.isDone() && !embedder.isCompletedExceptionally();
    }

    // ---- memories -------------------------------------------------------------------------------

    /**
     * {@code POST /v1/memories}. A memory with a {@code fact_key} is written with conflict resolution:
     * it may retire the key's current value, come back retired itself (a surer or corrected value
     * holds the key), or, saying the same value again, come back as the reinforced holder.
     */
    public Memory add(String tenant, String user, NewMemory memory) {
        Memory m = addAll(tenant, user, List.of(memory), "api").get(0);
        Owner owner = m.owner();
        turnWriter.execute(() -> afterWrite(owner, null));
        return m;
    }

    /**
     * Several memories of one user, embedded as a batch (imports, the bench): those without a fact
     * key in one transaction, then each keyed one with conflict resolution. Returns them as stored.
     */
    public List<Memory> addAll(String tenant, String user, List<NewMemory> memories, String by) {
        Owner owner = new Owner(tenant, user);
        Instant now = now();
        List<Memory> built = new ArrayList<>(memories.size());
        for (NewMemory m : memories) built.add(build(owner, m, now));
        List<float[]> vectors = vectors(built.stream().map(Memory::content).toList());
        List<StoredMemory> plain = new ArrayList<>(built.size());
        for (int i = 0; i < built.size(); i++) if (built.get(i).factKey() == null) plain.add(new StoredMemory(built.get(i), vectors.get(i)));
        guarded(() -> {
            store.insert(owner, plain, by);
            return null;
        });
        stats.stored.add(plain.size());
        List<Memory> out = new ArrayList<>(built);
        for (int i = 0; i < built.size(); i++) {
            if (built.get(i).factKey() != null) out.set(i, writeFact(owner, built.get(i), vectors.get(i), now, by));
        }
        return out;
    }

    /** One keyed memory through {@link ConflictResolver}, under the owner's write lock in the store. */
    private Memory writeFact(Owner owner, Memory incoming, float[] vector, Instant now, String by) {
        flushAccesses(); // the reads noted so far count in the holders' access counts, which a new value takes over
        List<Memory> seen = new ArrayList<>();
        FactResolution.Outcome outcome = guarded(() -> store.writeFact(owner, incoming.factKey(), now, by, holders -> {
            seen.clear(); // a retried transaction resolves again
            seen.addAll(holders);
            return resolver.resolve(incoming, vector, holders, now);
        }));
        stats.conflictsResolved.add(ConflictResolver.factsRetired(outcome, seen, incoming));
        if (outcome.insert() != null) {
            stats.stored.increment();
            return outcome.insert().memory();
        }
        return outcome.reinforce().get(0);
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
        return search(owner, guarded(() -> indexes.reader(owner)), request, counter, null, Set.of()).result();
    }

    /**
     * What {@code /v1/chat/completions} injects for the latest user turn, in prompt order: under a
     * tiered policy the core block (always, up to the core budget), then up to {@code topK}
     * memories of the recent tier (of core and recent under lru and importance) within
     * {@code maxTokens} (that block, header included), leaving out the session's own recorded
     * turns (the prompt has them) and any fact whose key the core already holds. Place each block,
     * when not null, as one system message right after the system prompt: core first.
     */
    public MemoryContext contextFor(String tenant, String user, String sessionId, String query, int topK, int maxTokens,
            TokenCounter counter) {
        return contextFor(tenant, user, sessionId, query, topK, maxTokens, counter, RetrievalMode.HYBRID);
    }

    /** As {@link #contextFor(String, String, String, String, int, int, TokenCounter)} with another retrieval mode. */
    public MemoryContext contextFor(String tenant, String user, String sessionId, String query, int topK, int maxTokens,
            TokenCounter counter, RetrievalMode mode) {
        Owner owner = new Owner(tenant, user);
        if (sessionId != null) InputRules.checkSessionId(sessionId);
        InputRules.checkK(topK);
        InputRules.checkMaxTokens(maxTokens);
        Instant now = now();
        SearchIndexes.Reader index = guarded(() -> indexes.reader(owner));
        // maxTokens covers both blocks: the core (up to its own budget) first, retrieval gets the rest.
        List<Memory> core = features.policy().tiered() ? coreMemories(index, now, counter, Math.min(features.coreBudgetTokens(), maxTokens))
                : List.of();
        String coreBlock = core.isEmpty() ? null : MemoryPromptRenderer.renderCore(core);
        int coreTokens = coreBlock == null ? 0 : counter.count(coreBlock);
        int retrievalBudget = maxTokens - coreTokens;
        Searched found = new Searched(new SearchResult(List.of(), null, 0), List.of());
        if (query != null && !query.isBlank() && retrievalBudget >= 1) {
            String q = InputRules.utf8Length(query) > InputRules.MAX_CONTENT_BYTES ? truncate(query) : query;
            Set<Tier> tiers = features.policy().tiered() ? EnumSet.of(Tier.RECENT) : EnumSet.of(Tier.CORE, Tier.RECENT);
            Set<String> coreKeys = new HashSet<>();
            for (Memory m : core) if (m.factKey() != null) coreKeys.add(m.factKey());
            found = search(owner, index, new SearchRequest(q, topK, retrievalBudget, sessionId, null, tiers, false, mode), counter, sessionId,
                    coreKeys);
        }
        if (!core.isEmpty()) accessLog.note(owner, core.stream().map(Memory::id).toList(), now);
        return new MemoryContext(core, coreBlock, coreTokens, found.result(), conflicts(index, core, found));
    }

    /** The write-time resolutions behind the injected facts, then the read-time guard's drops. */
    private List<ConflictNote> conflicts(SearchIndexes.Reader index, List<Memory> core, Searched found) {
        Map<String, Memory> injected = new LinkedHashMap<>();
        for (Memory m : core) if (m.factKey() != null) injected.put(m.id(), m);
        for (SearchHit h : found.result().hits()) if (h.memory().factKey() != null) injected.put(h.memory().id(), h.memory());
        List<ConflictNote> notes = new ArrayList<>();
        if (!injected.isEmpty()) {
            Map<String, List<String>> superseded = new LinkedHashMap<>();
            for (Memory m : guarded(() -> index.select(m -> m.factKey() != null && m.invalidatedBy() != null
                    && injected.containsKey(m.invalidatedBy())))) {
                superseded.computeIfAbsent(m.invalidatedBy(), k -> new ArrayList<>()).add(m.id());
            }
            superseded.forEach((id, old) -> notes.add(new ConflictNote(injected.get(id).factKey(), id, old, "write")));
        }
        notes.addAll(found.dropped());
        return notes;
    }

    /** The user's core memories valid now, in canonical order (oldest first), one per fact key, as many as fit {@code budget}. */
    private List<Memory> coreMemories(SearchIndexes.Reader index, Instant now, TokenCounter counter, int budget) {
        List<Memory> sorted = new ArrayList<>(guarded(() -> index.select(m -> m.tier() == Tier.CORE && m.validAt(now))));
        sorted.sort(Comparator.comparing(Memory::createdAt).thenComparing(Memory::id));
        Map<String, Memory> newestOfKey = new HashMap<>();
        for (Memory m : sorted) if (m.factKey() != null && newestOfKey.put(m.factKey(), m) != null) stats.guardDrops.increment();
        List<Memory> kept = new ArrayList<>();
        int used = counter.count(MemoryPromptRenderer.CORE_HEADER);
        if (used >= budget) return kept;
        for (Memory m : sorted) {
            if (m.factKey() != null && newestOfKey.get(m.factKey()) != m) continue; // the read-time guard, in core
            int t = counter.count(m.content()) + 3;
            if (used + t > budget) continue;
            used += t;
            kept.add(m);
        }
        return kept;
    }

    /** A search's result and the second values of keys the read-time guard kept out of it. */
    private record Searched(SearchResult result, List<ConflictNote> dropped) {}

    private Searched search(Owner owner, SearchIndexes.Reader index, SearchRequest request, TokenCounter counter, String excludeTurnsOf,
            Set<String> heldKeys) {
        long t0 = System.nanoTime();
        Instant now = now();
        Instant at = request.asOf() != null ? request.asOf() : now;
        SearchFilter filter = new SearchFilter(request.sessionId(), request.tiers(), at, request.includeInvalid(), excludeTurnsOf);
        RetrievalMode mode = request.mode() == null ? RetrievalMode.HYBRID : request.mode();
        // The model may still be loading: search lexically rather than stall (DENSE alone has to wait).
        Embedder e = mode == RetrievalMode.DENSE ? embedder() : embedder.getNow(null);
        float[][] queryVector = new float[1][];
        Supplier<float[]> embedQuery = () -> mode != RetrievalMode.LEXICAL && e != null ? (queryVector[0] = e.embed(request.query())) : null;
        SearchIndexes.CandidateSet set = guarded(() -> index.candidates(request.query(), embedQuery, filter,
                CANDIDATES, mode != RetrievalMode.DENSE));
        record Scored(Candidate c, double score) {}
        List<Candidate> candidates = set.candidates();
        double[] scores = config.scorer().score(candidates, now);
        List<Scored> ranked = new ArrayList<>(candidates.size());
        for (int i = 0; i < scores.length; i++) ranked.add(new Scored(candidates.get(i), scores[i]));
        Comparator<Scored> best = Comparator.comparingDouble(Scored::score).reversed().thenComparing(s -> s.c().memory().id());
        ranked.sort(best);
        if (set.approximate() && queryVector[0] != null && !ranked.isEmpty()) {
            // pq codes ranked these: re-rank the best on their exact vectors, read from the store.
            List<Scored> head = ranked.subList(0, Math.min(ranked.size(), Math.max(RERANK_MIN, RERANK_FACTOR * request.k())));
            Map<String, float[]> exact = guarded(() -> indexes.exactVectors(owner, head.stream().map(s -> s.c().memory().id()).toList()));
            List<Candidate> rescored = new ArrayList<>(head.size());
            for (Scored s : head) {
                Candidate c = s.c();
                float[] v = exact.get(c.memory().id());
                rescored.add(new Candidate(c.memory(), c.lexicalRank(), c.lexicalScore(), c.lexicalShare(), c.denseRank(),
                        v == null ? c.similarity() : dot(v, queryVector[0])));
            }
            double[] exactScores = config.scorer().score(rescored, now);
            List<Scored> reranked = new ArrayList<>(rescored.size());
            for (int i = 0; i < rescored.size(); i++) reranked.add(new Scored(rescored.get(i), exactScores[i]));
            reranked.sort(best);
            ranked = reranked;
        }
        // The read-time guard: one value per fact key (the best-ranked), none of a key the prompt holds already.
        List<Scored> chosen = new ArrayList<>();
        Map<String, String> keptOfKey = new HashMap<>();
        Map<String, List<String>> droppedOfKey = new LinkedHashMap<>();
        Set<String> validReplaced = null;
        for (Scored s : ranked) {
            if (chosen.size() == request.k()) break;
            Memory m = s.c().memory();
            if (m.summaryDepth() > 0 && !m.replaces().isEmpty() && !request.includeInvalid()) {
                // A summary of turns retired since (a fact in them was corrected) would bring the old value back.
                if (validReplaced == null) validReplaced = validReplacedTurns(index, ranked.stream().map(r -> r.c().memory()).toList(), at);
                if (!validReplaced.containsAll(m.replaces())) {
                    stats.guardDrops.increment();
                    continue;
                }
            }
            if (m.factKey() != null && !request.includeInvalid()) {
                if (heldKeys.contains(m.factKey())) continue;
                if (keptOfKey.putIfAbsent(m.factKey(), m.id()) != null) {
                    droppedOfKey.computeIfAbsent(m.factKey(), k -> new ArrayList<>()).add(m.id());
                    stats.guardDrops.increment();
                    continue;
                }
            }
            chosen.add(s);
        }
        String block;
        int tokens;
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
        Set<String> injected = new HashSet<>();
        boolean hit = false;
        for (Scored s : chosen) {
            Candidate c = s.c();
            hits.add(new SearchHit(c.memory(), s.score(), c.similarity(), c.lexicalScore(), MemoryPromptRenderer.line(c.memory())));
            injected.add(c.memory().id());
            hit |= c.similarity() >= config.similarityFloor();
        }
        if (!hits.isEmpty()) accessLog.note(owner, hits.stream().map(h -> h.memory().id()).toList(), now);
        stats.searches.increment();
        if (hit) stats.searchHits.increment();
        config.searchLatencyNanos().accept(System.nanoTime() - t0);
        List<ConflictNote> notes = new ArrayList<>();
        droppedOfKey.forEach((key, others) -> {
            if (injected.contains(keptOfKey.get(key))) notes.add(new ConflictNote(key, keptOfKey.get(key), others, "read_guard"));
        });
        return new Searched(new SearchResult(List.copyOf(hits), block, tokens), notes);
    }

    /** Of the turns the candidate summaries replace, those still valid at {@code at}. */
    private Set<String> validReplacedTurns(SearchIndexes.Reader index, List<Memory> candidates, Instant at) {
        Set<String> replaced = new HashSet<>();
        for (Memory m : candidates) if (m.summaryDepth() > 0) replaced.addAll(m.replaces());
        Set<String> valid = new HashSet<>();
        for (Memory m : guarded(() -> index.select(x -> replaced.contains(x.id()) && x.validAt(at)))) valid.add(m.id());
        return valid;
    }

    private static float dot(float[] a, float[] b) {
        float sum = 0;
        for (int i = 0; i < a.length; i++) sum += a[i] * b[i];
        return sum;
    }

    /** How many memories this process's index of the user holds once caught up with the store. */
    public int indexedCount(String tenant, String user) {
        return guarded(() -> indexes.size(new Owner(tenant, user)));
    }

    /** Bytes the user's index holds per memory for vectors (1,924 as floats and int8, 48 as pq codes). */
    public int vectorBytes(String tenant, String user) {
        return guarded(() -> indexes.vectorBytes(new Owner(tenant, user)));
    }

    /** Bytes of this process's pq codebook (0 in float mode, or before it is trained). */
    public long codebookBytes() {
        return indexes.codebookBytes();
    }

    // ---- core memory ----------------------------------------------------------------------------

    /** {@code GET /v1/memories/core?user=}: the core block, its lines, tokens (of the served model) and budget. */
    public CoreBlock core(String tenant, String user) {
        Owner owner = new Owner(tenant, user);
        Instant now = now();
        List<Memory> all = new ArrayList<>(guarded(() -> indexes.select(owner, m -> m.tier() == Tier.CORE && m.validAt(now))));
        all.sort(Comparator.comparing(Memory::createdAt).thenComparing(Memory::id));
        String block = all.isEmpty() ? null : MemoryPromptRenderer.renderCore(all);
        return new CoreBlock(all, String.join("\n", all.stream().map(Memory::content).toList()), block,
                block == null ? 0 : tokens.count(block), features.coreBudgetTokens());
    }

    /**
     * {@code PUT /v1/memories/core}: the lines of {@code content} ("- " in front is allowed) become
     * the user's core memories. A line equal to a current core memory keeps it (same id), new lines
     * become core memories, and core memories no longer listed move to the recent tier (nothing is
     * deleted). A block over the core budget is refused, naming {@code content}, and changes nothing.
     */
    public CoreBlock putCore(String tenant, String user, String content) {
        Owner owner = new Owner(tenant, user);
        if (content == null) throw new MemoryInputException("content", "content is missing");
        List<String> lines = new ArrayList<>();
        for (String line : content.split("\n")) {
            String t = line.strip();
            if (t.startsWith("- ")) t = t.substring(2).strip();
            if (t.isEmpty() || lines.contains(t)) continue;
            InputRules.checkContent(t, "content");
            lines.add(t);
        }
        if (lines.size() > MAX_CORE_LINES) throw new MemoryInputException("content", "the core block has more than " + MAX_CORE_LINES + " lines");
        StringBuilder rendered = new StringBuilder(MemoryPromptRenderer.CORE_HEADER);
        for (String l : lines) rendered.append("\n- ").append(MemoryPromptRenderer.quote(l));
        int need = lines.isEmpty() ? 0 : tokens.count(rendered.toString());
        if (need > features.coreBudgetTokens()) {
            throw new MemoryInputException("content", "the core block takes " + need + " tokens; the core budget is "
                    + features.coreBudgetTokens() + " (--memory-core-budget-tokens)");
        }
        CoreBlock before = core(tenant, user);
        Set<String> present = new HashSet<>();
        List<String> demote = new ArrayList<>();
        for (Memory m : before.memories()) {
            if (lines.contains(m.content())) present.add(m.content());
            else demote.add(m.id());
        }
        List<NewMemory> added = new ArrayList<>();
        for (String l : lines) {
            if (!present.contains(l)) added.add(new NewMemory(l, Scope.USER, null, null, 0.9, 1.0, null, Tier.CORE, null, null,
                    Map.of(Memory.KIND, "core"), null));
        }
        if (!added.isEmpty()) addAll(tenant, user, added, "api");
        if (!demote.isEmpty()) guarded(() -> store.moveTier(owner, demote, Tier.RECENT, "api"));
        return core(tenant, user);
    }

    // ---- verification ---------------------------------------------------------------------------

    /** The user's valid facts by key, to check a reply against later ({@code memory.verify}). */
    public FactSheet factSheet(String tenant, String user) {
        Owner owner = new Owner(tenant, user);
        Instant now = now();
        Map<String, List<Memory>> byKey = new LinkedHashMap<>();
        for (Memory m : guarded(() -> indexes.select(owner, m -> m.factKey() != null && m.validAt(now) && !Memory.TURN.equals(m.kind())))) {
            byKey.computeIfAbsent(m.factKey(), k -> new ArrayList<>()).add(m);
        }
        return new FactSheet(byKey);
    }

    /**
     * Which of {@code ids} are no longer valid now (superseded by a correction, expired or deleted):
     * a chat session's earlier memory notes must not carry them back into the prompt.
     */
    public Set<String> retired(String tenant, String user, Collection<String> ids) {
        if (ids.isEmpty()) return Set.of();
        Owner owner = new Owner(tenant, user);
        Instant now = now();
        Set<String> wanted = new HashSet<>(ids);
        Set<String> gone = new HashSet<>(wanted);
        for (Memory m : guarded(() -> indexes.select(owner, m -> wanted.contains(m.id()) && m.validAt(now)))) {
            gone.remove(m.id());
        }
        return gone;
    }

    // ---- chat sessions ----------------------------------------------------------------------------

    /**
     * Records a finished chat exchange of a session on the background thread (never delaying the
     * response): the user's and the assistant's message, each a user-scoped memory of the session
     * with metadata kind=turn and its role; then the facts in the user's message (each resolved
     * against the key's current value), the session's summary when its history passed 75% of its
     * budget (tiered policies), and the policy. Input is checked now; text past 16 KiB is cut.
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
                String lastKey = latestFactKey(owner, sessionId);
                List<Memory> written = addAll(owner.tenant(), owner.user(), turn, "chat");
                Memory said = written.stream().filter(m -> "user".equals(m.metadata().get(Memory.ROLE))).findFirst().orElse(null);
                if (said != null) writeFacts(owner, sessionId, said, written, lastKey);
                afterWrite(owner, sessionId);
            } catch (RuntimeException e) {
                LOG.warn("recording a chat turn of session {} failed: {}", sessionId, e.toString());
                throw e;
            }
        }, turnWriter);
    }

    private static void addTurn(List<NewMemory> turn, String sessionId, String role, String text) {
        if (text == null || text.isBlank()) return;
        String content = InputRules.utf8Length(text) > InputRules.MAX_CONTENT_BYTES ? truncate(text) : text.replace('\0', ' ');
        turn.add(new NewMemory(content, Scope.USER, sessionId, null, 0.3, null, null, Tier.RECENT, null, null,
                Map.of(Memory.KIND, Memory.TURN, Memory.ROLE, role), null));
    }

    /** The facts of a user's message as memories of the session, each through conflict resolution. */
    private void writeFacts(Owner owner, String sessionId, Memory said, List<Memory> turn, String lastKey) {
        List<Fact> facts = extractor.extract(said.content(), new FactContext(lastKey));
        if (facts.isEmpty()) return;
        stats.factsExtracted.add(facts.size());
        String sources = String.join(",", turn.stream().map(Memory::id).toList());
        List<NewMemory> rows = new ArrayList<>(facts.size());
        for (Fact f : facts) {
            Map<String, String> metadata = new LinkedHashMap<>();
            metadata.put(Memory.KIND, Memory.FACT);
            metadata.put(Memory.VALUE, f.value().length() > 1000 ? f.value().substring(0, 1000) : f.value());
            metadata.put(Memory.SOURCE_MEMORIES, sources);
            Tier tier = f.core() && features.policy().tiered() ? Tier.CORE : Tier.RECENT;
            rows.add(new NewMemory(f.statement(), Scope.USER, sessionId, f.key(), f.importance(), f.confidence(), f.correction(), tier,
                    said.id(), said.createdAt(), metadata, said.createdAt()));
        }
        addAll(owner.tenant(), owner.user(), rows, "extractor");
    }

    /** The key of the session's latest fact, for a bare correction ("no, I meant Porto"). */
    private String latestFactKey(Owner owner, String sessionId) {
        for (Memory m : guarded(() -> store.sessionMemories(owner, sessionId, 40))) if (m.factKey() != null) return m.factKey();
        return null;
    }

    /**
     * After a write, on the background thread: the session's summary (tiered policies), the policy,
     * then the owner's search index caught up with all of it, so the user's next search does not
     * apply this turn's rows, tier moves and Lucene refresh on its own time.
     */
    private void afterWrite(Owner owner, String sessionId) {
        try {
            Instant now = now();
            if (sessionId != null && features.policy().tiered()) {
                Memory summary = guarded(() -> compactor.compact(owner, sessionId, sessionBudget(), now));
                if (summary != null) stats.summaries.increment();
            }
            stats.evictions.add(guarded(() -> policy.enforce(owner, sessionId, now)));
        } catch (RuntimeException e) {
            LOG.warn("memory upkeep after a write failed: {}", e.toString());
        }
        try {
            guarded(() -> {
                indexes.catchUp(owner);
                return null;
            });
        } catch (RuntimeException e) {
            LOG.warn("catching up the search index after a write failed (the next search will): {}", e.toString());
        }
    }

    /**
     * The session's history, oldest first: its summary (role {@code summary}) and the recorded
     * messages still in the active set, the newest whose text fits in {@code maxTokens} together
     * (for {@code history: "server"}).
     */
    public List<ChatTurn> sessionHistory(String tenant, String user, String sessionId, int maxTokens, TokenCounter counter) {
        Owner owner = new Owner(tenant, user);
        InputRules.checkSessionId(sessionId);
        InputRules.checkMaxTokens(maxTokens);
        List<Memory> newestFirst = guarded(() -> store.sessionMemories(owner, sessionId, MAX_HISTORY_TURNS));
        List<ChatTurn> turns = new ArrayList<>();
        List<ChatTurn> summaries = new ArrayList<>();
        int used = 0;
        boolean full = false;
        // The newest turns first, then the summaries of older ones while they fit; summaries open the history.
        for (Memory m : newestFirst) {
            if (!Memory.TURN.equals(m.kind()) || m.tier() == Tier.ARCHIVE || full) continue;
            int t = counter.count(m.content());
            if (used + t > maxTokens) {
                full = true;
                continue;
            }
            used += t;
            turns.add(new ChatTurn(m.metadata().get(Memory.ROLE), m.content(), m.createdAt()));
        }
        for (Memory m : newestFirst) {
            if (!Memory.SUMMARY.equals(m.kind()) || m.tier() == Tier.ARCHIVE) continue;
            int t = counter.count(m.content());
            if (used + t > maxTokens) break;
            used += t;
            summaries.add(new ChatTurn(ChatTurn.SUMMARY, m.content(), m.createdAt()));
        }
        List<ChatTurn> out = new ArrayList<>(summaries.reversed());
        out.addAll(turns.reversed());
        return out;
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
            accessLog.flush(store);
        } catch (MemoryStoreException e) {
            stats.storeErrors.increment();
            LOG.warn("recording memory accesses failed: {}", e.getMessage());
        } catch (RuntimeException e) {
            LOG.warn("recording memory accesses failed", e);
        }
    }

    /** Vectors of texts to store: a text just searched for (the chat's user turn) is not embedded again. */
    private List<float[]> vectors(List<String> texts) {
        return texts.isEmpty() ? List.of() : embedder().vectorsFor(texts);
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
