package dev.kvasir.memory.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvasir.memory.Owner;
import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A search's catch-up read must not queue behind a write's disk sync: with one shared connection
 * every search waited for the access log's batch, and the bench's p99 carried 70-90 ms stalls.
 */
class SqliteReadersTest {
    @TempDir
    Path dir;

    @org.junit.jupiter.api.RepeatedTest(3)
    void readsRunWhileAWriteIsOpenAndSeeOnlyWhatCommitted() throws Exception {
        Owner owner = new Owner("t", "u");
        // Own threads: the common pool has one thread on two cores, and the write holds it.
        try (ExecutorService threads = Executors.newFixedThreadPool(2);
                SqliteMemoryStore store = SqliteMemoryStore.open(dir.resolve("memory.db"))) {
            setHead(store, owner, 1, 5);
            CountDownLatch inside = new CountDownLatch(1);
            CountDownLatch finish = new CountDownLatch(1);
            CompletableFuture<Void> writing = CompletableFuture.runAsync(() -> store.write(c -> {
                try (PreparedStatement s = c.prepareStatement("UPDATE memory_users SET head = 9 WHERE tenant = ? AND user_id = ?")) {
                    s.setString(1, owner.tenant());
                    s.setString(2, owner.user());
                    s.executeUpdate();
                }
                inside.countDown();
                try {
                    assertTrue(finish.await(30, TimeUnit.SECONDS), "the test never let the write finish");
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                return null;
            }), threads);
            assertTrue(inside.await(10, TimeUnit.SECONDS), "the write never started");
            long[] during = CompletableFuture.supplyAsync(() -> store.head(owner), threads).get(5, TimeUnit.SECONDS);
            assertArrayEquals(new long[] {1, 5}, during, "a reader sees the last commit, not the open write");
            finish.countDown();
            writing.get(10, TimeUnit.SECONDS);
            assertArrayEquals(new long[] {1, 9}, store.head(owner), "and the write once it committed");
        }
    }

    private static void setHead(SqliteMemoryStore store, Owner owner, long generation, long head) {
        store.write(c -> {
            try (PreparedStatement s = c.prepareStatement("INSERT INTO memory_users (tenant, user_id, generation, head) VALUES (?, ?, ?, ?)")) {
                s.setString(1, owner.tenant());
                s.setString(2, owner.user());
                s.setLong(3, generation);
                s.setLong(4, head);
                s.executeUpdate();
            }
            return null;
        });
    }
}
