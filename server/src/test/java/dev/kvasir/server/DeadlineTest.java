package dev.kvasir.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A generation that outlives its deadline (1 s here) ends with 504 in OpenAI's error shape, or with
 * an error event and {@code [DONE]} once streaming has begun, and its blocks return to the pool.
 * The engine thread is held in a probe past the deadline while the request holds blocks, so the
 * expiry is certain however fast the machine generates.
 */
class DeadlineTest {

    @RegisterExtension
    static final RunningServer server = new RunningServer(TestServers.config().withLimits(8, 256, 64, 1.0));

    /** Holds the engine thread for 1.5 s; completes with the blocks in use when it began. */
    private static CompletableFuture<Integer> stallEngine() {
        return server.engine().probe(kv -> {
            int used = kv.numUsedBlocks();
            try {
                Thread.sleep(1500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return used;
        });
    }

    @Test
    void nonStreamingRequestPastItsDeadlineGets504AndFreesItsBlocks() throws Exception {
        CompletableFuture<HttpResponse<String>> response = Http.postAsync(server.get(), "/v1/chat/completions",
                Http.chat("Once upon a time", "\"max_tokens\":1500,\"ignore_eos\":true"));
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (server.engine().stats().running() == 0 && System.nanoTime() < until) Thread.onSpinWait();
        CompletableFuture<Integer> held = stallEngine();

        HttpResponse<String> r = response.get(30, TimeUnit.SECONDS);
        assertEquals(504, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("application/json"));
        JsonNode error = Http.json(r.body()).get("error");
        assertEquals("deadline_exceeded", error.get("code").asText());
        assertEquals("timeout_error", error.get("type").asText());
        assertTrue(error.has("param") && error.get("message").asText().contains("deadline"), r.body());
        assertTrue(held.get() > 0, "the request held blocks when the engine stalled");
        assertEquals(0, TestServers.usedBlocksWhenIdle(server.get()));
    }

    @Test
    void streamPastItsDeadlineEndsWithAnErrorEventAndDone() throws Exception {
        // Two prompts: both parts of the completion end, and every block of both comes back.
        HttpResponse<Stream<String>> r = Http.stream(server.get(), "/v1/completions",
                "{\"prompt\":[\"Once upon a time\",\"The dog\"],\"max_tokens\":1500,\"ignore_eos\":true,\"stream\":true}");
        assertEquals(200, r.statusCode());
        List<String> events = new ArrayList<>();
        CompletableFuture<Integer> held = null;
        Iterator<String> lines = r.body().iterator();
        while (lines.hasNext()) {
            String line = lines.next();
            if (line.isEmpty()) continue;
            assertTrue(line.startsWith("data: "), line);
            events.add(line.substring(6));
            if (held == null && line.contains("\"text\"")) held = stallEngine();
        }
        assertTrue(held != null && held.get() > 0, "text was streamed while the request held blocks");
        assertEquals("[DONE]", events.getLast());
        JsonNode error = Http.json(events.get(events.size() - 2)).get("error");
        assertEquals("deadline_exceeded", error.get("code").asText(), events.get(events.size() - 2));
        for (String e : events.subList(0, events.size() - 2)) {
            JsonNode chunk = Http.json(e);
            assertEquals("text_completion", chunk.get("object").asText());
            assertTrue(chunk.get("choices").get(0).get("finish_reason").isNull(), "no choice finished normally: " + e);
        }
        assertEquals(0, TestServers.usedBlocksWhenIdle(server.get()));
        String metrics = Http.get(server.get(), "/metrics", null).body();
        assertTrue(DisconnectTest.metric(metrics, "kvasir:requests_aborted_total") >= 2, metrics);
        assertEquals(0.0, DisconnectTest.metric(metrics, "vllm:num_requests_running"));
    }
}
