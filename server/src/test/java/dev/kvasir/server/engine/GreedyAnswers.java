package dev.kvasir.server.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.server.KvasirServer;
import dev.kvasir.server.TestServers;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A server on another device or split over tensor-parallel ranks, checked end to end against the
 * plain CPU server over HTTP: the same greedy chat text for several prompts, again from the prefix
 * cache, n = 2 forked by copy-on-write, and every KV block back in the pool afterwards.
 */
final class GreedyAnswers {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String[] PROMPTS = {"Once upon a time", "The little dog ran to the park and", "Lily had a red ball. One day"};

    private GreedyAnswers() {}

    static JsonNode chat(KvasirServer server, String content, String extra) throws Exception {
        String body = "{\"model\":\"" + TestServers.MODEL_NAME + "\",\"messages\":[{\"role\":\"user\",\"content\":"
                + JSON.writeValueAsString(content) + "}],\"temperature\":0,\"max_tokens\":40" + extra + "}";
        TestServers.Raw r = TestServers.post(server.port(), "/v1/chat/completions", body.getBytes(StandardCharsets.UTF_8));
        assertEquals(200, r.status(), r.body());
        return JSON.readTree(r.body());
    }

    private static List<String> cpuAnswers;

    /** The plain CPU server's answers to the prompts (asked once per test JVM: greedy, so always the same). */
    static synchronized List<String> cpuAnswers() throws Exception {
        if (cpuAnswers == null) {
            List<String> text = new ArrayList<>();
            try (KvasirServer cpu = TestServers.start(TestServers.config())) {
                for (String p : PROMPTS) text.add(chat(cpu, p, "").at("/choices/0/message/content").asText());
            }
            cpuAnswers = List.copyOf(text);
        }
        return cpuAnswers;
    }

    /** {@code server} answers each prompt as the CPU server did ({@code expected}), also from cache and forked. */
    static void assertAnswers(KvasirServer server, List<String> expected) throws Exception {
        for (int i = 0; i < PROMPTS.length; i++) {
            JsonNode first = chat(server, PROMPTS[i], "");
            assertEquals(expected.get(i), first.at("/choices/0/message/content").asText(), "prompt " + i);
            assertFalse(expected.get(i).isBlank());
            // The same prompt again: its full blocks come from the prefix cache, the text is unchanged.
            JsonNode again = chat(server, PROMPTS[i], "");
            assertEquals(expected.get(i), again.at("/choices/0/message/content").asText(), "prompt " + i + " again");
        }
        // A prompt longer than one block, asked twice: the second reuses the first's cached block.
        String longPrompt = "Once upon a time there was a little girl named Lily who loved to play outside in the sun";
        chat(server, longPrompt, "");
        assertTrue(chat(server, longPrompt, "").at("/usage/prompt_tokens_details/cached_tokens").asInt() >= 16,
                "the second request hits the prefix cache");
        // n = 2 greedy forks the prompt (copy-on-write of its last block): both choices equal the single answer.
        JsonNode two = chat(server, PROMPTS[0], ",\"n\":2");
        assertEquals(2, two.get("choices").size());
        for (JsonNode c : two.get("choices")) assertEquals(expected.get(0), c.at("/message/content").asText());
        int used = server.engine().probe(kv -> {
            kv.checkInvariants();
            return kv.numUsedBlocks();
        }).get(10, TimeUnit.SECONDS);
        assertEquals(0, used, "every block is back in the pool");
    }
}
