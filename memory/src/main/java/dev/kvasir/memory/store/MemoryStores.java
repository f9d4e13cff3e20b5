package dev.kvasir.memory.store;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Opens the store named by {@code --memory-store}: {@code sqlite:PATH} ({@code ~} expands to the
 * home folder), {@code postgresql://HOST:PORT/DB?user=...[&password=...]}, or {@code none} (memory
 * off: empty).
 */
public final class MemoryStores {
    public static final String DEFAULT_SPEC = "sqlite:~/.kvasir/memory.db";
    private static final int POSTGRES_POOL_SIZE = 8;

    private MemoryStores() {}

    public static Optional<MemoryStore> open(String spec) {
        if (spec == null || spec.isBlank()) throw new IllegalArgumentException("--memory-store is empty");
        if (spec.equals("none")) return Optional.empty();
        if (spec.startsWith("sqlite:")) return Optional.of(SqliteMemoryStore.open(sqlitePath(spec)));
        if (spec.startsWith("postgresql://")) return Optional.of(PostgresMemoryStore.open("jdbc:" + spec, POSTGRES_POOL_SIZE));
        throw new IllegalArgumentException("--memory-store '" + PostgresMemoryStore.redact(spec)
                + "' is not sqlite:PATH, postgresql://HOST:PORT/DB?user=... or none");
    }

    static Path sqlitePath(String spec) {
        String path = spec.substring("sqlite:".length());
        if (path.isEmpty()) throw new IllegalArgumentException("--memory-store sqlite: needs a file path (sqlite:PATH)");
        if (path.equals("~") || path.startsWith("~/")) path = System.getProperty("user.home") + path.substring(1);
        return Path.of(path);
    }
}
