package dev.kvasir.memory.search;

import dev.kvasir.memory.Memory;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * The one place a candidate's score is decided (eviction and tier policies will plug in here).
 * Fusion of the two retrievers, then a multiplier for importance (0.5 neutral), recency (a boost
 * halving every {@code recencyHalfLife}) and user corrections.
 *
 * <p>Fusion {@link Fusion#WEIGHTED} (the default): {@code denseWeight × cosine + lexicalWeight ×
 * lexicalShare} (BM25 over the query terms' IDF sum, {@link Candidate}: a match on a rare word
 * counts, one on a speaker's name that half the memories carry barely does). {@link Fusion#RRF}: reciprocal rank fusion with constant
 * {@code rrfK}. On the evaluation set ({@code scripts/bench memory-search}) RRF lost to embeddings
 * alone: a turn that only the dense side finds (the paraphrase case) scores 1/(k+1) and is beaten
 * by any turn both lists hold at mediocre ranks (BM25 ranks every turn naming the speaker), while
 * the weighted sum keeps a strong cosine strong. The bench prints both, with the weights tried.
 */
public record HybridScorer(Fusion fusion, double lexicalWeight, double denseWeight, double rrfK, double importanceWeight,
        double recencyWeight, Duration recencyHalfLife, double correctionBonus) {

    public enum Fusion { WEIGHTED, RRF }

    public static final HybridScorer DEFAULT = new HybridScorer(Fusion.WEIGHTED, 0.3, 1.0, 60, 0.2, 0.1, Duration.ofDays(30), 0.1);

    public HybridScorer withFusion(Fusion newFusion, double newLexicalWeight, double newDenseWeight) {
        return new HybridScorer(newFusion, newLexicalWeight, newDenseWeight, rrfK, importanceWeight, recencyWeight,
                recencyHalfLife, correctionBonus);
    }

    /** Scores of the candidates, in their order. */
    public double[] score(List<Candidate> candidates, Instant now) {
        double[] scores = new double[candidates.size()];
        for (int i = 0; i < scores.length; i++) {
            Candidate c = candidates.get(i);
            scores[i] = fused(c) * boost(c.memory(), now);
        }
        return scores;
    }

    private double fused(Candidate c) {
        return switch (fusion) {
            case WEIGHTED -> denseWeight * Math.max(0, c.similarity()) + lexicalWeight * c.lexicalShare();
            case RRF -> (c.lexicalRank() >= 0 ? lexicalWeight / (rrfK + c.lexicalRank() + 1) : 0)
                    + (c.denseRank() >= 0 ? denseWeight / (rrfK + c.denseRank() + 1) : 0);
        };
    }

    private double boost(Memory m, Instant now) {
        double ageDays = Math.max(0, (now.toEpochMilli() - m.createdAt().toEpochMilli()) / 86_400_000.0);
        double recency = Math.pow(0.5, ageDays / (recencyHalfLife.toMillis() / 86_400_000.0));
        return (1 + importanceWeight * (m.importance() - 0.5)) * (1 + recencyWeight * recency)
                * (m.correction() ? 1 + correctionBonus : 1);
    }
}
