package dev.kvasir.memory.policy;

import dev.kvasir.memory.Tier;
import java.time.Instant;

/**
 * A memory of the active set as a policy weighs it: its tier and size in tokens, its importance,
 * when it was written and last read (by a search), how often it was read, and whether it belongs
 * to the conversation going on now ({@code live}: its turns are that conversation's context, compacted
 * by summaries, never evicted).
 */
public record ActiveMemory(String id, Tier tier, int tokens, double importance, Instant created, Instant lastUsed, long uses,
        boolean live) {}
