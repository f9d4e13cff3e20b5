package dev.kvasir.server;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code kvasir serve} as a separate JVM on a free loopback port (the tests' class path, the
 * project's JVM flags), for what only a real process shows: a SIGKILL, a SIGTERM, two replicas.
 * Its output goes to a log file; stopped by PID.
 */
public final class ServerProcess implements AutoCloseable {

    private final Process process;
    private final int port;
    private final Path log;

    private ServerProcess(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    /**
     * Starts {@code serve --model stories260K --port P --threads 2 --warmup-steps 0} plus {@code args}
     * and waits until {@code /health} answers 200.
     */
    public static ServerProcess start(Path logDir, String... args) throws IOException, InterruptedException {
        return start(logDir, freePort(), args);
    }

    /** The same on {@code port}: a replica restarted where a router expects it. */
    public static ServerProcess start(Path logDir, int port, String... args) throws IOException, InterruptedException {
        return start(logDir, port, List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-XX:+UseParallelGC", "-Xmx1g"), args);
    }

    /**
     * The same with the JVM flags {@code scripts/kvasir} gives a server ({@code KVASIR_JVM_FLAGS} in
     * scripts/lib/env.sh, without the per-CPU vector flags and with no heap limit), for what depends
     * on them: the collector, how much memory the process keeps.
     */
    public static ServerProcess startWithLauncherFlags(Path logDir, String... args) throws IOException, InterruptedException {
        String env = java.nio.file.Files.readString(RepositoryFiles.resolve("scripts/lib/env.sh"));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^KVASIR_JVM_FLAGS=\"([^\"$]*)\"").matcher(env);
        if (!m.find()) throw new IllegalStateException("scripts/lib/env.sh sets no KVASIR_JVM_FLAGS");
        return start(logDir, freePort(), List.of(m.group(1).trim().split("\\s+")), args);
    }

    private static ServerProcess start(Path logDir, int port, List<String> jvmFlags, String... args)
            throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElseThrow();
        List<String> cmd = new ArrayList<>();
        cmd.add(java);
        cmd.addAll(jvmFlags);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"),
                "dev.kvasir.server.cli.KvasirCli", "serve", "--model", TestServers.model().toString(), "--port", String.valueOf(port),
                "--threads", "2", "--warmup-steps", "0"));
        cmd.addAll(List.of(args));
        Path log = logDir.resolve("server-" + port + "-" + System.nanoTime() + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        ServerProcess server = new ServerProcess(p, port, log);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        HttpClient http = HttpClient.newHttpClient();
        while (true) {
            if (!p.isAlive()) throw new IllegalStateException("the server exited with " + p.exitValue() + "; see " + log);
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/health"))
                        .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) return server;
            } catch (IOException e) {
                // not listening yet
            }
            if (System.nanoTime() > deadline) {
                server.kill();
                throw new IllegalStateException("the server did not answer /health within 120 s; see " + log);
            }
            Thread.sleep(100);
        }
    }

    /** A port free on loopback now. */
    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    public int port() {
        return port;
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + port;
    }

    public long pid() {
        return process.pid();
    }

    public Path log() {
        return log;
    }

    /** SIGKILL: no shutdown hook, no flush; returns once the process is gone. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** SIGTERM; returns the exit code once the process has exited (or -1 after {@code seconds}). */
    public int terminate(int seconds) throws InterruptedException {
        process.destroy();
        return process.waitFor(seconds, TimeUnit.SECONDS) ? process.exitValue() : -1;
    }

    public boolean alive() {
        return process.isAlive();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) kill();
    }
}
