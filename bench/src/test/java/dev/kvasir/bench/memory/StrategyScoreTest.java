package dev.kvasir.bench.memory;

import java.util.function.Function;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The scoring: what counts as a right answer, and the table's figures. */
class StrategyScoreTest {

    private static final AgentWorkload WORKLOAD = AgentWorkload.generate(5, 4, 40, 50);

    private static StrategyScore.Row score(Function<AgentWorkload.Interaction, String> policy) {
        StrategyScore score = new StrategyScore("p");
        for (AgentWorkload.Session s : WORKLOAD.sessions()) {
            for (AgentWorkload.Interaction in : s.interactions()) if (in.kind() == AgentWorkload.Kind.QUERY) score.query(in, policy.apply(in));
        }
        return score.row();
    }

    @Test
    void aPolicyThatAlwaysInjectsTheStaleValueScoresZeroOnCorrections() {
        StrategyScore.Row stale = score(q -> q.stale().isEmpty() ? "The user's value is " + q.value() : "The user's value is "
                + q.stale().iterator().next());
        assertTrue(stale.correctedQueries() > 10);
        assertEquals(0.0, stale.correctedAccuracyPct());
        assertTrue(stale.accuracyPct() < 100.0);
    }

    @Test
    void bothValuesTogetherIsWrongAndOnlyTheCurrentOneIsRight() {
        StrategyScore.Row both = score(q -> "- " + q.value() + "\n- " + String.join("\n- ", q.stale()));
        assertEquals(0.0, both.correctedAccuracyPct());
        StrategyScore.Row right = score(q -> "Memories about the user:\n- value: " + q.value());
        assertEquals(100.0, right.accuracyPct());
        assertEquals(100.0, right.correctedAccuracyPct());
        StrategyScore.Row nothing = score(q -> null);
        assertEquals(0.0, nothing.accuracyPct());
    }

    @Test
    void aValueCountsOnlyAsAWholeWord() {
        assertTrue(StrategyScore.contains("the user lives in oslo.", "Oslo"));
        assertFalse(StrategyScore.contains("the user lives in oslofjord", "Oslo"));
        assertFalse(StrategyScore.contains("code 44110", "4411"));
        assertTrue(StrategyScore.contains("dark mode", "dark mode"));
    }

    @Test
    void latencyOverflowAndUtilizationMakeTheRowAndItsLine() {
        StrategyScore score = new StrategyScore("hybrid");
        for (int i = 1; i <= 100; i++) score.retrievalNanos(i * 1_000_000L);
        score.prompt("s1", 100, 2048);
        score.prompt("s1", 4000, 2048);
        score.prompt("s2", 2048, 2048);
        score.prompt("s3", 10, 2048);
        score.prompt("s4", 10, 2048);
        score.utilization(512, 1024);
        score.utilization(2048, 1024);
        StrategyScore.Row row = score.row();
        assertEquals(50.0, row.p50Ms());
        assertEquals(99.0, row.p99Ms());
        assertEquals(25.0, row.overflowPct(), "one session of four went past the window");
        assertEquals(75.0, row.utilPct());
        assertEquals("memory-bench: policy=hybrid util_pct=75.0 p50_ms=50.00 p99_ms=99.00 accuracy_pct=0.0 overflow_pct=25.0", row.line());
    }
}
