package dev.kvasir.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The memory API over HTTP on a real server with a SQLite store and two tenants: every route,
 * bad input refused naming the parameter with nothing written, and no id, cursor, query, as_of or
 * user value reaching across tenants or users. {@code /v1/embeddings} through the OpenAI SDK.
 */
class MemoryApiTest {

    private static final String ACME = "sk-acme-4242424242";
    private static final String GLOBEX = "sk-globex-1313131313";
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private static Path dir;
    private static KvasirServer server;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("kvasir-memory-api");
        Path keys = Files.writeString(dir.resolve("keys"), "acme " + ACME + "\nglobex " + GLOBEX + "\n");
        server = TestServers.start(TestServers.config().withListener(ListenerConfig.DEFAULTS.withApiKeyFile(keys))
                .withMemoryStore("sqlite:" + dir.resolve("memory.db")));
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    static HttpResponse<String> call(String method, String path, String body, String key) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.baseUrl() + path)).header("Authorization", "Bearer " + key)
                .header("Content-Type", "application/json");
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        try {
            return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static JsonNode ok(HttpResponse<String> r, int status) {
        assertEquals(status, r.statusCode(), r.body());
        return Http.json(r.body());
    }

    private static JsonNode add(String key, String user, String content, String extra) {
        return ok(call("POST", "/v1/memories", "{\"user\":" + Http.quote(user) + ",\"content\":" + Http.quote(content)
                + (extra.isEmpty() ? "" : "," + extra) + "}", key), 201);
    }

    @Test
    void everyRouteWorksAndReturnsEveryField() {
        JsonNode m = add(ACME, "alice", "Alice prefers green tea in the morning", "\"scope\":\"session\",\"session_id\":\"s1\","
                + "\"fact_key\":\"alice.drink\",\"importance\":0.8,\"confidence\":0.9,\"correction\":false,\"tier\":\"core\","
                + "\"metadata\":{\"turn\":\"t7\"},\"valid_at\":\"2024-05-01T00:00:00Z\"");
        String id = m.get("id").asText();
        assertEquals("memory", m.get("object").asText());
        assertEquals("session", m.get("scope").asText());
        assertEquals("s1", m.get("session_id").asText());
        assertEquals("alice.drink", m.get("fact_key").asText());
        assertEquals(0.8, m.get("importance").asDouble());
        assertEquals("core", m.get("tier").asText());
        assertEquals("t7", m.get("metadata").get("turn").asText());
        assertEquals("2024-05-01T00:00:00Z", m.get("valid_at").asText());
        for (String f : List.of("confidence", "correction", "source", "created_at", "last_accessed_at", "access_count",
                "invalid_at", "expired_at", "invalidated_by", "summary_depth", "replaces")) {
            assertTrue(m.has(f), "missing field " + f);
        }
        assertEquals(id, ok(call("GET", "/v1/memories/" + id + "?user=alice", null, ACME), 200).get("id").asText());

        JsonNode patched = ok(call("PATCH", "/v1/memories/" + id, "{\"user\":\"alice\",\"content\":\"Alice prefers oolong tea\","
                + "\"importance\":0.9}", ACME), 200);
        assertEquals("Alice prefers oolong tea", patched.get("content").asText());
        JsonNode history = ok(call("GET", "/v1/memories/" + id + "/history?user=alice", null, ACME), 200);
        assertEquals(List.of("created", "updated"), events(history));

        JsonNode found = ok(call("POST", "/v1/memories/search", "{\"user\":\"alice\",\"query\":\"what does Alice drink?\","
                + "\"k\":5,\"session_id\":\"s1\"}", ACME), 200);
        assertEquals(id, found.get("data").get(0).get("id").asText());
        assertTrue(found.get("data").get(0).get("score").asDouble() > 0);
        assertTrue(found.get("block").asText().contains("Alice prefers oolong tea"));

        // Paging: 5 more memories, 2 per page, every id once.
        for (int i = 0; i < 5; i++) add(ACME, "alice", "note number " + i, "");
        List<String> seen = new ArrayList<>();
        String cursor = null;
        do {
            JsonNode page = ok(call("GET", "/v1/memories?user=alice&limit=2" + (cursor == null ? "" : "&cursor=" + cursor), null, ACME), 200);
            for (JsonNode d : page.get("data")) seen.add(d.get("id").asText());
            cursor = page.get("next_cursor").isNull() ? null : page.get("next_cursor").asText();
        } while (cursor != null);
        assertEquals(6, seen.size());
        assertEquals(6, seen.stream().distinct().count());

        ok(call("DELETE", "/v1/memories/" + id + "?user=alice", null, ACME), 200);
        assertEquals(404, call("GET", "/v1/memories/" + id + "?user=alice", null, ACME).statusCode());
        JsonNode forgotten = ok(call("DELETE", "/v1/memories?user=alice", null, ACME), 200);
        assertEquals(5, forgotten.get("deleted").asInt());
        assertEquals(0, ok(call("GET", "/v1/memories?user=alice", null, ACME), 200).get("data").size());
    }

    private static List<String> events(JsonNode history) {
        List<String> kinds = new ArrayList<>();
        for (JsonNode e : history.get("data")) kinds.add(e.get("event").asText());
        return kinds;
    }

    @Test
    void noTenantOrUserReachesAnothersMemories() {
        String secret = add(ACME, "bob", "Bob's locker code is 7391", "").get("id").asText();
        String cursorOfBob = ok(call("GET", "/v1/memories?user=bob&limit=1", null, ACME), 200).get("next_cursor").asText(null);
        // Another tenant, same user name: nothing by id, list, search, as_of, history, patch or delete.
        for (String[] c : new String[][] {{"GET", "/v1/memories/" + secret + "?user=bob"}, {"GET", "/v1/memories/" + secret + "/history?user=bob"},
                {"DELETE", "/v1/memories/" + secret + "?user=bob"}}) {
            assertEquals(404, call(c[0], c[1], null, GLOBEX).statusCode(), c[0] + " " + c[1]);
        }
        assertEquals(404, call("PATCH", "/v1/memories/" + secret, "{\"user\":\"bob\",\"content\":\"x\"}", GLOBEX).statusCode());
        assertEquals(0, ok(call("GET", "/v1/memories?user=bob", null, GLOBEX), 200).get("data").size());
        for (String asOf : List.of("", ",\"as_of\":\"2100-01-01T00:00:00Z\"", ",\"include_invalid\":true")) {
            assertEquals(0, ok(call("POST", "/v1/memories/search", "{\"user\":\"bob\",\"query\":\"locker code 7391\"" + asOf + "}", GLOBEX), 200)
                    .get("data").size(), asOf);
        }
        // The same tenant, another user: nothing either.
        assertEquals(404, call("GET", "/v1/memories/" + secret + "?user=carol", null, ACME).statusCode());
        assertEquals(0, ok(call("POST", "/v1/memories/search", "{\"user\":\"carol\",\"query\":\"locker code 7391\"}", ACME), 200)
                .get("data").size());
        if (cursorOfBob != null) {
            int status = call("GET", "/v1/memories?user=bob&cursor=" + cursorOfBob, null, GLOBEX).statusCode();
            assertTrue(status == 400 || status == 200 && Http.json(call("GET", "/v1/memories?user=bob&cursor=" + cursorOfBob, null, GLOBEX)
                    .body()).get("data").isEmpty(), "a cursor of another tenant shows nothing");
        }
        // Forgetting another tenant's user touches nothing here.
        assertEquals(0, ok(call("DELETE", "/v1/memories?user=bob", null, GLOBEX), 200).get("deleted").asInt());
        assertEquals(200, call("GET", "/v1/memories/" + secret + "?user=bob", null, ACME).statusCode());
    }

    @Test
    void badInputIsRefusedNamingTheParameterAndWritesNothing() {
        String[][] cases = {
                {"{\"content\":\"x\"}", "user"},
                {"{\"user\":\"\",\"content\":\"x\"}", "user"},
                {"{\"user\":\"a\\u0001b\",\"content\":\"x\"}", "user"},
                {"{\"user\":\"" + "u".repeat(257) + "\",\"content\":\"x\"}", "user"},
                {"{\"user\":\"dave\"}", "content"},
                {"{\"user\":\"dave\",\"content\":\"\"}", "content"},
                {"{\"user\":\"dave\",\"content\":\"" + "x".repeat(16 * 1024 + 1) + "\"}", "content"},
                {"{\"user\":\"dave\",\"content\":\"x\",\"importance\":1.5}", "importance"},
                {"{\"user\":\"dave\",\"content\":\"x\",\"importance\":-0.1}", "importance"},
                {"{\"user\":\"dave\",\"content\":\"x\",\"scope\":\"galaxy\"}", "scope"},
                {"{\"user\":\"dave\",\"content\":\"x\",\"tier\":\"attic\"}", "tier"},
                {"{\"user\":\"dave\",\"content\":\"x\",\"fact_key\":\"no dots here\"}", "fact_key"},
                {"{\"user\":\"dave\",\"content\":\"x\",\"valid_at\":\"yesterday\"}", "valid_at"},
                {"{\"user\":\"dave\",\"content\":\"x\",\"metadata\":{\"a\":1}}", "metadata"},
        };
        for (String[] c : cases) {
            HttpResponse<String> r = call("POST", "/v1/memories", c[0], ACME);
            assertEquals(400, r.statusCode(), c[0] + " -> " + r.body());
            assertEquals(c[1], Http.json(r.body()).get("error").get("param").asText(), c[0]);
        }
        assertEquals(0, ok(call("GET", "/v1/memories?user=dave", null, ACME), 200).get("data").size(), "nothing was written");
        for (String[] c : new String[][] {{"{\"user\":\"dave\",\"query\":\"x\",\"k\":0}", "k"}, {"{\"user\":\"dave\",\"query\":\"x\",\"k\":101}", "k"},
                {"{\"user\":\"dave\"}", "query"}, {"{\"query\":\"x\"}", "user"}}) {
            assertEquals(c[1], Http.json(call("POST", "/v1/memories/search", c[0], ACME).body()).get("error").get("param").asText(), c[0]);
        }
        assertEquals("user", Http.json(call("GET", "/v1/memories", null, ACME).body()).get("error").get("param").asText());
        assertEquals("limit", Http.json(call("GET", "/v1/memories?user=dave&limit=0", null, ACME).body()).get("error").get("param").asText());
        assertEquals(400, call("GET", "/v1/memories?user=dave&cursor=not-a-cursor", null, ACME).statusCode());
        assertEquals("id", Http.json(call("GET", "/v1/memories/mem_nonexistent?user=dave", null, ACME).body()).get("error").get("param").asText(),
                "a malformed id");
        assertEquals(404, call("GET", "/v1/memories/mem_" + "0".repeat(32) + "?user=dave", null, ACME).statusCode(), "a well-formed unknown id");
        assertEquals(405, call("PUT", "/v1/memories", "{}", ACME).statusCode());
    }

    @Test
    void embeddingsWorkThroughTheOpenAiSdk() {
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey(ACME).build();
        CreateEmbeddingResponse one = client.embeddings().create(EmbeddingCreateParams.builder()
                .model("all-minilm-l6-v2").input("The cat sat on the mat").build());
        assertEquals(1, one.data().size());
        List<Float> v = one.data().getFirst().embedding();
        assertEquals(384, v.size());
        double norm = 0;
        for (float x : v) norm += x * x;
        assertEquals(1.0, Math.sqrt(norm), 1e-3, "unit length");
        assertTrue(one.usage().promptTokens() > 0);

        CreateEmbeddingResponse many = client.embeddings().create(EmbeddingCreateParams.builder().model("all-minilm-l6-v2")
                .inputOfArrayOfStrings(List.of("a kitten rests on a rug", "stock markets fell sharply")).build());
        assertEquals(2, many.data().size());
        double near = cosine(v, many.data().get(0).embedding()), far = cosine(v, many.data().get(1).embedding());
        assertTrue(near > far + 0.2, "paraphrase " + near + " vs unrelated " + far);

        // base64: the SDK decodes the little-endian float32 bytes; the values match the float form.
        JsonNode b64 = ok(call("POST", "/v1/embeddings", "{\"model\":\"all-minilm-l6-v2\",\"input\":\"The cat sat on the mat\","
                + "\"encoding_format\":\"base64\"}", ACME), 200);
        byte[] bytes = java.util.Base64.getDecoder().decode(b64.get("data").get(0).get("embedding").asText());
        java.nio.FloatBuffer floats = java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        assertEquals(384, floats.remaining());
        for (int i = 0; i < 384; i++) assertEquals(v.get(i), floats.get(i), 1e-6f);
        assertEquals("model", Http.json(call("POST", "/v1/embeddings", "{\"model\":\"ada\",\"input\":\"x\"}", ACME).body())
                .get("error").get("param").asText());
        assertEquals("input", Http.json(call("POST", "/v1/embeddings", "{\"input\":[]}", ACME).body()).get("error").get("param").asText());
    }

    private static double cosine(List<Float> a, List<Float> b) {
        double dot = 0;
        for (int i = 0; i < a.size(); i++) dot += a.get(i) * b.get(i);
        return dot;
    }

    @Test
    void metricsCountSearchesAndStoredMemories() {
        add(ACME, "erin", "Erin plays the cello", "");
        ok(call("POST", "/v1/memories/search", "{\"user\":\"erin\",\"query\":\"which instrument does Erin play\"}", ACME), 200);
        String metrics = call("GET", "/metrics", null, ACME).body();
        assertTrue(DisconnectTest.metric(metrics, "kvasir:memory_searches_total") >= 1, metrics);
        assertTrue(DisconnectTest.metric(metrics, "kvasir:memories_stored_total") >= 1, metrics);
        assertNotNull(metrics.contains("kvasir:memory_search_seconds") ? "" : null, "search latency histogram");
        assertFalse(metrics.contains("Erin"), "memory text never reaches metrics");
    }
}
