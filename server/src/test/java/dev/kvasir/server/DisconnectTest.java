package dev.kvasir.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * 200 streaming clients that hang up at random points (before the first byte, mid-stream, or
 * right after sending): every generation is aborted, every block returns to the pool, and
 * {@code /metrics} shows nothing running.
 */
class DisconnectTest {

    @RegisterExtension
    static final RunningServer server = new RunningServer(TestServers.config());

    @Test
    void droppedStreamsFreeEveryBlock() throws Exception {
        Random random = new Random(2024);
        ExecutorService clients = Executors.newFixedThreadPool(32);
        List<Future<?>> done = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            int bytesBeforeHangUp = random.nextInt(4) == 0 ? 0 : random.nextInt(3000);
            String body = "{\"model\":\"stories260K\",\"stream\":true,\"max_tokens\":400,\"temperature\":1.0,"
                    + "\"messages\":[{\"role\":\"user\",\"content\":\"Story number " + i + " about a cat\"}]}";
            done.add(clients.submit(() -> {
                dropAfter(body, bytesBeforeHangUp);
                return null;
            }));
        }
        for (Future<?> f : done) f.get(60, TimeUnit.SECONDS);
        clients.shutdown();

        assertEquals(0, TestServers.usedBlocksWhenIdle(server.get()), "blocks still held after all clients left");
        String metrics = TestServers.get(server.port(), "/metrics").body();
        assertEquals(0.0, metric(metrics, "vllm:num_requests_running"), metrics);
        assertEquals(0.0, metric(metrics, "vllm:num_requests_waiting"));
        assertEquals(0.0, metric(metrics, "kvasir:kv_blocks_used"));
        assertEquals(0.0, metric(metrics, "vllm:kv_cache_usage_perc"));
        assertTrue(metric(metrics, "kvasir:requests_aborted_total") > 100, "most streams were cut mid-generation");
        // The server still serves.
        assertEquals(200, TestServers.post(server.port(), "/v1/completions",
                "{\"prompt\":\"Hi\",\"max_tokens\":3}".getBytes(StandardCharsets.UTF_8)).status());
    }

    private static void dropAfter(String body, int bytes) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", server.port()), 5000);
            s.setSoTimeout(20_000);
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + b.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(b);
            out.flush();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[512];
            int read = 0;
            while (read < bytes) {
                int r = in.read(buf, 0, Math.min(buf.length, bytes - read));
                if (r < 0) break;
                read += r;
            }
            // Hang up hard (RST), as a killed client would.
            s.setSoLinger(true, 0);
        }
    }

    static double metric(String text, String name) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "(\\{[^}]*\\})? ([0-9.eE+-]+)$").matcher(text);
        assertTrue(m.find(), name + " missing from /metrics:\n" + text);
        return Double.parseDouble(m.group(2));
    }
}
