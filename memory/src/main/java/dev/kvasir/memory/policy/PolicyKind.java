package dev.kvasir.memory.policy;

import java.util.Locale;

/**
 * {@code --memory-policy}: what stays in a user's active set (core and recent tiers) under the
 * per-user token budget. Evicted memories move to the archive tier (searched on demand); nothing
 * is deleted but by an explicit forget.
 * <ul>
 * <li>{@code lru}: the least recently used go first.</li>
 * <li>{@code importance}: the lowest importance go first; importance fades unless reinforced (a
 *     memory read by a search, or stressed with "remember that").</li>
 * <li>{@code tiered}: Letta's tiers. Core memories are always in the prompt (up to the core budget;
 *     past it the oldest are demoted to recent), recent ones are retrieved by relevance and the
 *     oldest are demoted to the archive; a long session's history is summarized.</li>
 * <li>{@code hybrid} (default): the tiers, with importance-weighted eviction inside each.</li>
 * </ul>
 */
public enum PolicyKind {
    LRU, IMPORTANCE, TIERED, HYBRID;

    /** Whether the policy keeps a core tier in every prompt and summarizes long sessions. */
    public boolean tiered() {
        return this == TIERED || this == HYBRID;
    }

    public String apiName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static PolicyKind parse(String value) {
        for (PolicyKind p : values()) if (p.apiName().equals(value)) return p;
        throw new IllegalArgumentException("--memory-policy must be lru, importance, tiered or hybrid, got '" + value + "'");
    }
}
