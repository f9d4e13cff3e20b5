package dev.kvasir.memory;

import dev.kvasir.memory.facts.ClaimReader;
import dev.kvasir.memory.facts.Fact;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A user's valid facts by key, taken when a chat request that asks for {@code verify} is planned, so
 * that checking the reply later is pure computation (it runs where the response is written and
 * never waits on the store).
 */
public final class FactSheet {
    private static final ClaimReader CLAIMS = new ClaimReader();
    private final Map<String, List<Memory>> byKey;

    FactSheet(Map<String, List<Memory>> byKey) {
        this.byKey = Map.copyOf(byKey);
    }

    /** The reply's claims about the user that contradict a valid fact or have none behind them. */
    public List<UnsupportedClaim> check(String reply) {
        List<UnsupportedClaim> out = new ArrayList<>();
        for (Fact claim : CLAIMS.claims(reply)) {
            List<Memory> held = byKey.getOrDefault(claim.key(), List.of());
            if (held.isEmpty()) {
                out.add(new UnsupportedClaim(claim.statement(), claim.key(), claim.value(), "no_support", List.of(), List.of()));
                continue;
            }
            String value = FactValues.normalize(claim.value());
            boolean supported = held.stream().map(m -> FactValues.normalize(m.factValue()))
                    .anyMatch(v -> v.equals(value) || (!value.isEmpty() && (v.contains(value) || value.contains(v))));
            if (!supported) {
                out.add(new UnsupportedClaim(claim.statement(), claim.key(), claim.value(), "contradicts",
                        held.stream().map(Memory::factValue).toList(), held.stream().map(Memory::id).toList()));
            }
        }
        return out;
    }
}
