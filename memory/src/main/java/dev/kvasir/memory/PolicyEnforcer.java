package dev.kvasir.memory;

import dev.kvasir.memory.policy.ActiveMemory;
import dev.kvasir.memory.policy.Eviction;
import dev.kvasir.memory.store.MemoryStore;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Applies {@code --memory-policy} to one user after a write: reads the active set from the store
 * (with every read noted so far written first, so the order of reads is what counts and not the
 * flush timer), weighs it in tokens, and moves what the policy chose. The live session's turns and
 * summaries are the conversation's context and never evicted (summaries compact them).
 */
final class PolicyEnforcer {
    private final MemoryStore store;
    private final AccessLog accessLog;
    private final MemoryFeatures features;
    private final TokenCache tokens;

    PolicyEnforcer(MemoryStore store, AccessLog accessLog, MemoryFeatures features, TokenCache tokens) {
        this.store = store;
        this.accessLog = accessLog;
        this.features = features;
        this.tokens = tokens;
    }

    /** Returns how many memories moved. */
    int enforce(Owner owner, String liveSession, Instant now) {
        accessLog.flush(store);
        List<ActiveMemory> active = new ArrayList<>();
        for (Memory m : store.active(owner, now)) {
            Instant used = m.lastAccessedAt() != null && m.lastAccessedAt().isAfter(m.createdAt()) ? m.lastAccessedAt() : m.createdAt();
            boolean live = liveSession != null && liveSession.equals(m.sessionId()) && SessionCompactor.isHistory(m);
            active.add(new ActiveMemory(m.id(), m.tier(), tokens.count(m.content()), m.importance(), m.createdAt(), used,
                    m.accessCount(), live));
        }
        // The core budget covers the rendered block: its header and each line's quoting come off first.
        int coreRoom = features.coreBudgetTokens() - tokens.count(MemoryPromptRenderer.CORE_HEADER) - 3 * (int) active.stream()
                .filter(a -> a.tier() == Tier.CORE).count();
        List<Eviction.Move> moves = Eviction.plan(features.policy(), active, features.userBudgetTokens(), Math.max(0, coreRoom), now);
        Map<Tier, List<String>> byTier = new LinkedHashMap<>();
        for (Eviction.Move mv : moves) byTier.computeIfAbsent(mv.to(), t -> new ArrayList<>()).add(mv.id());
        int moved = 0;
        for (Map.Entry<Tier, List<String>> e : byTier.entrySet()) {
            moved += store.moveTier(owner, e.getValue(), e.getKey(), "policy:" + features.policy().apiName());
        }
        return moved;
    }
}
