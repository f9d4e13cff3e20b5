package dev.kvasir.memory;

import java.util.Locale;

/** Where a memory lives for prompt assembly: core (always in context), recent (by relevance), archive (on demand). */
public enum Tier {
    CORE, RECENT, ARCHIVE;

    /** The API spelling: {@code core}, {@code recent}, {@code archive}. */
    public String apiName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses the API spelling; anything else is refused naming {@code param}. */
    public static Tier parse(String value, String param) {
        for (Tier t : values()) {
            if (t.apiName().equals(value)) return t;
        }
        throw new MemoryInputException(param, "unknown " + param + " '" + value + "' (expected core, recent or archive)");
    }
}
