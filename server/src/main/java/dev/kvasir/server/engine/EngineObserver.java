package dev.kvasir.server.engine;

/**
 * Per-request timings the engine reports as they happen (the metrics registry implements it), so
 * the engine depends on no metrics library. Called on the engine thread: implementations record
 * and return.
 */
public interface EngineObserver {

    /** Ignores everything (tests, the benchmark's bare engine). */
    EngineObserver NONE = new EngineObserver() {};

    /** Seconds from a request's arrival to its first generated token. */
    default void timeToFirstToken(double seconds) {}

    /** Seconds between two consecutive tokens of one choice. */
    default void interTokenLatency(double seconds) {}

    /** Seconds from a request's arrival to its last token. */
    default void e2eLatency(double seconds) {}

    /** A request ended early: its client left, or its deadline passed. */
    default void aborted() {}

    /** A request's prompt was admitted: {@code cachedTokens} of its {@code promptTokens} came from its tenant's prefix cache. */
    default void promptCache(String tenant, int promptTokens, int cachedTokens) {}
}
