package dev.kvasir.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kvasir.server.api.RateLimit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** --rate-limit and --max-concurrent-requests-per-key over HTTP: 429 in OpenAI's shape with Retry-After, per key. */
class RateLimitTest {

    private static final String ACME = "sk-acme-0123456789abcdef";
    private static final String GLOBEX = "sk-globex-5555aaaa5555";

    private static ServerConfig config(Path dir, RateLimit limit) throws Exception {
        Path keys = Files.writeString(dir.resolve("keys"), "acme " + ACME + "\nglobex " + GLOBEX + "\n");
        return TestServers.config().withListener(ListenerConfig.DEFAULTS.withApiKeyFile(keys).withRateLimit(limit));
    }

    private static void assertRateLimited(HttpResponse<String> r, String code, String messagePart) {
        assertEquals(429, r.statusCode(), r.body());
        JsonNode error = Http.json(r.body()).path("error");
        assertEquals("rate_limit_exceeded", error.path("type").asText(), r.body());
        assertEquals(code, error.path("code").asText(), r.body());
        assertTrue(error.has("param") && error.path("message").asText().contains(messagePart), r.body());
    }

    private static long retryAfter(HttpResponse<String> r) {
        return Long.parseLong(r.headers().firstValue("retry-after").orElseThrow(() -> new AssertionError("no Retry-After")));
    }

    @Test
    void requestsPerMinuteArePerKeyAndScrapesAreFree(@TempDir Path dir) throws Exception {
        try (KvasirServer server = TestServers.start(config(dir, RateLimit.NONE.withPerMinute("3rpm")))) {
            String body = Http.chat("Hi", "\"max_tokens\":1");
            for (int i = 0; i < 3; i++) assertEquals(200, Http.post(server, "/v1/chat/completions", body, ACME).statusCode());
            assertEquals(200, Http.get(server, "/metrics", ACME).statusCode(), "monitoring is not the key's traffic");
            assertEquals(200, Http.get(server, "/health", null).statusCode());
            HttpResponse<String> limited = Http.post(server, "/v1/chat/completions", body, ACME);
            assertRateLimited(limited, "rate_limit_exceeded", "requests per minute");
            long retry = retryAfter(limited);
            assertTrue(retry >= 1 && retry <= 20, "Retry-After " + retry + ": one request refills in 20 s at 3/min");
            assertEquals(200, Http.post(server, "/v1/chat/completions", body, GLOBEX).statusCode(), "globex has its own budget");
        }
    }

    /**
     * 100 tokens a minute; each request has a 10-token prompt and generates 50. The first two are
     * admitted (100 - 60 = 40 left, 40 >= 10); the second's completion takes the bucket to -20, so the
     * third's prompt waits for 30 tokens, about 18 s. Were completions not counted, 70 would be left.
     */
    @Test
    void promptTokensAtAdmissionAndCompletionTokensAsGenerated(@TempDir Path dir) throws Exception {
        try (KvasirServer server = TestServers.start(config(dir, RateLimit.NONE.withPerMinute("100tpm")))) {
            String prompt = IntStream.rangeClosed(100, 109).mapToObj(String::valueOf).collect(Collectors.joining(","));
            String body = "{\"prompt\":[" + prompt + "],\"max_tokens\":50,\"ignore_eos\":true}";
            for (int i = 0; i < 2; i++) {
                HttpResponse<String> ok = Http.post(server, "/v1/completions", body, ACME);
                assertEquals(200, ok.statusCode(), ok.body());
                assertEquals(60, Http.json(ok.body()).path("usage").path("total_tokens").asInt());
            }
            HttpResponse<String> limited = Http.post(server, "/v1/completions", body, ACME);
            assertRateLimited(limited, "rate_limit_exceeded", "tokens per minute");
            long retry = retryAfter(limited);
            assertTrue(retry >= 15 && retry <= 18, "Retry-After " + retry);
            assertEquals(200, Http.post(server, "/v1/completions", body, GLOBEX).statusCode());
            String tooLarge = "{\"prompt\":[" + IntStream.range(0, 101).mapToObj(i -> "100").collect(Collectors.joining(",")) + "]}";
            assertRateLimited(Http.post(server, "/v1/completions", tooLarge, GLOBEX), "rate_limit_exceeded", "Request too large");
        }
    }

    @Test
    void concurrentRequestsPerKeyAreCapped(@TempDir Path dir) throws Exception {
        try (KvasirServer server = TestServers.start(config(dir, RateLimit.NONE.withConcurrentRequests(1)))) {
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            HttpRequest stream = HttpRequest.newBuilder(URI.create(server.baseUrl() + "/v1/completions"))
                    .header("Authorization", "Bearer " + ACME).header("Content-Type", "application/json")
                    .timeout(Duration.ofSeconds(60))
                    .POST(HttpRequest.BodyPublishers.ofString(
                            "{\"prompt\":\"Once\",\"max_tokens\":200,\"ignore_eos\":true,\"stream\":true}")).build();
            HttpResponse<java.io.InputStream> running = client.send(stream, HttpResponse.BodyHandlers.ofInputStream());
            try (BufferedReader events = new BufferedReader(new InputStreamReader(running.body(), StandardCharsets.UTF_8))) {
                assertTrue(events.readLine().startsWith("data: "), "the stream has started");
                HttpResponse<String> second = Http.post(server, "/v1/completions", "{\"prompt\":\"Hi\",\"max_tokens\":1}", ACME);
                assertRateLimited(second, "too_many_concurrent_requests", "--max-concurrent-requests-per-key 1");
                assertEquals(1, retryAfter(second));
                assertEquals(200, Http.post(server, "/v1/completions", "{\"prompt\":\"Hi\",\"max_tokens\":1}", GLOBEX).statusCode());
                String line;
                String last = null;
                while ((line = events.readLine()) != null) if (!line.isEmpty()) last = line;
                assertEquals("data: [DONE]", last);
            }
            // The stream ended: its slot is free again.
            assertEquals(200, Http.post(server, "/v1/completions", "{\"prompt\":\"Hi\",\"max_tokens\":1}", ACME).statusCode());
        }
    }
}
