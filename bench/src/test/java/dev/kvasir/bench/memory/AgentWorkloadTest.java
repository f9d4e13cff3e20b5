package dev.kvasir.bench.memory;

import dev.kvasir.memory.facts.Fact;
import dev.kvasir.memory.facts.FactContext;
import dev.kvasir.memory.facts.RuleFactExtractor;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The generated workload: deterministic, with a ground truth that follows the user's own words. */
class AgentWorkloadTest {

    private static final AgentWorkload WORKLOAD = AgentWorkload.generate(12, 8, 200, 50);

    @Test
    void theSameSeedGivesTheSameWorkloadAndAnotherSeedAnother() {
        assertEquals(WORKLOAD, AgentWorkload.generate(12, 8, 200, 50));
        assertNotEquals(WORKLOAD, AgentWorkload.generate(13, 8, 200, 50));
        assertEquals(200, WORKLOAD.sessions().size());
        assertTrue(WORKLOAD.sessions().stream().allMatch(s -> s.interactions().size() == 50));
        assertEquals(8, WORKLOAD.sessions().stream().map(AgentWorkload.Session::user).distinct().count());
        // Each user states each fact once; from then on it changes by corrections.
        assertEquals(8 * AgentWorkload.TOPICS.size(), WORKLOAD.count(AgentWorkload.Kind.FACT));
        for (AgentWorkload.Kind k : List.of(AgentWorkload.Kind.CORRECTION, AgentWorkload.Kind.QUERY, AgentWorkload.Kind.CHATTER)) {
            assertTrue(WORKLOAD.count(k) > 100, k + ": " + WORKLOAD.count(k));
        }
        assertThrows(IllegalArgumentException.class, () -> AgentWorkload.generate(1, 0, 1, 1));
    }

    @Test
    void eachQueryExpectsTheUsersLatestValueAndNamesEveryEarlierOneStale() {
        Map<String, Map<String, Set<String>>> given = new HashMap<>();
        Map<String, Map<String, String>> current = new HashMap<>();
        int corrected = 0;
        for (AgentWorkload.Session s : WORKLOAD.sessions()) {
            Map<String, String> now = current.computeIfAbsent(s.user(), u -> new HashMap<>());
            Map<String, Set<String>> all = given.computeIfAbsent(s.user(), u -> new HashMap<>());
            for (AgentWorkload.Interaction in : s.interactions()) {
                switch (in.kind()) {
                    case FACT -> {
                        assertFalse(now.containsKey(in.factKey()), "a fact is new to the user: " + in);
                        now.put(in.factKey(), in.value());
                        all.computeIfAbsent(in.factKey(), k -> new LinkedHashSet<>()).add(in.value());
                    }
                    case CORRECTION -> {
                        assertNotEquals(now.get(in.factKey()), in.value(), "a correction changes the value");
                        now.put(in.factKey(), in.value());
                        all.get(in.factKey()).add(in.value());
                    }
                    case QUERY -> {
                        assertEquals(now.get(in.factKey()), in.value());
                        Set<String> stale = new LinkedHashSet<>(all.get(in.factKey()));
                        stale.remove(in.value());
                        assertEquals(stale, in.stale());
                        if (!stale.isEmpty()) corrected++;
                    }
                    case CHATTER -> assertEquals(null, in.factKey());
                }
            }
        }
        assertTrue(corrected > 100, "enough queries on corrected facts to score: " + corrected);
    }

    @Test
    void theRuleExtractorReadsEveryStatementAndCorrectionAndNothingElse() {
        RuleFactExtractor rules = new RuleFactExtractor();
        for (AgentWorkload.Session s : WORKLOAD.sessions().subList(0, 40)) {
            for (AgentWorkload.Interaction in : s.interactions()) {
                List<Fact> facts = rules.extract(in.text(), FactContext.NONE);
                switch (in.kind()) {
                    case FACT, CORRECTION -> {
                        assertEquals(1, facts.size(), in.text() + " -> " + facts);
                        assertEquals(in.factKey(), facts.get(0).key(), in.text());
                        assertEquals(in.value(), facts.get(0).value(), in.text());
                        assertEquals(in.kind() == AgentWorkload.Kind.CORRECTION, facts.get(0).correction(), in.text());
                    }
                    case QUERY, CHATTER -> assertEquals(List.of(), facts, in.text());
                }
            }
        }
    }

    @Test
    void noValueHidesInsideAnotherValueOfItsFact() {
        for (AgentWorkload.Topic t : AgentWorkload.TOPICS) {
            for (String a : t.values()) {
                for (String b : t.values()) {
                    if (!a.equals(b)) assertFalse(StrategyScore.contains(b.toLowerCase(), a), a + " in " + b);
                }
            }
        }
    }
}
