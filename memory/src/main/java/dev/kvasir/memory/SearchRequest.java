package dev.kvasir.memory;

import java.time.Instant;
import java.util.Set;

/**
 * A search of one user's memories ({@code POST /v1/memories/search}): {@code k} in 1..100;
 * {@code maxTokens} (null: no budget) caps the rendered block in the served model's tokens;
 * {@code sessionId} admits that session's session-scoped memories; {@code asOf} (null: now) searches
 * what was valid and known then; {@code tiers} null = all; {@code includeInvalid} also returns
 * invalidated or expired memories; {@code mode} null = hybrid.
 */
public record SearchRequest(String query, int k, Integer maxTokens, String sessionId, Instant asOf, Set<Tier> tiers,
        boolean includeInvalid, RetrievalMode mode) {

    public static SearchRequest of(String query, int k) {
        return new SearchRequest(query, k, null, null, null, null, false, null);
    }

    public SearchRequest withMode(RetrievalMode newMode) {
        return new SearchRequest(query, k, maxTokens, sessionId, asOf, tiers, includeInvalid, newMode);
    }

    public SearchRequest withSession(String newSessionId) {
        return new SearchRequest(query, k, maxTokens, newSessionId, asOf, tiers, includeInvalid, mode);
    }

    public SearchRequest withAsOf(Instant newAsOf) {
        return new SearchRequest(query, k, maxTokens, sessionId, newAsOf, tiers, includeInvalid, mode);
    }

    public SearchRequest withMaxTokens(Integer newMaxTokens) {
        return new SearchRequest(query, k, newMaxTokens, sessionId, asOf, tiers, includeInvalid, mode);
    }
}
