package dev.kvasir.memory;

import java.util.Locale;

/** Fact values compared as people mean them: case, articles, punctuation and spacing do not count. */
final class FactValues {
    private FactValues() {}

    static String normalize(String value) {
        String v = value.toLowerCase(Locale.ROOT).replaceAll("[^\\p{L}\\p{N}@./+-]+", " ").strip();
        v = v.replaceAll("^(?:a|an|the)\\s+", "").replaceAll("[.]+$", "");
        return v.replaceAll("\\s+", " ");
    }

    static boolean same(Memory a, Memory b) {
        return normalize(a.factValue()).equals(normalize(b.factValue()));
    }
}
