package dev.kvasir.memory;

import java.time.Instant;
import java.util.Map;

/**
 * What a caller supplies to add a memory (the body of {@code POST /v1/memories}); null means the
 * default: scope user, importance 0.5, confidence 1, no correction, tier recent, no metadata, valid
 * from creation on. {@code turnId} and {@code sourceTime} fill the memory's source (session = sessionId).
 */
public record NewMemory(
        String content,
        Scope scope,
        String sessionId,
        String factKey,
        Double importance,
        Double confidence,
        Boolean correction,
        Tier tier,
        String turnId,
        Instant sourceTime,
        Map<String, String> metadata,
        Instant validAt) {

    /** A user-scoped memory with every default. */
    public static NewMemory of(String content) {
        return new NewMemory(content, null, null, null, null, null, null, null, null, null, null, null);
    }

    public NewMemory withSession(Scope newScope, String newSessionId) {
        return new NewMemory(content, newScope, newSessionId, factKey, importance, confidence, correction, tier,
                turnId, sourceTime, metadata, validAt);
    }

    public NewMemory withMetadata(Map<String, String> newMetadata) {
        return new NewMemory(content, scope, sessionId, factKey, importance, confidence, correction, tier,
                turnId, sourceTime, newMetadata, validAt);
    }

    public NewMemory withImportance(double newImportance) {
        return new NewMemory(content, scope, sessionId, factKey, newImportance, confidence, correction, tier,
                turnId, sourceTime, metadata, validAt);
    }
}
