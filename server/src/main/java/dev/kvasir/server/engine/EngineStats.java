package dev.kvasir.server.engine;

/**
 * A snapshot of the engine's state, published after every step for readers on other threads
 * (metrics scrapes, tests). Counters are cumulative since start.
 */
public record EngineStats(
        int running,
        int waiting,
        int swapped,
        double kvUsage,
        int kvBlocksFree,
        int kvBlocksUsed,
        int kvBlocksCached,
        int kvBlocksTotal,
        long prefixQueryTokens,
        long prefixHitTokens,
        long preemptions,
        long promptTokens,
        long generationTokens,
        long steps,
        long copyOnWriteCopies,
        long evictions,
        int kvBlocksRetainedSession,
        int kvBlocksRetainedPinned,
        int offloadBlocksUsed,
        long offloadStores,
        long offloadHitTokens) {

    public static EngineStats empty(int totalBlocks) {
        return new EngineStats(0, 0, 0, 0, totalBlocks, 0, 0, totalBlocks, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    }
}
