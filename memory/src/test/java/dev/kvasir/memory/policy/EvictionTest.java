package dev.kvasir.memory.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kvasir.memory.Tier;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Each policy's choice on one active set: who is demoted or archived, in what order, and who never is. */
class EvictionTest {
    private static final Instant NOW = Instant.parse("2025-06-01T12:00:00Z");

    /** id, tier, tokens, importance, written days ago, last read days ago, reads, live. */
    private static ActiveMemory m(String id, Tier tier, int tokens, double importance, int writtenDaysAgo, int readDaysAgo, int reads,
            boolean live) {
        return new ActiveMemory(id, tier, tokens, importance, NOW.minus(Duration.ofDays(writtenDaysAgo)),
                NOW.minus(Duration.ofDays(readDaysAgo)), reads, live);
    }

    private static final List<ActiveMemory> SET = List.of(
            m("a-core-old", Tier.CORE, 30, 0.9, 60, 60, 0, false),
            m("b-core-new", Tier.CORE, 30, 0.4, 5, 5, 0, false),
            m("c-fact-read", Tier.RECENT, 20, 0.7, 40, 1, 6, false),
            m("d-fact", Tier.RECENT, 20, 0.7, 30, 30, 0, false),
            m("e-chatter-old", Tier.RECENT, 20, 0.3, 20, 20, 0, false),
            m("f-chatter-new", Tier.RECENT, 20, 0.3, 2, 2, 0, false),
            m("g-live-turn", Tier.RECENT, 40, 0.3, 0, 0, 0, true));

    private static List<String> moved(PolicyKind p, int budget, int core) {
        return Eviction.plan(p, SET, budget, core, NOW).stream().map(mv -> mv.id() + ">" + mv.to().apiName()).toList();
    }

    @Test
    void underBudgetNothingMoves() {
        for (PolicyKind p : PolicyKind.values()) assertEquals(List.of(), moved(p, 1000, 100), p.name());
    }

    @Test
    void lruArchivesTheLeastRecentlyUsedWhateverItsTier() {
        // 180 tokens, budget 120: 60 must go. a (read 60 days ago), d (30), e (20).
        assertEquals(List.of("a-core-old>archive", "d-fact>archive", "e-chatter-old>archive"), moved(PolicyKind.LRU, 120, 100));
    }

    @Test
    void importanceArchivesTheLowestFadedWeight() {
        // weights: e 0.3*0.5^(20/7)=0.04, a 0.9*0.5^(60/7)=0.002, d 0.7*0.5^(30/7)=0.036, f 0.3*0.82=0.25, b 0.4*0.61=0.24, c 0.7*0.9+0.3
        assertEquals(List.of("a-core-old>archive", "d-fact>archive", "e-chatter-old>archive"), moved(PolicyKind.IMPORTANCE, 120, 100));
    }

    @Test
    void tieredDemotesTheOldestCoreThenArchivesTheOldestRecentButNeverTheLiveSession() {
        assertEquals(List.of("a-core-old>recent"), moved(PolicyKind.TIERED, 1000, 40), "core over its budget: the oldest is demoted");
        // 180 tokens, budget 60: core (60) is never archived; recent goes oldest first but the live turn stays.
        assertEquals(List.of("c-fact-read>archive", "d-fact>archive", "e-chatter-old>archive", "f-chatter-new>archive"),
                moved(PolicyKind.TIERED, 60, 100));
    }

    @Test
    void hybridDemotesAndArchivesByFadedImportanceInsideEachTier() {
        assertEquals(List.of("a-core-old>recent"), moved(PolicyKind.HYBRID, 1000, 40), "a faded 0.9 (0.002) below a fresh 0.4 (0.24)");
        // Recent by weight: d 0.036, e 0.04, f 0.25, c 0.93: archive d and e to get from 180 to 140.
        assertEquals(List.of("d-fact>archive", "e-chatter-old>archive"), moved(PolicyKind.HYBRID, 140, 100));
    }

    @Test
    void readsReinforce() {
        ActiveMemory unread = m("x", Tier.RECENT, 10, 0.5, 10, 10, 0, false);
        ActiveMemory read = m("y", Tier.RECENT, 10, 0.5, 10, 10, 5, false);
        assertEquals(Eviction.weight(unread, NOW) + 0.25, Eviction.weight(read, NOW), 1e-9);
    }
}
