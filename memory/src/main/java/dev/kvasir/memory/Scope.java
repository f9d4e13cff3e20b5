package dev.kvasir.memory;

import java.util.Locale;

/** Who a memory is visible to: the user across sessions, or only the session that wrote it. */
public enum Scope {
    USER, SESSION;

    /** The API spelling: {@code user}, {@code session}. */
    public String apiName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses the API spelling; anything else is refused naming {@code param}. */
    public static Scope parse(String value, String param) {
        for (Scope s : values()) {
            if (s.apiName().equals(value)) return s;
        }
        throw new MemoryInputException(param, "unknown " + param + " '" + value + "' (expected user or session)");
    }
}
