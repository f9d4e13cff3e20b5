package dev.kvasir.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvasir.memory.policy.PolicyKind;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tiers and policies on a real store: the core block (always injected first under tiered policies,
 * editable with GET/PUT, refused over its budget), identity facts landing in core, and each
 * policy keeping a user's active set under the budget by demoting to the archive, never deleting.
 */
class TiersAndPoliciesTest {
    private static final TokenCounter WORDS = text -> text.split("\\s+").length;

    @TempDir
    Path dir;
    MemoryService memory;
    ManualClock clock = new ManualClock(Instant.parse("2025-01-01T08:00:00Z"));

    private MemoryService open(PolicyKind policy, int userBudget, int coreBudget) {
        MemoryFeatures f = MemoryFeatures.DEFAULTS.withPolicy(policy).withBudgets(userBudget, coreBudget, 10_000);
        memory = MemoryService.open("sqlite:" + dir.resolve(policy + ".db"), MemoryConfig.defaults().withFeatures(f).withClock(clock)).orElseThrow();
        memory.attach(WORDS, null, 4096);
        return memory;
    }

    @AfterEach
    void close() {
        if (memory != null) memory.close();
    }

    @Test
    void theCoreBlockIsEditableAlwaysInjectedFirstAndBudgeted() throws Exception {
        open(PolicyKind.HYBRID, 4096, 60);
        CoreBlock put = memory.putCore("t", "uma", "- Uma is vegetarian\n- Uma's deadline is Friday\n\n");
        assertEquals(List.of("Uma is vegetarian", "Uma's deadline is Friday"), put.memories().stream().map(Memory::content).toList());
        assertEquals("Uma is vegetarian\nUma's deadline is Friday", put.content());
        assertTrue(put.tokens() <= 60 && put.tokens() > 0);
        String keepId = put.memories().get(0).id();
        MemoryContext ctx = memory.contextFor("t", "uma", "s", "tell me a joke about penguins", 8, 500, WORDS);
        assertEquals(put.block(), ctx.coreBlock(), "the core block is injected whatever the query");
        assertEquals(List.of(keepId, put.memories().get(1).id()), ctx.injectedIds().subList(0, 2));

        CoreBlock edited = memory.putCore("t", "uma", "Uma is vegetarian\nUma runs on Sundays");
        assertEquals(keepId, edited.memories().get(0).id(), "an unchanged line keeps its memory");
        Memory dropped = memory.get("t", "uma", put.memories().get(1).id());
        assertEquals(Tier.RECENT, dropped.tier(), "a line taken out is demoted, not deleted");
        MemoryInputException tooBig = assertThrows(MemoryInputException.class,
                () -> memory.putCore("t", "uma", "word ".repeat(70)));
        assertEquals("content", tooBig.param());
        assertEquals(edited.memories(), memory.core("t", "uma").memories(), "a refused block changes nothing");
    }

    @Test
    void identityFactsGoToCoreAndReplaceTheirOldValueThere() throws Exception {
        open(PolicyKind.TIERED, 4096, 200);
        memory.recordTurn("t", "vic", "s1", "My name is Victor and I live in Quito", "Hello Victor!").get(30, TimeUnit.SECONDS);
        clock.advance(Duration.ofDays(2));
        memory.recordTurn("t", "vic", "s2", "I moved to Cuenca", "Congratulations on the move.").get(30, TimeUnit.SECONDS);
        MemoryContext ctx = memory.contextFor("t", "vic", "s3", "what's new?", 8, 500, WORDS);
        assertTrue(ctx.coreBlock().contains("The user's name is Victor"), ctx.coreBlock());
        assertTrue(ctx.coreBlock().contains("The user lives in Cuenca"), ctx.coreBlock());
        assertFalse(ctx.coreBlock().contains("Quito"), "the replaced value left core: " + ctx.coreBlock());
        assertEquals(1, ctx.conflicts().size(), ctx.conflicts().toString());
    }

    @Test
    void lruEvictsTheLeastRecentlyUsedToTheArchive() throws Exception {
        open(PolicyKind.LRU, 64, 32);
        Memory old = memory.add("t", "wes", NewMemory.of("Wes keeps bees behind the old barn near the river"));
        clock.advance(Duration.ofHours(1));
        Memory used = memory.add("t", "wes", NewMemory.of("Wes collects vintage radios from the nineteen fifties"));
        for (int i = 0; i < 6; i++) {
            clock.advance(Duration.ofMinutes(5));
            memory.add("t", "wes", NewMemory.of("Filler note number " + i + " about nothing in particular at all"));
            clock.advance(Duration.ofMinutes(5));
            assertEquals(List.of(used.id()), memory.search("t", "wes", SearchRequest.of("vintage radios", 1), null).ids()); // a read
        }
        awaitUpkeep();
        assertEquals(Tier.ARCHIVE, memory.get("t", "wes", old.id()).tier(), "the least recently used went first");
        assertEquals(Tier.RECENT, memory.get("t", "wes", used.id()).tier(), "reads kept the oldest-written one");
        assertWithinBudget("wes", 64);
        assertTrue(memory.stats().evictions() > 0);
        assertEquals(old.content(), memory.get("t", "wes", old.id()).content(), "evicted, not deleted");
    }

    @Test
    void importanceEvictsTheLeastImportantAndUnreinforcedImportanceFades() throws Exception {
        open(PolicyKind.IMPORTANCE, 64, 32);
        Memory vital = memory.add("t", "xia", NewMemory.of("Xia is allergic to penicillin and carries an epipen").withImportance(0.95));
        for (int i = 0; i < 7; i++) memory.add("t", "xia", NewMemory.of("Passing remark " + i + " about the lunch menu today").withImportance(0.2));
        awaitUpkeep();
        assertEquals(Tier.RECENT, memory.get("t", "xia", vital.id()).tier(), "the important memory stays");
        assertWithinBudget("xia", 64);

        Memory faded = memory.add("t", "zed", NewMemory.of("Zed is allergic to penicillin and carries an epipen").withImportance(0.95));
        clock.advance(Duration.ofDays(70)); // ten half-lives unread: 0.95 fades below a fresh 0.2
        for (int i = 0; i < 7; i++) memory.add("t", "zed", NewMemory.of("Fresh remark " + i + " about the dinner menu tonight").withImportance(0.2));
        awaitUpkeep();
        assertEquals(Tier.ARCHIVE, memory.get("t", "zed", faded.id()).tier(), "unreinforced importance fades");
    }

    @Test
    void hybridProtectsCoreAndEvictsTheLeastImportantRecentMemory() throws Exception {
        open(PolicyKind.HYBRID, 100, 60);
        memory.putCore("t", "yan", "Yan is deaf and prefers written replies");
        Memory keep = memory.add("t", "yan", NewMemory.of("Yan's daughter starts university in Leeds this autumn").withImportance(0.8));
        for (int i = 0; i < 10; i++) memory.add("t", "yan", NewMemory.of("Small talk " + i + " about the weather being mild this week").withImportance(0.3));
        awaitUpkeep();
        assertEquals(1, memory.core("t", "yan").memories().size(), "core is never evicted");
        assertEquals(Tier.RECENT, memory.get("t", "yan", keep.id()).tier());
        assertWithinBudget("yan", 100);
        assertTrue(memory.list("t", "yan", 100, null).data().stream().anyMatch(m -> m.tier() == Tier.ARCHIVE));
    }

    @Test
    void aCorrectedFactTakesOverTheReadsOfTheValueItReplaces() throws Exception {
        // Otherwise every correction restarts the key's reinforcement at zero, and under hybrid a fact
        // the user asks for all the time loses its place to whatever was read more since.
        open(PolicyKind.HYBRID, 4096, 200);
        memory.recordTurn("t", "bo", "s1", "My dog is called Rex", "Noted.").get(30, TimeUnit.SECONDS);
        for (int i = 0; i < 3; i++) {
            clock.advance(Duration.ofMinutes(1));
            MemoryContext ctx = memory.contextFor("t", "bo", "s2", "What is my dog called?", 8, 500, WORDS);
            assertTrue(ctx.retrieved().block().contains("The user's dog is called Rex"), ctx.retrieved().block());
        }
        clock.advance(Duration.ofMinutes(1));
        memory.recordTurn("t", "bo", "s2", "Correction: my dog is called Pepper", "Noted.").get(30, TimeUnit.SECONDS);
        List<Memory> dogs = memory.list("t", "bo", 100, null).data().stream()
                .filter(m -> "user.dog_name".equals(m.factKey()) && m.validAt(clock.instant())).toList();
        assertEquals(1, dogs.size(), dogs.toString());
        assertEquals("The user's dog is called Pepper", dogs.get(0).content());
        assertEquals(3, dogs.get(0).accessCount(), "the key's three reads carry over to its new value");
    }

    private void awaitUpkeep() throws Exception {
        // Upkeep runs on the memory's background thread after each add: a recorded turn queues behind it.
        memory.recordTurn("t", "sync-" + System.nanoTime(), "s", "ok", null).get(30, TimeUnit.SECONDS);
    }

    private void assertWithinBudget(String user, int budget) {
        int active = memory.list("t", user, 100, null).data().stream()
                .filter(m -> m.tier() != Tier.ARCHIVE && m.validAt(clock.instant())).mapToInt(m -> WORDS.count(m.content())).sum();
        assertTrue(active <= budget, user + "'s active set " + active + " > " + budget);
    }
}
