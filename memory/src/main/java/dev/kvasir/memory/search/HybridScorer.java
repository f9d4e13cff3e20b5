package dev.kvasir.memory.search;

import dev.kvasir.memory.Memory;
import java.time.Duration;
import java.time.Instant;

/**
 * The one place a candidate's score is decided (eviction and tier policies will plug in here).
 * Fusion is weighted reciprocal rank fusion of the BM25 and the dense ranks (rank-based, so the two
 * scales never need calibrating), then multiplied by importance (0.5 neutral), recency (a boost
 * halving every {@code recencyHalfLife}) and, for user corrections, a small bonus. Weights chosen
 * by recall on the evaluation set of {@code scripts/bench memory-search}.
 */
public record HybridScorer(double lexicalWeight, double denseWeight, double rrfK, double importanceWeight,
        double recencyWeight, Duration recencyHalfLife, double correctionBonus) {

    public static final HybridScorer DEFAULT = new HybridScorer(1.0, 1.0, 60, 0.2, 0.1, Duration.ofDays(30), 0.1);

    public double score(Candidate c, Instant now) {
        double fused = 0;
        if (c.lexicalRank() >= 0) fused += lexicalWeight / (rrfK + c.lexicalRank() + 1);
        if (c.denseRank() >= 0) fused += denseWeight / (rrfK + c.denseRank() + 1);
        Memory m = c.memory();
        double ageDays = Math.max(0, Duration.between(m.createdAt(), now).toMillis() / 86_400_000.0);
        double recency = Math.pow(0.5, ageDays / (recencyHalfLife.toMillis() / 86_400_000.0));
        double boost = (1 + importanceWeight * (m.importance() - 0.5)) * (1 + recencyWeight * recency)
                * (m.correction() ? 1 + correctionBonus : 1);
        return fused * boost;
    }
}
