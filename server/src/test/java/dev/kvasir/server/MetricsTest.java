package dev.kvasir.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every vLLM metric the issue names is in {@code /metrics}, with the values the requests imply. */
class MetricsTest {

    /** The sample {@code name{labels}} whose labels contain {@code labelPart}; fails when absent. */
    static double sample(String text, String name, String labelPart) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "\\{([^}]*)\\} ([0-9.eE+-]+)$").matcher(text);
        while (m.find()) {
            if (m.group(1).contains("model_name=\"stories260K\"") && m.group(1).contains(labelPart)) return Double.parseDouble(m.group(2));
        }
        throw new AssertionError(name + "{" + labelPart + "} missing from /metrics:\n" + text);
    }

    @Test
    void vllmMetricsArePresentWithSaneValuesAfterRequests() {
        try (KvasirServer server = TestServers.start(TestServers.config())) {
            String body = Http.chat("Once upon a time, there was a little girl named Lily. She loved to play outside.",
                    "\"max_tokens\":8,\"ignore_eos\":true");
            int prompt = 0;
            int generated = 0;
            for (int i = 0; i < 2; i++) {
                HttpResponse<String> r = Http.post(server, "/v1/chat/completions", body);
                assertEquals(200, r.statusCode(), r.body());
                JsonNode usage = Http.json(r.body()).get("usage");
                prompt += usage.get("prompt_tokens").asInt();
                generated += usage.get("completion_tokens").asInt();
            }
            HttpResponse<String> r = Http.get(server, "/metrics", null);
            assertEquals(200, r.statusCode());
            assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("text/plain"));
            String m = r.body();

            assertEquals(0.0, sample(m, "vllm:num_requests_running", ""));
            assertEquals(0.0, sample(m, "vllm:num_requests_waiting", ""));
            assertEquals(0.0, sample(m, "vllm:kv_cache_usage_perc", ""));
            assertEquals(0.0, sample(m, "vllm:num_preemptions_total", ""));
            assertEquals(prompt, sample(m, "vllm:prompt_tokens_total", ""));
            assertEquals(generated, sample(m, "vllm:generation_tokens_total", ""));
            double queries = sample(m, "vllm:prefix_cache_queries_total", "");
            double hits = sample(m, "vllm:prefix_cache_hits_total", "");
            assertTrue(queries >= prompt - 2 && queries <= prompt, "queries " + queries + " of " + prompt + " prompt tokens");
            assertTrue(hits >= 16 && hits < queries, "the repeated prompt hit the cache: " + hits);

            assertHistogram(m, "vllm:time_to_first_token_seconds", 2);
            assertHistogram(m, "vllm:e2e_request_latency_seconds", 2);
            assertHistogram(m, "vllm:inter_token_latency_seconds", generated - 2);
            for (String ours : List.of("kvasir:kv_blocks_free", "kvasir:kv_pool_blocks", "kvasir:engine_steps_total")) {
                assertTrue(sample(m, ours, "") > 0, ours);
            }
        }
    }

    /** count samples, their sum positive and finite, and the +Inf bucket equal to the count. */
    private static void assertHistogram(String m, String name, int count) {
        assertEquals(count, sample(m, name + "_count", ""), name);
        double sum = sample(m, name + "_sum", "");
        assertTrue(sum > 0 && sum < 60 * count, name + " sum " + sum);
        assertEquals(count, sample(m, name + "_bucket", "le=\"+Inf\""), name);
    }
}
