package dev.kvasir.memory;

import java.util.List;

/**
 * A claim about the user in the model's reply that the stored facts do not back: {@code reason}
 * {@code "contradicts"} (a valid fact of the key holds another value: {@code stored}, from
 * {@code memoryIds}) or {@code "no_support"} (no valid fact of the key).
 */
public record UnsupportedClaim(String claim, String factKey, String value, String reason, List<String> stored, List<String> memoryIds) {
    public UnsupportedClaim {
        stored = List.copyOf(stored);
        memoryIds = List.copyOf(memoryIds);
    }
}
