package dev.kvasir.memory.store;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real PostgreSQL server for tests: Debian's PostgreSQL binaries ({@code initdb}, {@code pg_ctl}
 * of version 15 here; {@code scripts/test} installs the package when they are missing), a fresh cluster in a
 * temporary folder, listening on a free loopback port only, trust authentication. initdb refuses
 * to run as root, so under root every command runs as the {@code postgres} user (runuser) in a
 * folder it owns. One server per JVM ({@link #shared()}), stopped by its PID when the JVM exits
 * (shutdown hook) or on {@link #stop()}; each test takes its own database ({@link #newDatabase()}).
 * Published in the test-jar, so server tests can start the same.
 */
public final class PostgresTestServer {
    private static final Path BIN = binaries();
    private static PostgresTestServer shared;

    private final Path dir;
    private final int port;
    private final AtomicInteger databases = new AtomicInteger();
    private long pid;

    private PostgresTestServer(Path dir, int port) {
        this.dir = dir;
        this.port = port;
    }

    /** The JVM's server, started on first use. Fails (never skips) when PostgreSQL is not installed. */
    public static synchronized PostgresTestServer shared() {
        if (shared == null) {
            shared = start();
            PostgresTestServer s = shared;
            Runtime.getRuntime().addShutdownHook(new Thread(s::stop, "stop-test-postgres"));
        }
        return shared;
    }

    /** $KVASIR_PG_BIN, else the newest of Debian's /usr/lib/postgresql/VERSION/bin (15 on bookworm). */
    private static Path binaries() {
        String env = System.getenv("KVASIR_PG_BIN");
        if (env != null) return Path.of(env);
        Path base = Path.of("/usr/lib/postgresql");
        try (var versions = Files.list(base)) {
            return versions.filter(v -> Files.isExecutable(v.resolve("bin/initdb")))
                    .max(java.util.Comparator.comparingInt(v -> v.getFileName().toString().matches("\\d+")
                            ? Integer.parseInt(v.getFileName().toString()) : -1))
                    .map(v -> v.resolve("bin")).orElse(base.resolve("15/bin"));
        } catch (IOException e) {
            return base.resolve("15/bin");
        }
    }

    public static PostgresTestServer start() {
        if (!Files.isExecutable(BIN.resolve("initdb"))) {
            throw new IllegalStateException("PostgreSQL is not installed: no " + BIN.resolve("initdb")
                    + " (apt-get install postgresql; scripts/test does this)");
        }
        try {
            Path dir = Files.createTempDirectory("kvasir-pg-");
            boolean root = isRoot();
            if (root) run(List.of("chown", "postgres:postgres", dir.toString()), false);
            Path data = dir.resolve("data");
            run(List.of(BIN.resolve("initdb").toString(), "-D", data.toString(), "-U", "postgres", "--auth=trust",
                    "--encoding=UTF8", "--locale=C", "--no-sync"), root);
            int port = freePort();
            PostgresTestServer server = new PostgresTestServer(dir, port);
            // fsync off: these tests prove SQL behaviour, not PostgreSQL's own durability.
            run(List.of(BIN.resolve("pg_ctl").toString(), "-D", data.toString(), "-l", dir.resolve("server.log").toString(),
                    "-w", "-t", "60", "-o", "-p " + port + " -k " + dir + " -c listen_addresses=127.0.0.1 -c fsync=off"
                            + " -c max_connections=200", "start"), root);
            server.pid = Long.parseLong(Files.readAllLines(data.resolve("postmaster.pid")).get(0).trim());
            return server;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public int port() {
        return port;
    }

    public long pid() {
        return pid;
    }

    /** A new empty database; the {@code --memory-store} spec that names it. */
    public String newDatabase() {
        String name = "kvasir_test_" + databases.incrementAndGet();
        try (Connection c = DriverManager.getConnection(jdbcUrl("postgres")); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        } catch (SQLException e) {
            throw new IllegalStateException("creating test database " + name + " failed: " + e.getMessage(), e);
        }
        return "postgresql://127.0.0.1:" + port + "/" + name + "?user=postgres";
    }

    public String jdbcUrl(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database + "?user=postgres";
    }

    /** Fast shutdown by PID (SIGINT: roll back open transactions, then exit), then removes the folder. */
    public synchronized void stop() {
        if (pid == 0) return;
        try {
            new ProcessBuilder("kill", "-INT", Long.toString(pid)).inheritIO().start().waitFor();
            ProcessHandle.of(pid).ifPresent(h -> {
                try {
                    h.onExit().get(30, TimeUnit.SECONDS);
                } catch (Exception e) {
                    h.destroyForcibly();
                }
            });
            new ProcessBuilder("rm", "-rf", dir.toString()).inheritIO().start().waitFor();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            pid = 0;
        }
    }

    private static boolean isRoot() throws IOException {
        try {
            Process p = new ProcessBuilder("id", "-u").start();
            String uid = new String(p.getInputStream().readAllBytes()).trim();
            p.waitFor();
            return uid.equals("0");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    private static void run(List<String> command, boolean asPostgres) throws IOException {
        List<String> full = new ArrayList<>();
        if (asPostgres) full.addAll(List.of("runuser", "-u", "postgres", "--"));
        full.addAll(command);
        Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        try {
            if (p.waitFor() != 0) throw new IOException(String.join(" ", full) + " failed:\n" + output);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
