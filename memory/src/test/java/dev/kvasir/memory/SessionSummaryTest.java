package dev.kvasir.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvasir.memory.summary.SummarizerMode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Summaries of a long session (extractive: no model here): written when the history passes 75% of
 * the session budget, depth 1 with the ids they replace, originals in the archive and still found
 * by an archive search, the history opening with the summary; summaries are never summarized, and
 * when they pass the budget the oldest go to the archive whole.
 */
class SessionSummaryTest {
    private static final TokenCounter WORDS = text -> text.split("\\s+").length;
    private static final int BUDGET = 120;

    @TempDir
    Path dir;
    MemoryService memory;

    @BeforeEach
    void open() {
        MemoryFeatures f = MemoryFeatures.DEFAULTS.withSummarizer(SummarizerMode.AUTO).withBudgets(4096, 256, BUDGET);
        memory = MemoryService.open("sqlite:" + dir.resolve("m.db"), MemoryConfig.defaults().withFeatures(f)).orElseThrow();
        memory.attach(WORDS, null, 2048);
    }

    @AfterEach
    void close() {
        memory.close();
    }

    private void say(String session, String user, String reply) throws Exception {
        memory.recordTurn("t", "sam", session, user, reply).get(30, TimeUnit.SECONDS);
    }

    @Test
    void aLongSessionIsSummarizedOnceAndTheOriginalsGoToTheArchive() throws Exception {
        say("s1", "My name is Sam and I live in Tallinn.", "Nice to meet you, Sam.");
        say("s1", "I work as a carpenter at a small shop near the harbour.", "That sounds like satisfying work.");
        for (int i = 0; i < 3; i++) {
            say("s1", "The weather today is grey and windy again, and the bus was late by twenty minutes, number " + i + ".",
                    "Stay warm out there.");
        }
        List<Memory> all = all();
        List<Memory> summaries = all.stream().filter(m -> Memory.SUMMARY.equals(m.kind())).toList();
        assertEquals(1, summaries.size(), "one summary once 75% of " + BUDGET + " words passed");
        Memory summary = summaries.get(0);
        assertEquals(1, summary.summaryDepth());
        assertFalse(summary.replaces().isEmpty());
        assertTrue(summary.content().contains("The user lives in Tallinn"), summary.content());
        assertTrue(summary.content().contains("The user works as carpenter"), summary.content());
        for (String id : summary.replaces()) {
            Memory original = memory.get("t", "sam", id);
            assertEquals(Tier.ARCHIVE, original.tier(), "originals move to the archive");
            assertEquals(Memory.TURN, original.kind(), "only turns are summarized");
        }
        SearchRequest archive = new SearchRequest("harbour carpenter shop", 5, null, null, null, EnumSet.of(Tier.ARCHIVE), false, null);
        assertTrue(memory.search("t", "sam", archive, null).ids().stream().anyMatch(summary.replaces()::contains),
                "archived originals stay searchable");
        List<ChatTurn> history = memory.sessionHistory("t", "sam", "s1", 10_000, WORDS);
        assertEquals(ChatTurn.SUMMARY, history.get(0).role());
        assertEquals(summary.content(), history.get(0).content());
        int words = history.stream().mapToInt(h -> WORDS.count(h.content())).sum();
        assertTrue(words <= 0.75 * BUDGET, "the history is back under the trigger: " + words);
        assertEquals(1, memory.stats().summaries());
    }

    @Test
    void summariesAreNeverSummarizedAndTheOldestGoToTheArchiveWhole() throws Exception {
        for (int i = 0; i < 30; i++) {
            say("long", "Note " + i + ": I bought " + (i + 2) + " apples at the market and decided to bake a pie.", "Sounds tasty.");
        }
        List<Memory> all = all();
        List<Memory> summaries = all.stream().filter(m -> Memory.SUMMARY.equals(m.kind())).toList();
        assertTrue(summaries.size() >= 3, "several summaries over 30 exchanges: " + summaries.size());
        Set<String> summaryIds = new java.util.HashSet<>(summaries.stream().map(Memory::id).toList());
        for (Memory s : summaries) {
            assertEquals(1, s.summaryDepth(), "never a summary of a summary");
            for (String id : s.replaces()) assertFalse(summaryIds.contains(id), "a summary replaces turns only");
        }
        assertTrue(summaries.stream().anyMatch(s -> s.tier() == Tier.ARCHIVE), "the oldest summaries went to the archive whole");
        assertTrue(summaries.stream().anyMatch(s -> s.tier() == Tier.RECENT));
        int words = memory.sessionHistory("t", "sam", "long", 10_000, WORDS).stream().mapToInt(h -> WORDS.count(h.content())).sum();
        assertTrue(words <= BUDGET, "the session's active history stays within its budget: " + words);
        assertNotNull(memory.get("t", "sam", summaries.get(0).id()));
    }

    @Test
    void aSummaryOfACorrectedFactIsNeverRetrievedAgain() throws Exception {
        say("s1", "My name is Sam and I live in Tallinn.", "Nice to meet you, Sam.");
        for (int i = 0; i < 4; i++) {
            say("s1", "The weather today is grey and windy again, and the bus was late by twenty minutes, number " + i + ".",
                    "Stay warm out there.");
        }
        Memory summary = all().stream().filter(m -> Memory.SUMMARY.equals(m.kind())).findFirst().orElseThrow();
        assertTrue(summary.content().contains("Tallinn"), summary.content());
        SearchRequest where = new SearchRequest("where does the user live Tallinn", 10, null, null, null, EnumSet.of(Tier.RECENT), false, null);
        assertTrue(memory.search("t", "sam", where, null).ids().contains(summary.id()), "found while Tallinn holds");

        say("s2", "Actually I moved to Riga", "Noted.");
        List<String> found = memory.search("t", "sam", where, null).ids();
        assertFalse(found.contains(summary.id()), "the summary would bring Tallinn back: " + found);
        assertTrue(found.stream().map(id -> memory.get("t", "sam", id).content()).anyMatch(c -> c.contains("Riga")), "the correction is found");
        assertTrue(found.stream().map(id -> memory.get("t", "sam", id).content()).noneMatch(c -> c.contains("Tallinn")), found.toString());
    }

    private List<Memory> all() {
        List<Memory> out = new ArrayList<>();
        String cursor = null;
        do {
            MemoryPage page = memory.list("t", "sam", 100, cursor);
            out.addAll(page.data());
            cursor = page.nextCursor();
        } while (cursor != null);
        return out;
    }
}
