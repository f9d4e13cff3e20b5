package dev.kvasir.memory;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * One stored memory: text with its owner, scope, fact key, importance/confidence, correction flag,
 * tier, source, access statistics, free metadata and bi-temporal validity as Graphiti keeps it:
 * {@code validAt}/{@code invalidAt} say when the fact held in the world, {@code createdAt}/
 * {@code expiredAt} when we learned and retired it, {@code invalidatedBy} the memory that
 * superseded it. {@code summaryDepth} (0 for an original) and {@code replaces} (ids a summary
 * stands for) are for summaries. Times are microsecond-precise (what both stores keep).
 */
public record Memory(
        String id,
        String tenant,
        String user,
        Scope scope,
        String sessionId,
        String factKey,
        String content,
        double importance,
        double confidence,
        boolean correction,
        Tier tier,
        Source source,
        Instant createdAt,
        Instant lastAccessedAt,
        long accessCount,
        Map<String, String> metadata,
        Instant validAt,
        Instant invalidAt,
        Instant expiredAt,
        String invalidatedBy,
        int summaryDepth,
        List<String> replaces) {

    public Memory {
        metadata = Map.copyOf(metadata);
        replaces = List.copyOf(replaces);
    }

    public Owner owner() {
        return new Owner(tenant, user);
    }

    /**
     * Whether this memory counts at {@code time}: we knew it then (created, not yet expired) and the
     * fact held then (valid_at, if set, not after; invalid_at, if set, after).
     */
    public boolean validAt(Instant time) {
        if (createdAt.isAfter(time)) return false;
        if (expiredAt != null && !expiredAt.isAfter(time)) return false;
        if (validAt != null && validAt.isAfter(time)) return false;
        return invalidAt == null || invalidAt.isAfter(time);
    }
}
