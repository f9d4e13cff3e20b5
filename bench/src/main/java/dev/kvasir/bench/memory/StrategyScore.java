package dev.kvasir.bench.memory;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

/**
 * Scores one policy's run of an {@link AgentWorkload}: task accuracy (a query counts when the
 * injected memory holds the fact's current value and none of its stale ones), the same on queries
 * whose fact was corrected, retrieval latency, memory utilization (share of the active budget held
 * by memories needed later), and the context overflow rate (sessions where any assembled prompt
 * would have passed the window).
 */
public final class StrategyScore {

    /** One policy's table row. */
    public record Row(String policy, double utilPct, double p50Ms, double p99Ms, double accuracyPct, double correctedAccuracyPct,
                      double overflowPct, int queries, int correctedQueries) {

        /** The benchmark's final line for this row, exactly. */
        public String line() {
            return String.format(Locale.ROOT, "memory-bench: policy=%s util_pct=%.1f p50_ms=%.2f p99_ms=%.2f accuracy_pct=%.1f overflow_pct=%.1f",
                    policy, utilPct, p50Ms, p99Ms, accuracyPct, overflowPct);
        }
    }

    private final String policy;
    private int queries, correct, corrected, correctedRight, withoutCurrent, withStale;
    private long[] latencies = new long[1024];
    private int latencyCount;
    private double utilSum;
    private int utilSamples;
    private final Set<String> overflowed = new HashSet<>();
    private final Set<String> sessions = new HashSet<>();

    public StrategyScore(String policy) {
        this.policy = policy;
    }

    /** Scores a query against the memory text injected for it; true when it was answered right. */
    public boolean query(AgentWorkload.Interaction q, String injected) {
        if (q.kind() != AgentWorkload.Kind.QUERY) throw new IllegalArgumentException("not a query: " + q);
        String text = injected == null ? "" : injected.toLowerCase(Locale.ROOT);
        boolean current = contains(text, q.value()), stale = q.stale().stream().anyMatch(s -> contains(text, s));
        boolean right = current && !stale;
        if (!current) withoutCurrent++;
        if (stale) withStale++;
        queries++;
        if (right) correct++;
        if (!q.stale().isEmpty()) {
            corrected++;
            if (right) correctedRight++;
        }
        return right;
    }

    /** Why queries were missed: how many injected no current value, how many a stale one (a query can be both). */
    public String misses() {
        return String.format(Locale.ROOT, "missed %d of %d queries: %d without the current value, %d with a stale one",
                queries - correct, queries, withoutCurrent, withStale);
    }

    /** A value is present as a whole word sequence, not inside another word. */
    static boolean contains(String lowerText, String value) {
        String v = value.toLowerCase(Locale.ROOT);
        for (int at = lowerText.indexOf(v); at >= 0; at = lowerText.indexOf(v, at + 1)) {
            boolean startOk = at == 0 || !Character.isLetterOrDigit(lowerText.charAt(at - 1));
            int end = at + v.length();
            boolean endOk = end == lowerText.length() || !Character.isLetterOrDigit(lowerText.charAt(end));
            if (startOk && endOk) return true;
        }
        return false;
    }

    public void retrievalNanos(long nanos) {
        if (latencyCount == latencies.length) latencies = Arrays.copyOf(latencies, latencyCount * 2);
        latencies[latencyCount++] = nanos;
    }

    /** One assembled prompt of {@code session}: over {@code window} tokens marks the session overflowed. */
    public void prompt(String session, int tokens, int window) {
        sessions.add(session);
        if (tokens > window) overflowed.add(session);
    }

    /** A look at a user's active set: {@code neededTokens} of it are memories a later query needs, out of {@code budgetTokens}. */
    public void utilization(int neededTokens, int budgetTokens) {
        utilSum += Math.min(1.0, (double) neededTokens / budgetTokens);
        utilSamples++;
    }

    public Row row() {
        long[] sorted = Arrays.copyOf(latencies, latencyCount);
        Arrays.sort(sorted);
        return new Row(policy, utilSamples == 0 ? 0 : 100 * utilSum / utilSamples, quantileMs(sorted, 0.50), quantileMs(sorted, 0.99),
                queries == 0 ? 0 : 100.0 * correct / queries, corrected == 0 ? 0 : 100.0 * correctedRight / corrected,
                sessions.isEmpty() ? 0 : 100.0 * overflowed.size() / sessions.size(), queries, corrected);
    }

    static double quantileMs(long[] sorted, double q) {
        if (sorted.length == 0) return 0;
        return sorted[Math.min(sorted.length - 1, Math.max(0, (int) Math.ceil(q * sorted.length) - 1))] / 1e6;
    }
}
