package dev.kvasir.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kvasir.memory.MemoryFeatures;
import dev.kvasir.memory.facts.ExtractorMode;
import dev.kvasir.memory.summary.SummarizerMode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.StreamSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Memory part 2 through the real server (stories260K, SQLite): facts from chat turns with the
 * correction winning and the old value answering as_of, the conflicts in the response's memory
 * object and in /metrics; the core block by GET/PUT and in the prompt; memory.verify; and, on a
 * second server, the model extractor and model summarizer running as background requests on the
 * engine (a model this small yields no facts: nothing breaks) while the rules' facts still land.
 */
class MemoryFeaturesServerTest {

    private static Path dir;
    private static KvasirServer server;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("kvasir-memory2");
        server = TestServers.start(TestServers.config().withMemoryStore("sqlite:" + dir.resolve("memory.db")));
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    static JsonNode chat(KvasirServer s, String user, String content, String memory) {
        String body = "{\"messages\":[{\"role\":\"user\",\"content\":" + Http.quote(content) + "}],\"user\":" + Http.quote(user)
                + ",\"max_tokens\":6,\"temperature\":0,\"memory\":" + memory + "}";
        HttpResponse<String> r = Http.post(s, "/v1/chat/completions", body, null);
        assertEquals(200, r.statusCode(), r.body());
        return Http.json(r.body());
    }

    /** The user's memories once one passes {@code test} (facts are written in the background). */
    static List<JsonNode> awaitMemory(KvasirServer s, String user, Predicate<List<JsonNode>> test) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            List<JsonNode> all = new ArrayList<>();
            Http.json(Http.get(s, "/v1/memories?user=" + user + "&limit=100", null).body()).get("data").forEach(all::add);
            if (test.test(all)) return all;
            if (System.nanoTime() > until) throw new AssertionError("memories of " + user + " never got there: " + all);
            Thread.sleep(50);
        }
    }

    private static JsonNode factOf(List<JsonNode> all, String key, String value) {
        return all.stream().filter(m -> key.equals(m.path("fact_key").asText()) && value.equals(m.path("metadata").path("value").asText()))
                .findFirst().orElse(null);
    }

    private static List<String> texts(JsonNode array) {
        return StreamSupport.stream(array.spliterator(), false).map(JsonNode::asText).toList();
    }

    @Test
    void aCorrectionInChatWinsTheOldValueAnswersAsOfAndTheResponseNamesTheConflict() throws Exception {
        chat(server, "cara", "I prefer dark mode in every app", "{\"session_id\":\"s3\"}");
        String dark = awaitMemory(server, "cara", all -> factOf(all, "user.preference.theme", "dark mode") != null)
                .stream().filter(m -> "dark mode".equals(m.path("metadata").path("value").asText())).findFirst().orElseThrow().get("id").asText();
        Instant between = Instant.now();
        Thread.sleep(5);
        chat(server, "cara", "Actually, I prefer light mode", "{\"session_id\":\"s7\"}");
        List<JsonNode> all = awaitMemory(server, "cara", a -> factOf(a, "user.preference.theme", "light mode") != null);
        JsonNode light = factOf(all, "user.preference.theme", "light mode");
        assertTrue(light.get("correction").asBoolean());
        JsonNode old = Http.json(Http.get(server, "/v1/memories/" + dark + "?user=cara", null).body());
        assertEquals(light.get("id").asText(), old.get("invalidated_by").asText());
        assertFalse(old.get("expired_at").isNull());

        JsonNode r = chat(server, "cara", "Which theme do I prefer for my apps?", "{\"session_id\":\"s8\",\"top_k\":4}");
        List<String> injected = texts(r.get("memory").get("injected"));
        assertTrue(injected.contains(light.get("id").asText()), r.get("memory").toString());
        assertFalse(injected.contains(dark), "the stale value is never injected");
        JsonNode conflict = r.get("memory").get("conflicts").get(0);
        assertEquals("user.preference.theme", conflict.get("fact_key").asText());
        assertEquals(light.get("id").asText(), conflict.get("kept").asText());
        assertEquals(List.of(dark), texts(conflict.get("dropped")));
        assertEquals("write", conflict.get("resolved").asText());

        String search = "{\"user\":\"cara\",\"query\":\"which theme does the user prefer\",\"k\":10,\"as_of\":\"" + between + "\"}";
        List<String> asOf = StreamSupport.stream(Http.json(Http.post(server, "/v1/memories/search", search, null).body()).get("data")
                .spliterator(), false).map(m -> m.get("id").asText()).toList();
        assertTrue(asOf.contains(dark) && !asOf.contains(light.get("id").asText()), "as_of before the correction: " + asOf);
        String metrics = Http.get(server, "/metrics", null).body();
        assertTrue(MetricsTest.sample(metrics, "kvasir:memory_conflicts_resolved_total", "") >= 1, metrics);
        assertTrue(MetricsTest.sample(metrics, "kvasir:memory_facts_extracted_total", "") >= 2);
    }

    @Test
    void theCoreBlockIsEditedAsOneBlockAndOpensEveryPrompt() {
        HttpResponse<String> put = put("{\"user\":\"dan\",\"content\":\"- Dan is vegetarian\\n- Dan's deadline is Friday\"}");
        assertEquals(200, put.statusCode(), put.body());
        JsonNode core = Http.json(put.body());
        assertEquals("Dan is vegetarian\nDan's deadline is Friday", core.get("content").asText());
        assertEquals(2, core.get("data").size());
        assertTrue(core.get("tokens").asInt() > 0 && core.get("tokens").asInt() <= core.get("budget").asInt());
        assertEquals(core, Http.json(Http.get(server, "/v1/memories/core?user=dan", null).body()));
        List<String> coreIds = List.of(core.get("data").get(0).get("id").asText(), core.get("data").get(1).get("id").asText());
        JsonNode r = chat(server, "dan", "Tell me a story about a cat", "{}");
        assertEquals(coreIds, texts(r.get("memory").get("core")));
        assertEquals(coreIds, texts(r.get("memory").get("injected")).subList(0, 2), "core first");
        JsonNode plain = chat(server, "dan", "Tell me a story about a cat", "{\"enabled\":false}");
        assertTrue(r.get("usage").get("prompt_tokens").asInt() >= plain.get("usage").get("prompt_tokens").asInt()
                + r.get("memory").get("tokens").asInt(), "the core block is in the prompt");

        HttpResponse<String> tooBig = put("{\"user\":\"dan\",\"content\":" + Http.quote("Dan likes long walks. ".repeat(200)) + "}");
        assertEquals(400, tooBig.statusCode());
        assertEquals("content", Http.json(tooBig.body()).get("error").get("param").asText());
        assertEquals(400, put("{\"content\":\"x\"}").statusCode(), "user is required");
        assertEquals("", Http.json(Http.get(server, "/v1/memories/core?user=other", null).body()).get("content").asText());
        assertEquals(405, Http.post(server, "/v1/memories/core", "{}", null).statusCode());
    }

    @Test
    void verifyListsTheReplysUnsupportedClaimsInTheBodyAndTheStreamsLastChunk() {
        String fact = "{\"user\":\"eve\",\"content\":\"The user lives in Lisbon\",\"fact_key\":\"user.home_city\",\"metadata\":{\"value\":\"Lisbon\"}}";
        assertEquals(201, Http.post(server, "/v1/memories", fact, null).statusCode());
        JsonNode r = chat(server, "eve", "Where do I live?", "{\"verify\":true}");
        String reply = r.get("choices").get(0).get("message").get("content").asText();
        JsonNode unsupported = r.get("memory").get("unsupported");
        assertTrue(unsupported.isArray());
        assertEquals(Http.JSON.valueToTree(server.memory().factSheet("default", "eve").check(reply).stream()
                .map(c -> c.factKey() + "=" + c.reason()).toList()), Http.JSON.valueToTree(StreamSupport.stream(unsupported.spliterator(), false)
                .map(c -> c.get("fact_key").asText() + "=" + c.get("reason").asText()).toList()), reply);
        assertFalse(chat(server, "eve", "Where do I live?", "{}").get("memory").has("unsupported"), "off unless asked");

        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"Where do I live?\"}],\"user\":\"eve\",\"max_tokens\":6,"
                + "\"stream\":true,\"memory\":{\"verify\":true}}";
        List<String> events = Http.events(Http.post(server, "/v1/chat/completions", body, null).body());
        assertEquals("[DONE]", events.getLast());
        assertTrue(Http.json(events.get(events.size() - 2)).get("memory").get("unsupported").isArray(), events.toString());
        HttpResponse<String> noUser = Http.post(server, "/v1/chat/completions",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"memory\":{\"verify\":true}}", null);
        assertEquals(400, noUser.statusCode());
        assertEquals("memory.verify", Http.json(noUser.body()).get("error").get("param").asText());
    }

    @Test
    void theModelExtractorAndSummarizerRunAsBackgroundRequestsAndATinyModelBreaksNothing() throws Exception {
        // A 240-token session budget: a handful of turns reach the summarizer (the test stays seconds long).
        MemoryFeatures f = MemoryFeatures.DEFAULTS.withExtractor(ExtractorMode.BOTH).withSummarizer(SummarizerMode.MODEL)
                .withBudgets(4096, 256, 240);
        Path db = dir.resolve("model.db");
        try (KvasirServer s = TestServers.start(TestServers.config().withMemoryStore("sqlite:" + db).toBuilder().memoryFeatures(f).build())) {
            long before = s.engine().stats().promptTokens();
            JsonNode r = chat(s, "fay", "My name is Fay and I live in Oslo", "{\"session_id\":\"m1\"}");
            List<JsonNode> all = awaitMemory(s, "fay", a -> factOf(a, "user.home_city", "Oslo") != null && factOf(a, "user.name", "Fay") != null);
            assertEquals(2, all.stream().filter(m -> m.path("fact_key").isTextual()).count(), "the rules' facts; the tiny model adds none");
            long background = s.engine().stats().promptTokens() - before - r.get("usage").get("prompt_tokens").asInt();
            assertTrue(background > 100, "the extractor's prompt ran on the engine: " + background + " tokens");

            // A long session: past 75% of its budget the served model summarizes it.
            for (int i = 0; i < 40 && s.memory().stats().summaries() == 0; i++) {
                chat(s, "fay", "Day " + i + ": the little dog ran to the park, played with a big red ball and came home happy.",
                        "{\"session_id\":\"m1\"}");
            }
            List<JsonNode> summaries = awaitMemory(s, "fay", a -> a.stream().anyMatch(m -> "summary".equals(m.path("metadata").path("kind").asText())))
                    .stream().filter(m -> "summary".equals(m.path("metadata").path("kind").asText())).toList();
            JsonNode summary = summaries.get(0);
            assertEquals(1, summary.get("summary_depth").asInt());
            assertTrue(summary.get("replaces").size() > 2);
            assertTrue(summary.get("content").asText().startsWith("Earlier in this conversation: ")
                    && !summary.get("content").asText().contains("\n- "), "the model's words, not the extractive list: " + summary);
            assertEquals(0, s.memory().stats().storeErrors());
        }
    }

    private static HttpResponse<String> put(String json) {
        HttpRequest request = Http.request(server, "/v1/memories/core", null).header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(json)).build();
        return Http.send(request);
    }
}
