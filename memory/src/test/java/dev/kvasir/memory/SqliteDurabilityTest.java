package dev.kvasir.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvasir.memory.store.MemoryStore;
import dev.kvasir.memory.store.SqliteMemoryStore;
import dev.kvasir.memory.store.StoredMemory;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A child JVM writes memories to an SQLite file and prints each id once the write returned; the
 * test kills it with SIGKILL in the middle of the stream and finds every acknowledged memory.
 */
class SqliteDurabilityTest {
    static final Owner OWNER = new Owner("acme", "writer");

    @TempDir
    Path dir;

    @Test
    void everyAcknowledgedWriteSurvivesKill9() throws Exception {
        Path db = dir.resolve("memory.db");
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Writer.class.getName(), db.toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        List<String> acked = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while (acked.size() < 60 && (line = out.readLine()) != null) acked.add(line);
            child.destroyForcibly(); // SIGKILL while it is still writing
        }
        assertEquals(137, child.waitFor(), "the writer was killed, not finished");
        assertEquals(60, acked.size());
        try (MemoryStore store = SqliteMemoryStore.open(db)) {
            for (String id : acked) assertTrue(store.get(OWNER, id).isPresent(), "acknowledged " + id + " is lost");
            int stored = store.list(OWNER, null, 100_000).size();
            assertTrue(stored >= acked.size(), stored + " rows for " + acked.size() + " acknowledgements");
        }
    }

    /** The child: writes forever, one memory a transaction, printing each id after its commit. */
    public static final class Writer {
        public static void main(String[] args) {
            Random random = new Random();
            try (MemoryStore store = SqliteMemoryStore.open(Path.of(args[0]))) {
                for (int i = 0; ; i++) {
                    Instant now = Instant.now().truncatedTo(ChronoUnit.MICROS);
                    Memory m = new Memory(MemoryIds.newId(now), OWNER.tenant(), OWNER.user(), Scope.USER, null, null,
                            "note " + i, 0.5, 1, false, Tier.RECENT, new Source(null, null, now), now, null, 0, Map.of(),
                            null, null, null, null, 0, List.of());
                    float[] v = new float[384];
                    v[random.nextInt(384)] = 1;
                    store.insert(OWNER, List.of(new StoredMemory(m, v)), "test");
                    System.out.println(m.id());
                    System.out.flush();
                }
            }
        }
    }
}
