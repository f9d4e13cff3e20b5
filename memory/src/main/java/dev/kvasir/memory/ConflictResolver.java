package dev.kvasir.memory;

import dev.kvasir.memory.store.FactResolution;
import dev.kvasir.memory.store.StoredMemory;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Write-time resolution of a new fact against the valid memories holding its key. The same value
 * said again reinforces the holder instead of adding a copy. Otherwise one value wins: an explicit
 * user correction wins over what was known before it (a correction corrects the past, not later
 * statements); between the others, confidence × recency (a fact's weight halves every
 * {@code halfLife} it is older than the newest contender), the newer on a tie. Every loser is
 * retired, not deleted: {@code invalid_at} when the winner started to hold (or its own start, if it
 * is the newer one), {@code expired_at} now, {@code invalidated_by} the winner; so it leaves every
 * search but stays in the history and answers {@code as_of} queries. The turns a loser was read
 * from are retired with it, so its stale value is not found through them either. A new value that
 * wins takes over the reads (access count) of the values it retires: the policies weigh how often
 * a key is read, and a correction would otherwise start the user's most asked-for fact at zero.
 */
final class ConflictResolver {
    static final Duration HALF_LIFE = Duration.ofDays(30);

    /** What one resolution did: the outcome for the store, and how many facts it retired. */
    FactResolution.Outcome resolve(Memory incoming, float[] vector, List<Memory> holders, Instant time) {
        // A writer that waited for the lock may hold an older clock reading than what committed meanwhile.
        Instant now = time;
        for (Memory h : holders) if (h.createdAt().isAfter(now)) now = h.createdAt();
        for (Memory h : holders) {
            if (!FactValues.same(h, incoming)) continue;
            Memory again = h.reinforced(Math.min(1, Math.max(h.importance(), incoming.importance()) + 0.05),
                    Math.max(h.confidence(), incoming.confidence()), h.correction() || incoming.correction());
            List<FactResolution.Retirement> retire = new ArrayList<>();
            for (Memory other : holders) if (other != h) retireWithTurns(other, h, now, retire);
            return new FactResolution.Outcome(null, retire, List.of(again));
        }
        Memory winner = incoming;
        for (Memory h : holders) if (beats(h, winner)) winner = h;
        List<FactResolution.Retirement> retire = new ArrayList<>();
        for (Memory h : holders) if (h != winner) retireWithTurns(h, winner, now, retire);
        Memory stored = incoming;
        if (winner == incoming) {
            // The key's reads carry over to its new value: how often the user's locker code was asked
            // for says how much the current code is worth keeping, not how much the old string was.
            long reads = incoming.accessCount();
            for (Memory h : holders) reads += h.accessCount();
            stored = incoming.withAccessCount(reads);
        } else {
            stored = incoming.retired(endOf(incoming, winner), now, winner.id());
            for (String turn : sourceTurns(incoming)) retire.add(new FactResolution.Retirement(turn, stored.invalidAt(), now, winner.id()));
        }
        return new FactResolution.Outcome(new StoredMemory(stored, vector), retire, List.of());
    }

    /** How many of an outcome's retirements are facts (the rest are the turns they came from). */
    static long factsRetired(FactResolution.Outcome outcome, List<Memory> holders, Memory incoming) {
        long n = outcome.retire().stream().filter(r -> holders.stream().anyMatch(h -> h.id().equals(r.id()))).count();
        return n + (outcome.insert() != null && outcome.insert().memory().expiredAt() != null ? 1 : 0);
    }

    /** Whether {@code a} wins over {@code b}. */
    static boolean beats(Memory a, Memory b) {
        Memory newer = newer(a, b);
        Memory older = newer == a ? b : a;
        if (newer.correction()) return newer == a;
        double newerWeight = newer.confidence();
        double olderWeight = older.confidence() * Math.pow(0.5, (double) Duration.between(older.heldFrom(), newer.heldFrom()).toMillis()
                / HALF_LIFE.toMillis());
        if (newerWeight != olderWeight) return (newer == a) == (newerWeight > olderWeight);
        return newer == a;
    }

    private static Memory newer(Memory a, Memory b) {
        int c = a.heldFrom().compareTo(b.heldFrom());
        if (c == 0) c = a.createdAt().compareTo(b.createdAt());
        if (c == 0) c = a.id().compareTo(b.id());
        return c > 0 ? a : b;
    }

    /** When a loser stopped holding: when the winner started, unless the loser started later (then it never held). */
    private static Instant endOf(Memory loser, Memory winner) {
        return winner.heldFrom().isAfter(loser.heldFrom()) ? winner.heldFrom() : loser.heldFrom();
    }

    private static void retireWithTurns(Memory loser, Memory winner, Instant now, List<FactResolution.Retirement> out) {
        Instant end = endOf(loser, winner);
        out.add(new FactResolution.Retirement(loser.id(), end, now, winner.id()));
        for (String turn : sourceTurns(loser)) out.add(new FactResolution.Retirement(turn, end, now, winner.id()));
    }

    private static List<String> sourceTurns(Memory m) {
        String ids = m.metadata().get(Memory.SOURCE_MEMORIES);
        if (ids == null || ids.isBlank()) return List.of();
        List<String> out = new ArrayList<>();
        for (String id : ids.split(",")) if (id.matches("mem_[0-9a-f]{32}")) out.add(id);
        return out;
    }
}
