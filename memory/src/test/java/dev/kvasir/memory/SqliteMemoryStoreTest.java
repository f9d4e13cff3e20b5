package dev.kvasir.memory;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.io.TempDir;

/** The store contract on an SQLite file. */
class SqliteMemoryStoreTest extends MemoryStoreContract {
    private static final AtomicInteger FILES = new AtomicInteger();

    @TempDir
    Path dir;

    @Override
    protected String newStoreSpec() {
        return "sqlite:" + dir.resolve("memory-" + FILES.incrementAndGet() + ".db");
    }
}
