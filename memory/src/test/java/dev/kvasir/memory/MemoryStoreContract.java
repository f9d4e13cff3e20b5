package dev.kvasir.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvasir.memory.store.MemoryStores;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * What every store must do, run against SQLite and a real PostgreSQL through the service the server
 * calls: round trips of every field, paging, patch with history, invalidation and as_of, delete,
 * forget, isolation between tenants and users, refusal of bad input with nothing written, and two
 * processes' worth of services on one database seeing each other's writes and deletes.
 */
abstract class MemoryStoreContract {
    static final String TENANT = "acme";
    static final TokenCounter QUARTER_CHARS = text -> text.length() / 4 + 1;

    private final List<MemoryService> opened = new ArrayList<>();
    private String spec;
    MemoryService memory;

    /** A {@code --memory-store} spec naming a new, empty store. */
    protected abstract String newStoreSpec();

    @BeforeEach
    void openStore() {
        spec = newStoreSpec();
        memory = openService();
    }

    @AfterEach
    void closeStores() {
        opened.forEach(MemoryService::close);
    }

    /** Another service on the same database, with its own connections and search index: another process. */
    MemoryService openService() {
        return openService(MemoryConfig.defaults());
    }

    MemoryService openService(MemoryConfig config) {
        MemoryService s = MemoryService.open(spec, config).orElseThrow();
        opened.add(s);
        return s;
    }

    @Test
    void addedMemoryComesBackWithEveryField() {
        Instant validAt = Instant.parse("2024-03-01T10:15:30.123456Z");
        NewMemory in = new NewMemory("Alice is allergic to peanuts", Scope.SESSION, "s-1", "alice.allergy", 0.9, 0.8, true,
                Tier.CORE, "t-7", Instant.parse("2024-03-02T00:00:00Z"), Map.of("turn_id", "D1:3", "lang", "en"), validAt);
        Memory added = memory.add(TENANT, "alice", in);
        assertTrue(added.id().matches("mem_[0-9a-f]{32}"));
        Memory got = memory.get(TENANT, "alice", added.id());
        assertEquals(added, got);
        assertEquals(Scope.SESSION, got.scope());
        assertEquals("s-1", got.sessionId());
        assertEquals("alice.allergy", got.factKey());
        assertEquals(0.9, got.importance());
        assertEquals(0.8, got.confidence());
        assertTrue(got.correction());
        assertEquals(Tier.CORE, got.tier());
        assertEquals(new Source("s-1", "t-7", Instant.parse("2024-03-02T00:00:00Z")), got.source());
        assertEquals(Map.of("turn_id", "D1:3", "lang", "en"), got.metadata());
        assertEquals(validAt, got.validAt());
        assertNull(got.invalidAt());
        assertNull(got.expiredAt());
        assertEquals(0, got.accessCount());
        List<MemoryEvent> history = memory.history(TENANT, "alice", added.id());
        assertEquals(1, history.size());
        assertEquals(MemoryEvent.Kind.CREATED, history.get(0).kind());
        assertEquals(1, memory.stats().stored());
    }

    @Test
    void listPagesOldestFirstWithCursor() {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 7; i++) ids.add(memory.add(TENANT, "bob", NewMemory.of("note number " + i)).id());
        memory.add(TENANT, "carol", NewMemory.of("carol's note"));
        List<String> seen = new ArrayList<>();
        String cursor = null;
        int pages = 0;
        do {
            MemoryPage page = memory.list(TENANT, "bob", 3, cursor);
            page.data().forEach(m -> seen.add(m.id()));
            cursor = page.nextCursor();
            pages++;
        } while (cursor != null);
        assertEquals(ids, seen);
        assertEquals(3, pages);
    }

    @Test
    void patchUpdatesSearchAndHistory() {
        Memory m = memory.add(TENANT, "dana", NewMemory.of("Dana drives a red bicycle to work"));
        memory.add(TENANT, "dana", NewMemory.of("Dana's sister lives in Oslo"));
        Memory patched = memory.patch(TENANT, "dana", m.id(),
                new MemoryPatch("Dana commutes by train now", 0.9, null, true, null, null, null, null, null, null));
        assertEquals("Dana commutes by train now", memory.get(TENANT, "dana", m.id()).content());
        assertEquals(patched, memory.get(TENANT, "dana", m.id()));
        List<MemoryEvent> history = memory.history(TENANT, "dana", m.id());
        assertEquals(List.of(MemoryEvent.Kind.CREATED, MemoryEvent.Kind.UPDATED), history.stream().map(MemoryEvent::kind).toList());
        assertEquals("Dana drives a red bicycle to work", history.get(1).changes().get("previous_content"));
        assertEquals("0.9", history.get(1).changes().get("importance"));
        SearchResult r = memory.search(TENANT, "dana", SearchRequest.of("train commute", 1).withMode(RetrievalMode.LEXICAL), null);
        assertEquals(List.of(m.id()), r.ids());
        assertTrue(memory.search(TENANT, "dana", SearchRequest.of("bicycle", 5).withMode(RetrievalMode.LEXICAL), null).hits().isEmpty(),
                "the old text must be gone from the BM25 index");
    }

    @Test
    void invalidatedMemoryIsHiddenNowButFoundAsOfBefore() throws Exception {
        Memory old = memory.add(TENANT, "erin", NewMemory.of("Erin lives in Lisbon"));
        Memory newer = memory.add(TENANT, "erin", NewMemory.of("Erin moved to Porto"));
        Instant between = Instant.now().truncatedTo(ChronoUnit.MICROS);
        TimeUnit.MILLISECONDS.sleep(2);
        memory.patch(TENANT, "erin", old.id(), new MemoryPatch(null, null, null, null, null, null, null, null, null, newer.id()));
        Memory retired = memory.get(TENANT, "erin", old.id());
        assertNotNull(retired.expiredAt());
        assertEquals(newer.id(), retired.invalidatedBy());
        assertEquals(MemoryEvent.Kind.INVALIDATED, memory.history(TENANT, "erin", old.id()).get(1).kind());
        SearchRequest q = SearchRequest.of("Where does Erin live, Lisbon?", 10);
        assertFalse(memory.search(TENANT, "erin", q, null).ids().contains(old.id()), "invalid memories are not returned by default");
        assertTrue(memory.search(TENANT, "erin", q.withAsOf(between), null).ids().contains(old.id()), "as_of before the invalidation");
        assertFalse(memory.search(TENANT, "erin", q.withAsOf(old.createdAt().minusSeconds(1)), null).ids().contains(old.id()),
                "as_of before it was written");
        SearchRequest all = new SearchRequest(q.query(), 10, null, null, null, null, true, null);
        assertTrue(memory.search(TENANT, "erin", all, null).ids().contains(old.id()));
    }

    @Test
    void deleteRemovesRowHistoryAndIndexEntries() {
        Memory m = memory.add(TENANT, "fay", NewMemory.of("Fay's locker code is 4411"));
        assertEquals(List.of(m.id()), memory.search(TENANT, "fay", SearchRequest.of("locker code", 5), null).ids());
        memory.delete(TENANT, "fay", m.id());
        assertThrows(MemoryNotFoundException.class, () -> memory.get(TENANT, "fay", m.id()));
        assertThrows(MemoryNotFoundException.class, () -> memory.history(TENANT, "fay", m.id()));
        assertThrows(MemoryNotFoundException.class, () -> memory.delete(TENANT, "fay", m.id()));
        assertTrue(memory.search(TENANT, "fay", SearchRequest.of("locker code", 5), null).hits().isEmpty());
        assertEquals(0, memory.indexedCount(TENANT, "fay"));
    }

    @Test
    void forgetRemovesOnlyThatUserEverywhere() {
        MemoryService other = openService();
        memory.add(TENANT, "gus", NewMemory.of("Gus plays the cello"));
        memory.add(TENANT, "gus", NewMemory.of("Gus has two cats"));
        Memory keepUser = memory.add(TENANT, "hal", NewMemory.of("Hal plays the cello too"));
        Memory keepTenant = memory.add("globex", "gus", NewMemory.of("Globex's Gus plays the cello"));
        assertEquals(2, other.indexedCount(TENANT, "gus"), "the other process has indexed both before the forget");
        assertEquals(2, memory.forgetUser(TENANT, "gus"));
        assertTrue(memory.list(TENANT, "gus", 10, null).data().isEmpty());
        assertTrue(other.search(TENANT, "gus", SearchRequest.of("cello", 5), null).hits().isEmpty(),
                "another process's index drops a forgotten user");
        assertEquals(0, other.indexedCount(TENANT, "gus"));
        assertEquals(List.of(keepUser.id()), memory.search(TENANT, "hal", SearchRequest.of("cello", 5), null).ids());
        assertEquals(List.of(keepTenant.id()), memory.search("globex", "gus", SearchRequest.of("cello", 5), null).ids());
        Memory back = memory.add(TENANT, "gus", NewMemory.of("Gus took up the violin"));
        assertEquals(List.of(back.id()), other.search(TENANT, "gus", SearchRequest.of("violin cello", 5), null).ids(),
                "after a forget, a returning user's index starts over");
    }

    @Test
    void noOwnerCanReachAnotherOwnersMemories() {
        Memory secret = memory.add(TENANT, "ivy", NewMemory.of("Ivy's bank PIN is 9090"));
        for (String[] owner : new String[][] {{TENANT, "ivy2"}, {"globex", "ivy"}}) {
            String t = owner[0], u = owner[1];
            assertThrows(MemoryNotFoundException.class, () -> memory.get(t, u, secret.id()));
            assertThrows(MemoryNotFoundException.class, () -> memory.history(t, u, secret.id()));
            assertThrows(MemoryNotFoundException.class, () -> memory.delete(t, u, secret.id()));
            assertThrows(MemoryNotFoundException.class, () -> memory.patch(t, u, secret.id(), MemoryPatch.content("mine now")));
            assertTrue(memory.search(t, u, SearchRequest.of("bank PIN", 10), null).hits().isEmpty());
            assertTrue(memory.search(t, u, SearchRequest.of("bank PIN", 10).withAsOf(Instant.now().plusSeconds(5)), null).hits().isEmpty());
            assertTrue(memory.list(t, u, 10, MemoryIds.cursorAfter("mem_" + "0".repeat(32))).data().isEmpty());
            assertEquals(0, memory.forgetUser(t, u));
        }
        assertEquals("Ivy's bank PIN is 9090", memory.get(TENANT, "ivy", secret.id()).content());
        assertEquals(1, memory.history(TENANT, "ivy", secret.id()).size());
    }

    @Test
    void badInputIsRefusedNamingTheParameterAndWritesNothing() {
        String longUser = "u".repeat(257);
        String bigContent = "x".repeat(16 * 1024 + 1);
        assertRefused("user", () -> memory.add(TENANT, "", NewMemory.of("hello")));
        assertRefused("user", () -> memory.add(TENANT, null, NewMemory.of("hello")));
        assertRefused("user", () -> memory.add(TENANT, "bad\u0007user", NewMemory.of("hello")));
        assertRefused("user", () -> memory.add(TENANT, longUser, NewMemory.of("hello")));
        assertRefused("content", () -> memory.add(TENANT, "jo", NewMemory.of("")));
        assertRefused("content", () -> memory.add(TENANT, "jo", NewMemory.of(null)));
        assertRefused("content", () -> memory.add(TENANT, "jo", NewMemory.of(bigContent)));
        assertRefused("importance", () -> memory.add(TENANT, "jo", NewMemory.of("hi").withImportance(1.5)));
        assertRefused("importance", () -> memory.add(TENANT, "jo", NewMemory.of("hi").withImportance(-0.1)));
        assertRefused("importance", () -> memory.add(TENANT, "jo", NewMemory.of("hi").withImportance(Double.NaN)));
        assertRefused("scope", () -> Scope.parse("global", "scope"));
        assertRefused("tier", () -> Tier.parse("hot", "tier"));
        assertRefused("session_id", () -> memory.add(TENANT, "jo", NewMemory.of("hi").withSession(Scope.SESSION, null)));
        assertRefused("fact_key", () -> memory.add(TENANT, "jo",
                new NewMemory("hi", null, null, "no dots here", null, null, null, null, null, null, null, null)));
        assertRefused("metadata", () -> memory.add(TENANT, "jo", NewMemory.of("hi").withMetadata(Map.of("", "x"))));
        // One bad memory in a batch: none of the batch is written.
        assertRefused("content", () -> memory.addAll(TENANT, "jo", List.of(NewMemory.of("fine"), NewMemory.of(" ")), "api"));
        assertRefused("id", () -> memory.get(TENANT, "jo", "mem_123"));
        assertRefused("id", () -> memory.delete(TENANT, "jo", "../etc/passwd"));
        assertRefused("cursor", () -> memory.list(TENANT, "jo", 10, "not-a-cursor"));
        assertRefused("cursor", () -> memory.list(TENANT, "jo", 10, MemoryIds.cursorAfter("x").substring(2)));
        assertRefused("limit", () -> memory.list(TENANT, "jo", 0, null));
        assertRefused("k", () -> memory.search(TENANT, "jo", SearchRequest.of("q", 0), null));
        assertRefused("k", () -> memory.search(TENANT, "jo", SearchRequest.of("q", 101), null));
        assertRefused("query", () -> memory.search(TENANT, "jo", SearchRequest.of("", 5), null));
        assertRefused("max_tokens", () -> memory.search(TENANT, "jo", SearchRequest.of("q", 5).withMaxTokens(0), QUARTER_CHARS));
        assertTrue(memory.list(TENANT, "jo", 10, null).data().isEmpty());
        Memory m = memory.add(TENANT, "jo", NewMemory.of("the original"));
        assertRefused("content", () -> memory.patch(TENANT, "jo", m.id(), MemoryPatch.content("")));
        assertRefused("confidence", () -> memory.patch(TENANT, "jo", m.id(),
                new MemoryPatch(null, null, 2.0, null, null, null, null, null, null, null)));
        assertEquals("the original", memory.get(TENANT, "jo", m.id()).content());
        assertEquals(1, memory.history(TENANT, "jo", m.id()).size());
        assertEquals(1, memory.list(TENANT, "jo", 10, null).data().size());
    }

    private static void assertRefused(String param, Executable call) {
        MemoryInputException e = assertThrows(MemoryInputException.class, call);
        assertEquals(param, e.param(), e.getMessage());
    }

    @Test
    void sessionScopedMemoriesStayInTheirSession() {
        Memory inSession = memory.add(TENANT, "kim", NewMemory.of("Kim wants the quarterly report in French")
                .withSession(Scope.SESSION, "s-9"));
        Memory userWide = memory.add(TENANT, "kim", NewMemory.of("Kim prefers reports as PDF"));
        SearchRequest q = SearchRequest.of("report", 10);
        assertEquals(Set.of(userWide.id()), new HashSet<>(memory.search(TENANT, "kim", q, null).ids()));
        assertEquals(Set.of(userWide.id()), new HashSet<>(memory.search(TENANT, "kim", q.withSession("s-8"), null).ids()));
        assertEquals(Set.of(userWide.id(), inSession.id()), new HashSet<>(memory.search(TENANT, "kim", q.withSession("s-9"), null).ids()));
    }

    @Test
    void aWriteInOneProcessIsFoundByASearchInAnother() {
        MemoryService replica = openService();
        assertTrue(replica.search(TENANT, "lee", SearchRequest.of("favourite tea", 5), null).hits().isEmpty());
        Memory m = memory.add(TENANT, "lee", NewMemory.of("Lee's favourite tea is genmaicha"));
        assertEquals(List.of(m.id()), replica.search(TENANT, "lee", SearchRequest.of("favourite tea", 5), null).ids());
        memory.patch(TENANT, "lee", m.id(), MemoryPatch.content("Lee switched to oolong"));
        assertEquals(List.of(m.id()), replica.search(TENANT, "lee", SearchRequest.of("oolong", 5).withMode(RetrievalMode.LEXICAL), null).ids());
        memory.delete(TENANT, "lee", m.id());
        assertTrue(replica.search(TENANT, "lee", SearchRequest.of("oolong tea", 5), null).hits().isEmpty());
    }

    @Test
    void searchReturnsScoresKAndStaysWithinTheTokenBudget() {
        for (int i = 0; i < 12; i++) memory.add(TENANT, "max", NewMemory.of("Max visited museum number " + i + " in Vienna"));
        SearchResult top3 = memory.search(TENANT, "max", SearchRequest.of("museum visit in Vienna", 3), QUARTER_CHARS);
        assertEquals(3, top3.hits().size());
        for (SearchHit h : top3.hits()) {
            assertTrue(h.score() > 0 && h.similarity() > 0.3 && h.lexicalScore() > 0, h.toString());
        }
        assertEquals(QUARTER_CHARS.count(top3.block()), top3.tokens());
        int budget = QUARTER_CHARS.count(MemoryPromptRenderer.HEADER) + 2 * 20;
        SearchResult tight = memory.search(TENANT, "max", SearchRequest.of("museum visit in Vienna", 10).withMaxTokens(budget), QUARTER_CHARS);
        assertTrue(tight.tokens() <= budget, tight.tokens() + " > " + budget);
        assertTrue(tight.hits().size() >= 1 && tight.hits().size() < 10, "budget cuts the list: " + tight.hits().size());
        List<Instant> created = tight.hits().stream().map(h -> h.memory().createdAt()).toList();
        assertEquals(created.stream().sorted().toList(), created, "hits come in injection order, oldest first");
        assertEquals(2, memory.stats().searches());
        assertEquals(2, memory.stats().searchHits());
    }

    @Test
    void recordedTurnsBecomeHistoryAndLaterSessionsMemory() throws Exception {
        memory.recordTurn(TENANT, "ned", "chat-1", "My daughter's name is Zoe and she turns 7 in May.",
                "Noted! Zoe turning 7 is exciting.").get(30, TimeUnit.SECONDS);
        memory.recordTurn(TENANT, "ned", "chat-1", "Plan a party for her?", "Sure: a picnic with games.").get(30, TimeUnit.SECONDS);
        List<ChatTurn> history = memory.sessionHistory(TENANT, "ned", "chat-1", 10_000, QUARTER_CHARS);
        assertEquals(List.of("user", "assistant", "user", "assistant"), history.stream().map(ChatTurn::role).toList());
        assertEquals("Plan a party for her?", history.get(2).content());
        List<ChatTurn> lastOnly = memory.sessionHistory(TENANT, "ned", "chat-1", QUARTER_CHARS.count("Sure: a picnic with games."), QUARTER_CHARS);
        assertEquals(List.of("Sure: a picnic with games."), lastOnly.stream().map(ChatTurn::content).toList());
        SearchResult sameSession = memory.contextFor(TENANT, "ned", "chat-1", "how old is my daughter", 5, 500, QUARTER_CHARS).retrieved();
        assertTrue(sameSession.hits().stream().noneMatch(h -> Memory.TURN.equals(h.memory().kind())),
                "a session's own turns are in its history, not injected again");
        assertTrue(sameSession.hits().stream().anyMatch(h -> "user.daughter_name".equals(h.memory().factKey())),
                "the fact read from them is a memory of its own: " + sameSession.hits());
        SearchResult later = memory.contextFor(TENANT, "ned", "chat-2", "how old is my daughter", 5, 500, QUARTER_CHARS).retrieved();
        assertFalse(later.hits().isEmpty());
        assertTrue(later.block().startsWith(MemoryPromptRenderer.HEADER));
        assertTrue(later.block().contains("[session \"chat-1\", "), later.block());
        assertTrue(later.block().contains("user said] \"My daughter's name is Zoe"), later.block());
        assertTrue(later.tokens() <= 500);
        SearchResult again = memory.contextFor(TENANT, "ned", "chat-2", "how old is my daughter", 5, 500, QUARTER_CHARS).retrieved();
        assertEquals(later.block(), again.block(), "the same memories render to the same prefix");
    }
    // ---- facts and conflicts -------------------------------------------------------------------

    private static NewMemory fact(String key, String value, String content, boolean correction) {
        return new NewMemory(content, null, null, key, null, 0.9, correction, null, null, null, Map.of(Memory.VALUE, value), null);
    }

    @Test
    void aCorrectionWinsAndTheOldValueAnswersAsOfQueries() throws Exception {
        ManualClock clock = new ManualClock(Instant.parse("2025-03-03T09:00:00Z"));
        MemoryService svc = openService(MemoryConfig.defaults().withClock(clock));
        svc.recordTurn(TENANT, "olga", "session-3", "I prefer dark mode in every app", "Noted.").get(30, TimeUnit.SECONDS);
        Memory dark = valueOf(svc, "olga", "user.preference.theme");
        assertEquals("dark mode", dark.factValue());
        clock.advance(java.time.Duration.ofDays(4));
        Instant beforeSession7 = clock.instant();
        clock.advance(java.time.Duration.ofDays(1));
        svc.recordTurn(TENANT, "olga", "session-7", "Actually, I prefer light mode", "Sure, light mode it is.").get(30, TimeUnit.SECONDS);
        Memory light = valueOf(svc, "olga", "user.preference.theme");
        assertEquals("light mode", light.factValue());
        assertTrue(light.correction());
        assertEquals(1, svc.stats().conflictsResolved());

        Memory retired = svc.get(TENANT, "olga", dark.id());
        assertEquals(light.id(), retired.invalidatedBy());
        assertEquals(light.heldFrom(), retired.invalidAt(), "dark mode stopped holding when light mode was said");
        assertEquals(clock.instant(), retired.expiredAt());
        assertEquals(MemoryEvent.Kind.INVALIDATED, svc.history(TENANT, "olga", dark.id()).getLast().kind());
        Memory oldTurn = svc.get(TENANT, "olga", dark.source().turnId());
        assertEquals(light.id(), oldTurn.invalidatedBy(), "the turn that said dark mode is retired with it");

        clock.advance(java.time.Duration.ofDays(1));
        MemoryContext ctx = svc.contextFor(TENANT, "olga", "session-8", "Which theme do I like for apps, dark or light?", 8, 500, QUARTER_CHARS);
        String injected = String.join("\n", ctx.retrieved().block() == null ? "" : ctx.retrieved().block(),
                ctx.coreBlock() == null ? "" : ctx.coreBlock());
        assertTrue(injected.contains("light mode"), injected);
        assertFalse(injected.contains("dark mode"), "the stale value is never injected: " + injected);
        assertEquals(List.of(new ConflictNote("user.preference.theme", light.id(), List.of(dark.id()), "write")), ctx.conflicts());

        SearchRequest q = SearchRequest.of("which theme does the user prefer", 10);
        List<String> before = svc.search(TENANT, "olga", q.withAsOf(beforeSession7), null).ids();
        assertTrue(before.contains(dark.id()) && !before.contains(light.id()), "as_of before session 7: dark mode");
        List<String> now = svc.search(TENANT, "olga", q, null).ids();
        assertTrue(now.contains(light.id()) && !now.contains(dark.id()));
    }

    @Test
    void sayingTheSameValueAgainReinforcesInsteadOfCopying() {
        Memory first = memory.add(TENANT, "pia", fact("user.home_city", "Oslo", "Pia lives in Oslo", false));
        Memory again = memory.add(TENANT, "pia", fact("user.home_city", "oslo", "Pia lives in Oslo.", false));
        assertEquals(first.id(), again.id());
        assertTrue(again.importance() > first.importance());
        assertEquals(1, memory.list(TENANT, "pia", 10, null).data().size());
        assertEquals(0, memory.stats().conflictsResolved());
    }

    @Test
    void anOlderLessSureValueLosesAndIsStoredRetired() {
        Memory sure = memory.add(TENANT, "quin", fact("user.job", "nurse", "Quin works as a nurse", false));
        NewMemory hedged = new NewMemory("Quin works as a pilot", null, null, "user.job", null, 0.5, false, null, null,
                Instant.now().minus(java.time.Duration.ofDays(90)), Map.of(Memory.VALUE, "pilot"), Instant.now().minus(java.time.Duration.ofDays(90)));
        Memory lost = memory.add(TENANT, "quin", hedged);
        assertEquals(sure.id(), lost.invalidatedBy(), "an old, unsure statement arriving late does not replace the current value");
        assertNotNull(lost.expiredAt());
        assertNull(memory.get(TENANT, "quin", sure.id()).expiredAt());
    }

    @Test
    void concurrentWritersOfOneKeyLeaveOneValidValue() throws Exception {
        MemoryService replica = openService();
        int threads = 3, each = 4;
        List<java.util.concurrent.Future<?>> writes = new ArrayList<>();
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2 * threads);
        java.util.concurrent.CountDownLatch start = new java.util.concurrent.CountDownLatch(1);
        String[] cities = {"Oslo", "Lima", "Pune", "Cork", "Bern", "Riga", "Kobe", "Baku", "Doha", "Nice", "Split", "Turku"};
        for (int t = 0; t < 2 * threads; t++) {
            MemoryService svc = t % 2 == 0 ? memory : replica;
            int base = t;
            writes.add(pool.submit(() -> {
                start.await();
                for (int i = 0; i < each; i++) {
                    String city = cities[(base * each + i) % cities.length] + "-" + base + "-" + i;
                    svc.add(TENANT, "race", fact("user.home_city", city, "Race lives in " + city, false));
                }
                return null;
            }));
        }
        start.countDown();
        for (var w : writes) w.get(120, TimeUnit.SECONDS);
        pool.shutdown();
        Instant now = Instant.now();
        List<Memory> all = new ArrayList<>();
        String cursor = null;
        do {
            MemoryPage page = memory.list(TENANT, "race", 100, cursor);
            all.addAll(page.data());
            cursor = page.nextCursor();
        } while (cursor != null);
        assertEquals(2 * threads * each, all.size());
        List<Memory> valid = all.stream().filter(m -> m.validAt(now)).toList();
        assertEquals(1, valid.size(), "exactly one valid value after parallel writes from two processes: " + valid);
        for (Memory m : all) if (m != valid.get(0)) assertNotNull(m.invalidatedBy(), m.toString());
        for (MemoryService svc : List.of(memory, replica)) {
            List<SearchHit> hits = svc.search(TENANT, "race", SearchRequest.of("where does Race live", 20), null).hits();
            assertEquals(1, hits.stream().filter(h -> "user.home_city".equals(h.memory().factKey())).count(), hits.toString());
        }
    }

    @Test
    void theReadGuardNeverReturnsTwoValuesOfAKey() {
        Memory a = memory.add(TENANT, "rio", fact("user.pet", "a cat", "Rio has a cat named Miso", false));
        Memory b = memory.add(TENANT, "rio", NewMemory.of("Rio has a dog named Taco"));
        // A patch can give a second memory the key without resolution: two valid values now.
        memory.patch(TENANT, "rio", b.id(), new MemoryPatch(null, null, null, null, null, "user.pet", null, null, null, null));
        MemoryContext ctx = memory.contextFor(TENANT, "rio", "s-1", "What pet does Rio have, a cat or a dog?", 8, 500, QUARTER_CHARS);
        List<String> pets = ctx.retrieved().hits().stream().filter(h -> "user.pet".equals(h.memory().factKey())).map(h -> h.memory().id()).toList();
        assertEquals(1, pets.size(), ctx.retrieved().hits().toString());
        assertEquals(1, ctx.conflicts().size());
        ConflictNote note = ctx.conflicts().get(0);
        assertEquals("read_guard", note.how());
        assertEquals(pets.get(0), note.kept());
        assertEquals(List.of(pets.get(0).equals(a.id()) ? b.id() : a.id()), note.dropped());
        assertTrue(memory.stats().guardDrops() >= 1);
    }

    private static Memory valueOf(MemoryService svc, String user, String key) {
        List<Memory> holders = svc.list(TENANT, user, 100, null).data().stream()
                .filter(m -> key.equals(m.factKey()) && m.expiredAt() == null).toList();
        assertEquals(1, holders.size(), holders.toString());
        return holders.get(0);
    }
}
