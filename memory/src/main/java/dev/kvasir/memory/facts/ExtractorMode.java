package dev.kvasir.memory.facts;

import java.util.Locale;

/** {@code --memory-extractor}: the rules, the served model, or both (the rules win where both find a key). */
public enum ExtractorMode {
    RULES, MODEL, BOTH;

    public static ExtractorMode parse(String value) {
        for (ExtractorMode m : values()) if (m.name().toLowerCase(Locale.ROOT).equals(value)) return m;
        throw new IllegalArgumentException("--memory-extractor must be rules, model or both, got '" + value + "'");
    }
}
