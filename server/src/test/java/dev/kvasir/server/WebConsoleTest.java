package dev.kvasir.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kvasir.server.console.KvFeed;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The web console's server side on a real server, over real HTTP: the static files (public, with
 * content types, revalidation and a strict content security policy), the KV feed (behind the key,
 * a few events a second, the block map following a request in flight and back to idle, and no
 * engine reads at all while nobody subscribes), and {@code --no-ui}.
 */
class WebConsoleTest {

    private static final String KEY = "sk-web-console-test-0001";

    @RegisterExtension
    static final RunningServer server = new RunningServer(TestServers.config().withApiKey(KEY));

    @Test
    void thePageAndItsFilesArePublicWithTheirTypesAndAStrictPolicy() {
        HttpResponse<String> page = Http.get(server.get(), "/", null);
        assertEquals(200, page.statusCode());
        assertEquals("text/html; charset=utf-8", page.headers().firstValue("content-type").orElseThrow());
        assertTrue(page.body().contains("<script type=\"module\" src=\"/ui/js/main.js\">"), page.body());
        String csp = page.headers().firstValue("content-security-policy").orElseThrow();
        assertTrue(csp.contains("script-src 'self'") && csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), csp);
        assertEquals("nosniff", page.headers().firstValue("x-content-type-options").orElseThrow());
        assertEquals("no-cache", page.headers().firstValue("cache-control").orElseThrow());
        assertEquals(page.body(), Http.get(server.get(), "/ui/", null).body(), "/ui/ is the page too");

        HttpResponse<String> js = Http.get(server.get(), "/ui/js/main.js", null);
        assertEquals(200, js.statusCode());
        assertEquals("text/javascript; charset=utf-8", js.headers().firstValue("content-type").orElseThrow());
        assertEquals("text/css; charset=utf-8", Http.get(server.get(), "/ui/console.css", null).headers().firstValue("content-type").orElseThrow());

        assertEquals(401, Http.get(server.get(), "/v1/models", null).statusCode(), "the data calls still need the key");
    }

    @Test
    void aCachedCopyIsRevalidatedWithoutItsBody() {
        HttpResponse<String> first = Http.get(server.get(), "/ui/js/chat.js", null);
        String etag = first.headers().firstValue("etag").orElseThrow();
        assertTrue(etag.matches("\"[0-9a-f]{32}\""), etag);
        HttpResponse<String> again = Http.send(Http.request(server.get(), "/ui/js/chat.js", null).header("If-None-Match", etag).GET().build());
        assertEquals(304, again.statusCode());
        assertEquals("", again.body());
        assertEquals(etag, again.headers().firstValue("etag").orElseThrow());
        HttpResponse<String> other = Http.send(Http.request(server.get(), "/ui/js/chat.js", null).header("If-None-Match", "\"0\"").GET().build());
        assertEquals(200, other.statusCode());
        assertEquals(first.body(), other.body());
    }

    @Test
    void onlyTheConsolesOwnFilesAreServed() throws Exception {
        HttpResponse<String> missing = Http.get(server.get(), "/ui/js/nope.js", null);
        assertEquals(404, missing.statusCode());
        assertEquals("route_not_found", Http.json(missing.body()).get("error").get("code").asText());
        // A request path is a key into the files read at start, never a path on disk or in the jar.
        for (String sneaky : List.of("/ui/../dev/kvasir/server/KvasirServer.class", "/ui/%2e%2e/logback.xml", "/ui//etc/passwd")) {
            TestServers.Raw r = TestServers.get(server.port(), sneaky);
            assertEquals(404, r.status(), sneaky + ": " + r.body());
        }
        HttpResponse<String> post = Http.post(server.get(), "/ui/js/main.js", "{}", KEY);
        assertEquals(405, post.statusCode());
        assertEquals("GET", post.headers().firstValue("allow").orElseThrow());
    }

    @Test
    void theKvFeedNeedsTheKeyAndStreamsTheBlockMapFollowingARequest() throws Exception {
        assertEquals(401, Http.get(server.get(), "/v1/kv/stream", null).statusCode());
        List<JsonNode> events = new CopyOnWriteArrayList<>();
        HttpRequest request = Http.request(server.get(), "/v1/kv/stream", KEY).GET().build();
        HttpResponse<java.io.InputStream> response = java.net.http.HttpClient.newHttpClient()
                .send(request, HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, response.statusCode());
        assertEquals("text/event-stream; charset=utf-8", response.headers().firstValue("content-type").orElseThrow());
        Thread reader = Thread.ofVirtual().start(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    if (line.startsWith("data: ")) events.add(Http.json(line.substring(6)));
                }
            } catch (java.io.IOException e) {
                // closed by the test
            }
        });
        try {
            waitFor(() -> !events.isEmpty(), "a first event");
            JsonNode first = events.getFirst();
            assertEquals("kv.snapshot", first.get("object").asText());
            assertEquals(512, first.get("blocks").get("total").asInt());
            assertEquals(List.of("free", "cached", "used", "shared", "swapped"),
                    Http.JSON.convertValue(first.get("states"), List.class));
            assertEquals(1, server.get().webConsole().kv().subscribers());

            // Long requests sharing a prompt: their blocks are in use (the shared prefix by all of them).
            String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time there was a little robot who wanted to see"
                    + " the sea, and every morning it walked up the hill to look\"}],\"max_tokens\":300,\"ignore_eos\":true}";
            // One first, so that its prompt's full blocks are cached prefixes (requests admitted in one step
            // cannot share what none has computed yet), then four together that hit them.
            assertEquals(200, Http.post(server.get(), "/v1/chat/completions", body, KEY).statusCode());
            List<CompletableFuture<HttpResponse<String>>> load = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                load.add(java.net.http.HttpClient.newHttpClient().sendAsync(Http.postRequest(server.get(), "/v1/chat/completions", body, KEY),
                        HttpResponse.BodyHandlers.ofString()));
            }
            waitFor(() -> events.stream().anyMatch(e -> e.get("blocks").get("used").asInt() + e.get("blocks").get("shared").asInt() > 0),
                    "an event with blocks in use");
            for (CompletableFuture<HttpResponse<String>> f : load) assertEquals(200, f.get(60, TimeUnit.SECONDS).statusCode());
            waitFor(() -> {
                JsonNode last = events.getLast();
                return last.get("running").asInt() == 0 && last.get("blocks").get("used").asInt() == 0
                        && last.get("blocks").get("shared").asInt() == 0 && last.get("blocks").get("cached").asInt() > 0;
            }, "idle again, the prompts' full blocks kept as cached prefixes");
            JsonNode last = events.getLast();
            assertTrue(last.get("prefix_hit_tokens").asLong() > 0, "the later requests hit the first one's prefix: " + last);
            assertTrue(last.get("generation_tokens").asLong() >= 1200, last.toString());
            int blocks = 0;
            JsonNode map = last.get("gpu_map");
            for (int i = 1; i < map.size(); i += 2) blocks += map.get(i).asInt();
            assertEquals(512, blocks, "the runs cover the pool");
            long spanMillis = last.get("time_ms").asLong() - events.getFirst().get("time_ms").asLong();
            assertTrue(events.size() >= spanMillis / KvFeed.PERIOD_MILLIS / 2, events.size() + " events in " + spanMillis + " ms");
        } finally {
            response.body().close();
            reader.interrupt();
        }
        waitFor(() -> server.get().webConsole().kv().subscribers() == 0, "the subscriber gone once its client left");
    }

    @Test
    void nobodyWatchingMeansNoEngineReads() throws Exception {
        try (KvFeed feed = new KvFeed(server.engine())) {
            Thread.sleep(3 * KvFeed.PERIOD_MILLIS);
            assertEquals(0, feed.reads(), "no subscriber, no timer, no probe");
            List<byte[]> got = new CopyOnWriteArrayList<>();
            Runnable unsubscribe = feed.subscribe(got::add, () -> {});
            waitFor(() -> got.size() >= 3, "three events");
            assertTrue(feed.reads() >= 3);
            unsubscribe.run();
            Thread.sleep(KvFeed.PERIOD_MILLIS);
            long reads = feed.reads();
            Thread.sleep(4 * KvFeed.PERIOD_MILLIS);
            assertEquals(reads, feed.reads(), "the last subscriber gone, the reads stop");
        }
    }

    @Test
    void closingTheFeedEndsOpenStreams() throws Exception {
        try (KvFeed feed = new KvFeed(server.engine())) {
            boolean[] ended = new boolean[1];
            feed.subscribe(json -> {}, () -> ended[0] = true);
            feed.close();
            assertTrue(ended[0]);
            assertEquals(0, feed.subscribers());
            boolean[] late = new boolean[1];
            feed.subscribe(json -> {}, () -> late[0] = true);
            assertTrue(late[0], "a subscriber after close ends at once");
        }
    }

    @Test
    void noUiTurnsThePageOffAndLeavesTheApi() throws Exception {
        try (KvasirServer off = TestServers.start(TestServers.config().toBuilder().ui(false).build())) {
            assertNotNull(off.webConsole().kv());
            HttpResponse<String> page = Http.get(off, "/", null);
            assertEquals(404, page.statusCode());
            JsonNode error = Http.json(page.body()).get("error");
            assertEquals("console_disabled", error.get("code").asText());
            assertTrue(error.get("message").asText().contains("--no-ui"), error.toString());
            assertEquals(404, Http.get(off, "/ui/js/main.js", null).statusCode());
            assertEquals(200, Http.get(off, "/v1/models", null).statusCode());
            String feed = readFor(off.port(), "GET /v1/kv/stream HTTP/1.1\r\nHost: x\r\n\r\n", 1000);
            assertTrue(feed.startsWith("HTTP/1.1 200"), feed);
            assertTrue(feed.contains("data: {\"object\":\"kv.snapshot\""), feed);
        }
        assertFalse(server.get().webConsole().files() == null);
    }

    /** What a raw connection receives for {@code millis} after sending {@code request} (a stream never ends by itself). */
    private static String readFor(int port, String request, int millis) throws java.io.IOException {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", port)) {
            socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            try {
                for (long left; (left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())) > 0; ) {
                    socket.setSoTimeout((int) left);
                    int n = socket.getInputStream().read(buf);
                    if (n < 0) break;
                    got.write(buf, 0, n);
                }
            } catch (java.net.SocketTimeoutException e) {
                // the time is up
            }
            return got.toString(StandardCharsets.UTF_8);
        }
    }

    private static void waitFor(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
            Thread.sleep(20);
        }
    }
}
