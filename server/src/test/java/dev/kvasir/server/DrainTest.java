package dev.kvasir.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kvasir.memory.Owner;
import dev.kvasir.memory.store.MemoryStore;
import dev.kvasir.memory.store.SqliteMemoryStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SIGTERM drains, as Kubernetes expects: {@code /health} turns 503 "draining" and new requests get
 * 503 at once, requests in progress finish (streams end with {@code [DONE]}), recorded memory is
 * flushed, and the process exits 0. Past {@code --shutdown-timeout} the requests still running end
 * with an error (a stream: an error event, then {@code [DONE]}), and the exit is still 0.
 */
class DrainTest {

    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    /** A streamed completion: its events' data lines; {@code started} counts down at the first one. */
    private static CompletableFuture<List<String>> stream(ServerProcess s, int maxTokens, CountDownLatch started) {
        return CompletableFuture.supplyAsync(() -> {
            String body = "{\"prompt\":\"Once upon a time\",\"max_tokens\":" + maxTokens + ",\"n\":2,\"ignore_eos\":true,"
                    + "\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
            List<String> data = new ArrayList<>();
            try {
                HttpResponse<java.io.InputStream> r = HTTP.send(HttpRequest.newBuilder(URI.create(s.baseUrl() + "/v1/completions"))
                        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                        HttpResponse.BodyHandlers.ofInputStream());
                try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = in.readLine()) != null) {
                        if (!line.startsWith("data: ")) continue;
                        data.add(line.substring(6));
                        started.countDown();
                    }
                }
            } catch (Exception e) {
                data.add("client error: " + e);
            }
            return data;
        });
    }

    private static HttpResponse<String> post(ServerProcess s, String path, String body) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(s.baseUrl() + path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> health(ServerProcess s) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(s.baseUrl() + "/health")).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void sigtermLetsRunningRequestsFinishFlushesMemoryAndExitsZero(@TempDir Path dir) throws Exception {
        Path db = dir.resolve("memory.db");
        ServerProcess server = ServerProcess.start(dir, "--memory-store", "sqlite:" + db, "--shutdown-timeout", "60",
                "--max-num-seqs", "16");
        try {
            // A chat that records its exchange, answered just before the signal: the write must reach the store.
            HttpResponse<String> chat = post(server, "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":"
                    + "\"Remember that my boat is blue\"}],\"user\":\"vic\",\"max_tokens\":4,\"memory\":{\"session_id\":\"harbour\"}}");
            assertEquals(200, chat.statusCode(), chat.body());
            CountDownLatch started = new CountDownLatch(4);
            List<CompletableFuture<List<String>>> streams = new ArrayList<>();
            for (int i = 0; i < 4; i++) streams.add(stream(server, 480, started));
            CompletableFuture<HttpResponse<String>> whole = CompletableFuture.supplyAsync(() -> {
                try {
                    return post(server, "/v1/completions", "{\"prompt\":\"The dog\",\"max_tokens\":480,\"ignore_eos\":true}");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            assertTrue(started.await(60, TimeUnit.SECONDS), "the streams started");
            new ProcessBuilder("kill", "-TERM", String.valueOf(server.pid())).start().waitFor();
            // The signal is handled asynchronously: within a moment health says draining (the streams run for seconds).
            boolean drainingSeen = false;
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            while (!drainingSeen && System.nanoTime() < until && !streams.getFirst().isDone()) {
                HttpResponse<String> h = health(server);
                drainingSeen = h.statusCode() == 503 && Http.json(h.body()).get("status").asText().equals("draining");
                if (!drainingSeen) Thread.sleep(20);
            }
            assertTrue(drainingSeen, "health answers 503 draining while requests finish");
            HttpResponse<String> refused = post(server, "/v1/completions", "{\"prompt\":\"late\",\"max_tokens\":2}");
            assertEquals(503, refused.statusCode(), refused.body());
            assertEquals("server_shutting_down", Http.json(refused.body()).get("error").get("code").asText());
            for (CompletableFuture<List<String>> f : streams) {
                List<String> events = f.get(120, TimeUnit.SECONDS);
                assertEquals("[DONE]", events.getLast(), "every stream ends normally: " + events.getLast());
                JsonNode usage = Http.json(events.get(events.size() - 2)).get("usage");
                assertEquals(2 * 480, usage.get("completion_tokens").asInt(), "both choices finished");
            }
            assertEquals(200, whole.get(120, TimeUnit.SECONDS).statusCode());
            assertEquals(0, waitExit(server), "a drained server exits 0");
        } finally {
            server.close();
        }
        try (MemoryStore store = SqliteMemoryStore.open(db)) {
            assertEquals(2, store.list(new Owner("default", "vic"), null, 10).size(), "the recorded exchange was flushed");
        }
    }

    @Test
    void pastTheShutdownTimeoutRunningRequestsEndWithAnError(@TempDir Path dir) throws Exception {
        ServerProcess server = ServerProcess.start(dir, "--memory-store", "none", "--shutdown-timeout", "0.3", "--max-num-seqs", "16");
        try {
            CountDownLatch started = new CountDownLatch(6);
            List<CompletableFuture<List<String>>> streams = new ArrayList<>();
            for (int i = 0; i < 6; i++) streams.add(stream(server, 480, started));
            assertTrue(started.await(60, TimeUnit.SECONDS), "the streams started");
            new ProcessBuilder("kill", "-TERM", String.valueOf(server.pid())).start().waitFor();
            int cut = 0;
            for (CompletableFuture<List<String>> f : streams) {
                List<String> events = f.get(120, TimeUnit.SECONDS);
                assertEquals("[DONE]", events.getLast(), "a stream still ends with [DONE]");
                JsonNode beforeDone = Http.json(events.get(events.size() - 2));
                if (beforeDone.has("error")) {
                    assertEquals("server_shutting_down", beforeDone.get("error").get("code").asText());
                    cut++;
                }
            }
            assertTrue(cut > 0, "some streams outlived a 0.3 s drain and were cut with an error event");
            assertEquals(0, waitExit(server));
        } finally {
            server.close();
        }
    }

    private static int waitExit(ServerProcess server) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (server.alive() && System.nanoTime() < until) Thread.sleep(50);
        return server.terminate(1);
    }
}
