package dev.kvasir.memory.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.kvasir.memory.MemoryStoreException;
import java.sql.Connection;
import java.sql.SQLException;

/**
 * The shared store for replicas: PostgreSQL through a HikariCP pool. Connections run in autocommit
 * except inside a write, which commits before returning; the owner row's lock (taken by the head
 * bump) orders concurrent writers of one user across processes.
 */
public final class PostgresMemoryStore extends JdbcMemoryStore {
    private final HikariDataSource pool;

    private PostgresMemoryStore(HikariDataSource pool) {
        this.pool = pool;
    }

    /** {@code jdbcUrl}: {@code jdbc:postgresql://HOST:PORT/DB?user=...&password=...}. */
    public static PostgresMemoryStore open(String jdbcUrl, int poolSize) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(jdbcUrl);
        config.setMaximumPoolSize(poolSize);
        config.setMinimumIdle(1);
        config.setPoolName("kvasir-memory");
        config.setConnectionTimeout(10_000);
        HikariDataSource pool;
        try {
            pool = new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw new MemoryStoreException("cannot connect to memory store " + redact(jdbcUrl) + ": " + e.getMessage(), e);
        }
        try {
            Migrations.migrate(pool, "postgresql");
            return new PostgresMemoryStore(pool);
        } catch (RuntimeException e) {
            pool.close();
            throw new MemoryStoreException("cannot migrate memory store " + redact(jdbcUrl) + ": " + e.getMessage(), e);
        }
    }

    /** The URL without its password, for messages. */
    static String redact(String url) {
        return url.replaceAll("(?i)(password=)[^&]*", "$1***");
    }

    @Override
    protected Connection acquire() throws SQLException {
        return pool.getConnection();
    }

    @Override
    protected void release(Connection c) {
        try {
            c.close();
        } catch (SQLException e) {
            throw new MemoryStoreException("returning a connection failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        pool.close();
    }
}
