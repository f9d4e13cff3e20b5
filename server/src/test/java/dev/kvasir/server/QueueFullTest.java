package dev.kvasir.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A full waiting queue answers 503 with {@code Retry-After} and OpenAI's error JSON instead of
 * growing; the requests it accepted are served normally.
 */
class QueueFullTest {

    @Test
    void requestsBeyondTheWaitingQueueGet503WithRetryAfter() throws Exception {
        try (KvasirServer server = TestServers.start(TestServers.config().withLimits(1, 64, 2, 120))) {
            // The engine thread is held, so nothing leaves the queue while the requests arrive.
            CompletableFuture<Object> stalled = server.engine().probe(kv -> {
                try {
                    Thread.sleep(2000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return null;
            });
            List<CompletableFuture<HttpResponse<String>>> responses = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                responses.add(Http.postAsync(server, "/v1/completions", "{\"prompt\":\"Hello " + i + "\",\"max_tokens\":4}"));
            }
            int ok = 0;
            int refused = 0;
            for (CompletableFuture<HttpResponse<String>> f : responses) {
                HttpResponse<String> r = f.get(60, TimeUnit.SECONDS);
                if (r.statusCode() == 200) {
                    ok++;
                    assertEquals(4, Http.json(r.body()).get("usage").get("completion_tokens").asInt());
                } else {
                    refused++;
                    assertEquals(503, r.statusCode(), r.body());
                    assertEquals("1", r.headers().firstValue("retry-after").orElse(null));
                    JsonNode error = Http.json(r.body()).get("error");
                    assertEquals("server_overloaded", error.get("code").asText());
                    assertEquals(true, error.get("message").asText().contains("queue"));
                }
            }
            stalled.get(10, TimeUnit.SECONDS);
            assertEquals(2, ok);
            assertEquals(3, refused);
            String metrics = Http.get(server, "/metrics", null).body();
            assertEquals(3.0, DisconnectTest.metric(metrics, "kvasir:requests_rejected_total"));
        }
    }
}
