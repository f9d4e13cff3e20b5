package dev.kvasir.memory.store;

import dev.kvasir.memory.MemoryStoreException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.locks.ReentrantLock;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteDataSource;

/**
 * The embedded store: one SQLite file in WAL mode with synchronous=FULL, so a write has reached the
 * disk (WAL fsynced) before the call returns and survives kill -9 or power loss. SQLite has one
 * writer at a time anyway, so writes share one connection, handed out under a lock; write
 * transactions begin IMMEDIATE so two processes on one file wait (busy timeout) instead of failing
 * on a lock upgrade.
 *
 * <p>Reads take one of a few separate connections: in WAL mode a reader sees the last commit and
 * never waits for a writer, so a search's catch-up read does not queue behind a write's disk sync
 * (the access log's batch, a chat turn being recorded). Sharing the writer's connection put 70-90
 * ms sync stalls into the p99 of {@code scripts/bench memory-search}. A read after a write returns
 * sees it: the write committed before its call returned.
 */
public final class SqliteMemoryStore extends JdbcMemoryStore {
    /** Concurrent readers; a search holds one for one short statement or two. */
    private static final int READERS = Math.max(2, Runtime.getRuntime().availableProcessors());

    private final Connection writer;
    private final ReentrantLock lock = new ReentrantLock();
    private final BlockingQueue<Connection> readers;
    private final List<Connection> allReaders;

    private SqliteMemoryStore(Connection writer, List<Connection> readers) {
        this.writer = writer;
        this.allReaders = readers;
        this.readers = new ArrayBlockingQueue<>(readers.size(), false, readers);
    }

    public static SqliteMemoryStore open(Path file) {
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
        } catch (IOException e) {
            throw new MemoryStoreException("cannot create the folder of memory store " + file + ": " + e.getMessage(), e);
        }
        String url = "jdbc:sqlite:" + file.toAbsolutePath();
        SQLiteConfig config = new SQLiteConfig();
        config.setJournalMode(SQLiteConfig.JournalMode.WAL);
        config.setSynchronous(SQLiteConfig.SynchronousMode.FULL);
        config.setBusyTimeout(10_000);
        config.setTransactionMode(SQLiteConfig.TransactionMode.IMMEDIATE);
        SQLiteDataSource dataSource = new SQLiteDataSource(config);
        dataSource.setUrl(url);
        // Readers never begin a write transaction: deferred, so nothing they do takes the write lock.
        SQLiteConfig readConfig = new SQLiteConfig();
        readConfig.setJournalMode(SQLiteConfig.JournalMode.WAL);
        readConfig.setBusyTimeout(10_000);
        readConfig.setTransactionMode(SQLiteConfig.TransactionMode.DEFERRED);
        SQLiteDataSource readSource = new SQLiteDataSource(readConfig);
        readSource.setUrl(url);
        List<Connection> opened = new ArrayList<>();
        try {
            Migrations.migrate(dataSource, "sqlite");
            Connection writer = dataSource.getConnection();
            opened.add(writer);
            List<Connection> readers = new ArrayList<>();
            for (int i = 0; i < READERS; i++) {
                Connection r = readSource.getConnection();
                opened.add(r);
                readers.add(r);
            }
            return new SqliteMemoryStore(writer, readers);
        } catch (SQLException | RuntimeException e) {
            for (Connection c : opened) closeQuietly(c);
            throw new MemoryStoreException("cannot open memory store " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    protected Connection acquire() {
        lock.lock();
        return writer;
    }

    @Override
    protected void release(Connection c) {
        lock.unlock();
    }

    @Override
    protected Connection acquireForRead() {
        try {
            return readers.take();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MemoryStoreException("interrupted while waiting for a memory store reader", e);
        }
    }

    @Override
    protected void releaseRead(Connection c) {
        readers.add(c);
    }

    @Override
    public void close() {
        lock.lock();
        try {
            for (Connection r : allReaders) closeQuietly(r);
            writer.close();
        } catch (SQLException e) {
            throw new MemoryStoreException("closing the memory store failed: " + e.getMessage(), e);
        } finally {
            lock.unlock();
        }
    }

    private static void closeQuietly(Connection c) {
        try {
            c.close();
        } catch (SQLException ignored) {
            // closing on the way out of a failure or a close: the first error is the one to report
        }
    }
}
