package dev.kvasir.server;

import dev.kvasir.models.ModelLocator;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** The real server on stories260K, on a free loopback port, for the end-to-end tests. */
public final class TestServers {

    public static final String MODEL_NAME = "stories260K";

    private TestServers() {}

    public static Path model() {
        return ModelLocator.testModel("stories260K.gguf");
    }

    /**
     * Small pool (so pressure is reachable), two CPU workers (the CI machine has two cores), no
     * start-up warm-up (tests that count steps or blocks start from nothing).
     */
    public static ServerConfig config() {
        return config(model());
    }

    /** {@link #config()} serving another model file. */
    public static ServerConfig config(Path model) {
        return ServerConfig.defaults(model).withKv(512, 0, dev.kvasir.server.engine.EngineConfig.PreemptionMode.RECOMPUTE)
                .withThreads(2).withWarmupSteps(0).withMemoryStore("none");
    }

    public static KvasirServer start(ServerConfig config) {
        try {
            return KvasirServer.start(config);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /**
     * KV blocks still in use once the engine has nothing running (waits up to 20 s for in-flight
     * aborts to land), with the block manager's invariants checked on the engine thread.
     */
    public static int usedBlocksWhenIdle(KvasirServer server) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        int used;
        do {
            used = server.engine().probe(kv -> {
                kv.checkInvariants();
                return kv.numUsedBlocks();
            }).get(10, TimeUnit.SECONDS);
            if (used == 0 && server.engine().stats().running() == 0) return 0;
            Thread.sleep(50);
        } while (System.nanoTime() < deadline);
        return used;
    }

    /** A raw HTTP/1.1 exchange (one request, connection closed after): status line and body. */
    public record Raw(int status, String headers, String body) {}

    public static Raw raw(int port, byte[] request) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout((int) Duration.ofSeconds(30).toMillis());
            OutputStream out = s.getOutputStream();
            try {
                out.write(request);
                out.flush();
            } catch (IOException e) {
                // The server may answer (413) and close before reading a huge body; read what it said.
            }
            InputStream in = s.getInputStream();
            String response = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            int headerEnd = response.indexOf("\r\n\r\n");
            if (headerEnd < 0) return new Raw(-1, response, "");
            String head = response.substring(0, headerEnd);
            int status = Integer.parseInt(head.substring(9, 12));
            return new Raw(status, head, response.substring(headerEnd + 4));
        }
    }

    /** {@code POST path} with {@code body}, Connection: close. */
    public static Raw post(int port, String path, byte[] body) throws IOException {
        byte[] head = ("POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nConnection: close\r\n"
                + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        byte[] all = new byte[head.length + body.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(body, 0, all, head.length, body.length);
        return raw(port, all);
    }

    public static Raw get(int port, String path) throws IOException {
        return raw(port, ("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    }
}
