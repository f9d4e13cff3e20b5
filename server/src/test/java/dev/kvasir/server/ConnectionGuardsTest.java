package dev.kvasir.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Slow or idle connections are closed at the header timeout; connections past --max-connections
 * are told 503 in OpenAI's shape and closed; a slow body after complete headers is not cut off.
 */
class ConnectionGuardsTest {

    private static Socket connect(int port) throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        s.setSoTimeout(10_000);
        return s;
    }

    /** Milliseconds until the server closes {@code s} (reads discarded), or -1 if it stays open 10 s. */
    private static long millisUntilClosed(Socket s, long startNanos) throws IOException {
        InputStream in = s.getInputStream();
        try {
            while (in.read() >= 0) {
                // a response to a complete request would be read here; slow clients get none
            }
        } catch (SocketTimeoutException e) {
            return -1;
        } catch (IOException e) {
            // reset: closed as well
        }
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
    }

    @Test
    void slowlorisConnectionsAreClosedAtTheHeaderTimeout() throws Exception {
        ServerConfig config = TestServers.config().withListener(ListenerConfig.DEFAULTS.withHeaderTimeout(1));
        int clients = 500;
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        try (KvasirServer server = TestServers.start(config)) {
            long start = System.nanoTime();
            List<Future<Long>> closed = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                int kind = i % 3;
                closed.add(pool.submit(() -> {
                    try (Socket s = connect(server.port())) {
                        OutputStream out = s.getOutputStream();
                        if (kind == 0) return millisUntilClosed(s, start);            // connects, says nothing
                        out.write("POST /v1/completions HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                        if (kind == 1) return millisUntilClosed(s, start);            // half a request head
                        // Trickles a header byte every 100 ms: each byte arrives, the head never completes.
                        Thread trickle = Thread.ofVirtual().start(() -> {
                            try {
                                for (int b = 0; b < 100; b++) {
                                    Thread.sleep(100);
                                    out.write('X');
                                    out.flush();
                                }
                            } catch (IOException | InterruptedException e) {
                                // closed by the server: what the test wants
                            }
                        });
                        long ms = millisUntilClosed(s, start);
                        trickle.interrupt();
                        return ms;
                    }
                }));
            }
            // Meanwhile an ordinary request is served.
            assertEquals(200, Http.get(server, "/health", null).statusCode());
            for (Future<Long> f : closed) {
                long ms = f.get(20, TimeUnit.SECONDS);
                assertTrue(ms >= 900 && ms < 5_000, "closed after " + ms + " ms (-1: still open after 10 s)");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aSlowBodyAfterCompleteHeadersAndAnIdleKeptAliveConnection() throws Exception {
        ServerConfig config = TestServers.config().withListener(ListenerConfig.DEFAULTS.withHeaderTimeout(0.5));
        try (KvasirServer server = TestServers.start(config); Socket s = connect(server.port())) {
            byte[] body = "{\"prompt\":\"Once upon a time\",\"max_tokens\":3}".getBytes(StandardCharsets.US_ASCII);
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            // The body takes 1.5 s, three times the header timeout: headers were complete, so it is served.
            for (int i = 0; i < body.length; i += 16) {
                Thread.sleep(1500L * 16 / body.length);
                out.write(body, i, Math.min(16, body.length - i));
                out.flush();
            }
            long responded = System.nanoTime();
            String head = readHead(s.getInputStream());
            assertTrue(head.startsWith("HTTP/1.1 200"), head);
            // Kept alive, then idle: closed half a second after the response.
            long ms = millisUntilClosed(s, responded);
            assertTrue(ms >= 400 && ms < 3_000, "idle kept-alive connection closed after " + ms + " ms");
        }
    }

    private static String readHead(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int c = in.read();
            if (c < 0) break;
            head.append((char) c);
        }
        return head.toString();
    }

    @Test
    void connectionsPastTheLimitGet503ThenTheLimitFreesUp() throws Exception {
        ServerConfig config = TestServers.config().withListener(ListenerConfig.DEFAULTS.withMaxConnections(3));
        try (KvasirServer server = TestServers.start(config)) {
            // Three kept-alive connections, each answered once: the server has surely counted them.
            List<Socket> held = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Socket s = connect(server.port());
                s.getOutputStream().write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                assertTrue(readHead(s.getInputStream()).startsWith("HTTP/1.1 200"));
                held.add(s);
            }
            TestServers.Raw refused = TestServers.get(server.port(), "/v1/models");
            assertEquals(503, refused.status(), refused.headers());
            assertTrue(refused.headers().toLowerCase().contains("retry-after: 1"), refused.headers());
            JsonNode error = Http.json(refused.body()).path("error");
            assertEquals("server_overloaded", error.path("type").asText());
            assertTrue(error.path("message").asText().contains("--max-connections"), error.toString());
            held.removeFirst().close();
            // The server sees the close a moment later; then a new connection is served.
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            int status = 0;
            while (System.nanoTime() < until && (status = TestServers.get(server.port(), "/v1/models").status()) != 200) {
                Thread.sleep(20);
            }
            assertEquals(200, status);
            for (Socket s : held) s.close();
        }
    }
}
