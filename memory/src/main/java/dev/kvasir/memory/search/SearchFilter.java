package dev.kvasir.memory.search;

import dev.kvasir.memory.Memory;
import dev.kvasir.memory.Scope;
import dev.kvasir.memory.Tier;
import java.time.Instant;
import java.util.Set;

/**
 * Which of a user's memories a search may return. Session-scoped memories only when the search
 * names their session; {@code tiers} null = any tier; valid at {@code at} (now, or the request's
 * as_of) unless {@code includeInvalid}; {@code excludeTurnsOf}: a session whose recorded chat turns
 * are left out (they are in the prompt's history already).
 */
public record SearchFilter(String sessionId, Set<Tier> tiers, Instant at, boolean includeInvalid, String excludeTurnsOf) {

    /** Metadata a recorded chat turn carries: kind=turn, role=user|assistant. */
    public static final String KIND = "kind";
    public static final String TURN = "turn";
    public static final String ROLE = "role";

    public boolean accepts(Memory m) {
        if (m.scope() == Scope.SESSION && (sessionId == null || !sessionId.equals(m.sessionId()))) return false;
        if (tiers != null && !tiers.contains(m.tier())) return false;
        if (!includeInvalid && !m.validAt(at)) return false;
        return excludeTurnsOf == null || !excludeTurnsOf.equals(m.sessionId()) || !TURN.equals(m.metadata().get(KIND));
    }
}
