package dev.kvasir.memory.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MemoryStoresTest {
    @TempDir
    Path dir;

    @Test
    void specsOpenTheNamedStore() {
        assertTrue(MemoryStores.open("none").isEmpty());
        Path file = dir.resolve("sub/folder/memory.db");
        try (MemoryStore store = MemoryStores.open("sqlite:" + file).orElseThrow()) {
            assertTrue(store instanceof SqliteMemoryStore);
        }
        assertTrue(Files.exists(file), "the folder is created and the schema migrated");
        try (MemoryStore store = MemoryStores.open(PostgresTestServer.shared().newDatabase()).orElseThrow()) {
            assertTrue(store instanceof PostgresMemoryStore);
        }
        assertEquals(Path.of(System.getProperty("user.home"), ".kvasir/memory.db"), MemoryStores.sqlitePath(MemoryStores.DEFAULT_SPEC));
    }

    @Test
    void badSpecsAreRefusedNamingTheFlagWithoutThePassword() {
        for (String bad : new String[] {"", "sqlite:", "mysql://h/db", "postgres://h/db?user=u&password=hunter2"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MemoryStores.open(bad), bad);
            assertTrue(e.getMessage().contains("--memory-store"), e.getMessage());
            assertFalse(e.getMessage().contains("hunter2"), e.getMessage());
        }
    }
}
