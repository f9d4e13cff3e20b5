package dev.kvasir.memory;

import dev.kvasir.memory.search.HybridScorer;
import dev.kvasir.memory.search.LexicalAnalyzer;
import java.time.Clock;
import java.util.function.LongConsumer;

/**
 * Tuning of a {@link MemoryService}. {@code similarityFloor}: the cosine above which a returned
 * memory counts as a hit for the hit-rate metric; {@code maxCachedUsers}: per-user search indexes
 * kept in this process; {@code searchLatencyNanos}: called with every search's duration (the
 * server's histogram); {@code features}: extractor, summarizer, policy and budgets, vectors.
 */
public record MemoryConfig(LexicalAnalyzer analyzer, HybridScorer scorer, double similarityFloor, int maxCachedUsers,
        Clock clock, LongConsumer searchLatencyNanos, MemoryFeatures features) {

    public static MemoryConfig defaults() {
        return new MemoryConfig(LexicalAnalyzer.ENGLISH, HybridScorer.DEFAULT, 0.35, 1024, Clock.systemUTC(), nanos -> {},
                MemoryFeatures.DEFAULTS);
    }

    public MemoryConfig withClock(Clock newClock) {
        return new MemoryConfig(analyzer, scorer, similarityFloor, maxCachedUsers, newClock, searchLatencyNanos, features);
    }

    public MemoryConfig withAnalyzer(LexicalAnalyzer newAnalyzer) {
        return new MemoryConfig(newAnalyzer, scorer, similarityFloor, maxCachedUsers, clock, searchLatencyNanos, features);
    }

    public MemoryConfig withScorer(HybridScorer newScorer) {
        return new MemoryConfig(analyzer, newScorer, similarityFloor, maxCachedUsers, clock, searchLatencyNanos, features);
    }

    public MemoryConfig withSearchLatency(LongConsumer listener) {
        return new MemoryConfig(analyzer, scorer, similarityFloor, maxCachedUsers, clock, listener, features);
    }

    public MemoryConfig withFeatures(MemoryFeatures newFeatures) {
        return new MemoryConfig(analyzer, scorer, similarityFloor, maxCachedUsers, clock, searchLatencyNanos, newFeatures);
    }
}
