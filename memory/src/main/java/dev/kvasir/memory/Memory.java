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

    /** Metadata {@code kind}: a recorded chat turn, an extracted fact, a session summary, a core line. */
    public static final String KIND = "kind";
    public static final String TURN = "turn";
    public static final String FACT = "fact";
    public static final String SUMMARY = "summary";
    /** Metadata of a recorded turn: who said it, user or assistant. */
    public static final String ROLE = "role";
    /** Metadata of a fact: its value as the user wrote it, and the memories (its turns) it was read from. */
    public static final String VALUE = "value";
    public static final String SOURCE_MEMORIES = "source_memories";

    public String kind() {
        return metadata.get(KIND);
    }

    /** The value of a fact: its {@code value} metadata, or its whole text. */
    public String factValue() {
        String v = metadata.get(VALUE);
        return v != null ? v : content;
    }

    /** When the fact started to hold: valid_at, else when it was said, else when it was written. */
    public Instant heldFrom() {
        return validAt != null ? validAt : source.time() != null ? source.time() : createdAt;
    }

    public Memory withTier(Tier newTier) {
        return new Memory(id, tenant, user, scope, sessionId, factKey, content, importance, confidence, correction, newTier, source,
                createdAt, lastAccessedAt, accessCount, metadata, validAt, invalidAt, expiredAt, invalidatedBy, summaryDepth, replaces);
    }

    /** Retired: stopped holding at {@code newInvalidAt}, known since {@code newExpiredAt}, superseded by {@code by}. */
    public Memory retired(Instant newInvalidAt, Instant newExpiredAt, String by) {
        return new Memory(id, tenant, user, scope, sessionId, factKey, content, importance, confidence, correction, tier, source,
                createdAt, lastAccessedAt, accessCount, metadata, validAt, newInvalidAt, newExpiredAt, by, summaryDepth, replaces);
    }

    public Memory reinforced(double newImportance, double newConfidence, boolean newCorrection) {
        return new Memory(id, tenant, user, scope, sessionId, factKey, content, newImportance, newConfidence, newCorrection, tier, source,
                createdAt, lastAccessedAt, accessCount, metadata, validAt, invalidAt, expiredAt, invalidatedBy, summaryDepth, replaces);
    }

    /** The same memory with {@code count} reads to its name (a new value of a fact key takes over its key's reads). */
    public Memory withAccessCount(long count) {
        return new Memory(id, tenant, user, scope, sessionId, factKey, content, importance, confidence, correction, tier, source,
                createdAt, lastAccessedAt, count, metadata, validAt, invalidAt, expiredAt, invalidatedBy, summaryDepth, replaces);
    }

    /** This memory as a summary of depth {@code depth} standing for {@code replaced}. */
    public Memory asSummary(int depth, List<String> replaced) {
        return new Memory(id, tenant, user, scope, sessionId, factKey, content, importance, confidence, correction, tier, source,
                createdAt, lastAccessedAt, accessCount, metadata, validAt, invalidAt, expiredAt, invalidatedBy, depth, replaced);
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
