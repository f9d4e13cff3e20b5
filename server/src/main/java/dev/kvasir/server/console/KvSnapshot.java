package dev.kvasir.server.console;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kvasir.blockmanager.BlockState;
import dev.kvasir.server.engine.EngineStats;

/**
 * One event of the KV feed: the engine's published counters and the block map read at one moment.
 * The map goes out run-length encoded ({@code [state, count, state, count, ...]}), since a pool of
 * tens of thousands of blocks is a handful of runs when idle and a few hundred under load.
 *
 * @param atMillis    when the map was read (Unix milliseconds)
 * @param stats       the engine's latest published snapshot
 * @param states      every block's {@link BlockState}: the GPU pool's, then the CPU swap pool's
 * @param gpuBlocks   how many of {@code states} are GPU blocks
 */
record KvSnapshot(long atMillis, EngineStats stats, byte[] states, int gpuBlocks) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The event's JSON, as the console and {@code curl} read it. */
    byte[] json() {
        int[] counts = new int[BlockState.count()];
        for (int i = 0; i < gpuBlocks; i++) counts[states[i]]++;
        int swapped = 0;
        for (int i = gpuBlocks; i < states.length; i++) if (states[i] == BlockState.SWAPPED) swapped++;
        ObjectNode o = JSON.createObjectNode();
        o.put("object", "kv.snapshot").put("time_ms", atMillis)
                .put("running", stats.running()).put("waiting", stats.waiting()).put("swapped", stats.swapped())
                .put("kv_usage", stats.kvUsage())
                .put("prefix_query_tokens", stats.prefixQueryTokens()).put("prefix_hit_tokens", stats.prefixHitTokens())
                .put("prefix_hit_rate", stats.prefixQueryTokens() == 0 ? 0.0 : (double) stats.prefixHitTokens() / stats.prefixQueryTokens())
                .put("preemptions", stats.preemptions()).put("prompt_tokens", stats.promptTokens())
                .put("generation_tokens", stats.generationTokens()).put("steps", stats.steps())
                .put("evictions", stats.evictions()).put("copy_on_write_copies", stats.copyOnWriteCopies());
        ObjectNode blocks = o.putObject("blocks");
        blocks.put("total", gpuBlocks);
        for (byte s = 0; s < BlockState.SWAPPED; s++) blocks.put(BlockState.name(s), counts[s]);
        blocks.put("cpu_total", states.length - gpuBlocks).put("swapped", swapped);
        ArrayNode names = o.putArray("states");
        for (byte s = 0; s < BlockState.count(); s++) names.add(BlockState.name(s));
        runs(o.putArray("gpu_map"), 0, gpuBlocks);
        runs(o.putArray("cpu_map"), gpuBlocks, states.length);
        return o.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    private void runs(ArrayNode out, int from, int to) {
        int i = from;
        while (i < to) {
            byte s = states[i];
            int j = i + 1;
            while (j < to && states[j] == s) j++;
            out.add(s).add(j - i);
            i = j;
        }
    }
}
