package dev.kvasir.memory.policy;

import dev.kvasir.memory.Tier;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The policies' decisions (policy only: the caller moves the memories). Given the active set, the
 * per-user budget and the core budget, which memories change tier: core over its budget is demoted
 * to recent (tiered policies), then while the active set is over the user budget memories go to the
 * archive, in the policy's order. Ties are broken by id, so the same state always gives the same moves.
 */
public final class Eviction {
    /** Unreinforced importance halves every week. */
    static final Duration HALF_LIFE = Duration.ofDays(7);
    /** Each read adds this much weight, up to {@link #MAX_REINFORCEMENT}. */
    static final double PER_USE = 0.05;
    static final double MAX_REINFORCEMENT = 0.3;

    public record Move(String id, Tier to) {}

    private Eviction() {}

    public static List<Move> plan(PolicyKind policy, List<ActiveMemory> active, int userBudget, int coreBudget, Instant now) {
        List<Move> moves = new ArrayList<>();
        List<ActiveMemory> recent = new ArrayList<>();
        List<ActiveMemory> core = new ArrayList<>();
        long total = 0;
        for (ActiveMemory m : active) {
            total += m.tokens();
            (policy.tiered() && m.tier() == Tier.CORE ? core : recent).add(m);
        }
        if (policy.tiered()) {
            long coreTokens = core.stream().mapToLong(ActiveMemory::tokens).sum();
            core.sort(order(policy, now));
            for (ActiveMemory m : core) {
                if (coreTokens <= coreBudget) break;
                moves.add(new Move(m.id(), Tier.RECENT));
                coreTokens -= m.tokens();
                recent.add(m);
            }
        }
        if (total <= userBudget) return moves;
        recent.sort(order(policy, now));
        for (ActiveMemory m : recent) {
            if (total <= userBudget) break;
            if (m.live()) continue;
            moves.removeIf(mv -> mv.id().equals(m.id()));
            moves.add(new Move(m.id(), Tier.ARCHIVE));
            total -= m.tokens();
        }
        return moves;
    }

    /** First to go first. */
    static Comparator<ActiveMemory> order(PolicyKind policy, Instant now) {
        Comparator<ActiveMemory> first = switch (policy) {
            case LRU -> Comparator.comparing(ActiveMemory::lastUsed);
            case TIERED -> Comparator.comparing(ActiveMemory::created);
            case IMPORTANCE, HYBRID -> Comparator.comparingDouble(m -> weight(m, now));
        };
        return first.thenComparing(ActiveMemory::id);
    }

    /** Importance faded by the time since the memory was last used, plus what reads reinforced. */
    static double weight(ActiveMemory m, Instant now) {
        double idleDays = Math.max(0, Duration.between(m.lastUsed(), now).toMillis() / 86_400_000.0);
        double fade = Math.pow(0.5, idleDays / (HALF_LIFE.toMillis() / 86_400_000.0));
        return m.importance() * fade + Math.min(MAX_REINFORCEMENT, PER_USE * m.uses());
    }
}
