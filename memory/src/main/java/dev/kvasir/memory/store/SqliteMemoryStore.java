package dev.kvasir.memory.store;

import dev.kvasir.memory.MemoryStoreException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.locks.ReentrantLock;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteDataSource;

/**
 * The embedded store: one SQLite file in WAL mode with synchronous=FULL, so a write has reached the
 * disk (WAL fsynced) before the call returns and survives kill -9 or power loss. SQLite has one
 * writer at a time anyway, so the process uses one connection, handed out under a lock; write
 * transactions begin IMMEDIATE so two processes on one file wait (busy timeout) instead of failing
 * on a lock upgrade.
 */
public final class SqliteMemoryStore extends JdbcMemoryStore {
    private final Connection connection;
    private final ReentrantLock lock = new ReentrantLock();

    private SqliteMemoryStore(Connection connection) {
        this.connection = connection;
    }

    public static SqliteMemoryStore open(Path file) {
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
        } catch (IOException e) {
            throw new MemoryStoreException("cannot create the folder of memory store " + file + ": " + e.getMessage(), e);
        }
        SQLiteConfig config = new SQLiteConfig();
        config.setJournalMode(SQLiteConfig.JournalMode.WAL);
        config.setSynchronous(SQLiteConfig.SynchronousMode.FULL);
        config.setBusyTimeout(10_000);
        config.setTransactionMode(SQLiteConfig.TransactionMode.IMMEDIATE);
        SQLiteDataSource dataSource = new SQLiteDataSource(config);
        dataSource.setUrl("jdbc:sqlite:" + file.toAbsolutePath());
        try {
            Migrations.migrate(dataSource, "sqlite");
            return new SqliteMemoryStore(dataSource.getConnection());
        } catch (SQLException | RuntimeException e) {
            throw new MemoryStoreException("cannot open memory store " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    protected Connection acquire() {
        lock.lock();
        return connection;
    }

    @Override
    protected void release(Connection c) {
        lock.unlock();
    }

    @Override
    public void close() {
        lock.lock();
        try {
            connection.close();
        } catch (SQLException e) {
            throw new MemoryStoreException("closing the memory store failed: " + e.getMessage(), e);
        } finally {
            lock.unlock();
        }
    }
}
