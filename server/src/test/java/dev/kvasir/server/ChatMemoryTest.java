package dev.kvasir.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Memory in {@code /v1/chat/completions} on a real server: the user's memories are injected (and
 * named in the response's {@code memory} object, streamed or not), another user's never; the
 * exchange is recorded for the session after the response (not with {@code write: false});
 * {@code history: "server"} supplies the session's earlier turns; the assembled prompt always leaves
 * the completion its room; the prefix cache is per tenant.
 */
class ChatMemoryTest {

    private static final String ACME = "sk-acme-chat-1111";
    private static final String GLOBEX = "sk-globex-chat-2222";
    private static Path dir;
    private static KvasirServer server;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("kvasir-chat-memory");
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

    private static JsonNode chat(String key, String user, String content, String extra) {
        String body = "{\"messages\":[{\"role\":\"system\",\"content\":\"You are a kind storyteller.\"},"
                + "{\"role\":\"user\",\"content\":" + Http.quote(content) + "}]"
                + (user == null ? "" : ",\"user\":" + Http.quote(user)) + ",\"max_tokens\":4,\"temperature\":0"
                + (extra.isEmpty() ? "" : "," + extra) + "}";
        HttpResponse<String> r = Http.post(server, "/v1/chat/completions", body, key);
        assertEquals(200, r.statusCode(), r.body());
        return Http.json(r.body());
    }

    private static String remember(String key, String user, String content) {
        HttpResponse<String> r = Http.post(server, "/v1/memories", "{\"user\":" + Http.quote(user) + ",\"content\":" + Http.quote(content) + "}", key);
        assertEquals(201, r.statusCode(), r.body());
        return Http.json(r.body()).get("id").asText();
    }

    private static List<String> injected(JsonNode response) {
        return java.util.stream.StreamSupport.stream(response.get("memory").get("injected").spliterator(), false).map(JsonNode::asText).toList();
    }

    @Test
    void theUsersMemoriesAreInjectedAndNamedAndNoOneElses() {
        String id = remember(ACME, "ann", "Ann's cat is called Pixel and sleeps on the piano");
        JsonNode withMemory = chat(ACME, "ann", "What is the name of my cat?", "");
        assertTrue(injected(withMemory).contains(id), withMemory.toString());
        assertTrue(withMemory.get("memory").get("tokens").asInt() > 0);
        JsonNode hit = withMemory.get("memory").get("hits").get(injected(withMemory).indexOf(id));
        assertEquals(id, hit.get("id").asText(), "hits follow the injected order");
        assertTrue(hit.get("score").asDouble() > 0 && hit.get("lexical_score").asDouble() > 0, hit.toString());
        assertEquals("recent", hit.get("tier").asText());
        JsonNode plain = chat(ACME, null, "What is the name of my cat?", "");
        assertFalse(plain.has("memory"), "no user, no memory");
        assertTrue(withMemory.get("usage").get("prompt_tokens").asInt() >= plain.get("usage").get("prompt_tokens").asInt()
                + withMemory.get("memory").get("tokens").asInt(), "the block is in the prompt");
        JsonNode off = chat(ACME, "ann", "What is the name of my cat?", "\"memory\":{\"enabled\":false}");
        assertFalse(off.has("memory"));
        assertEquals(plain.get("usage").get("prompt_tokens").asInt(), off.get("usage").get("prompt_tokens").asInt());

        assertEquals(List.of(), injected(chat(ACME, "bob", "What is the name of my cat?", "")), "another user");
        assertEquals(List.of(), injected(chat(GLOBEX, "ann", "What is the name of my cat?", "")), "another tenant");

        // Streamed: the first chunk carries the memory object.
        String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"What is the name of my cat?\"}],\"user\":\"ann\","
                + "\"max_tokens\":4,\"stream\":true}";
        List<String> events = Http.events(Http.post(server, "/v1/chat/completions", body, ACME).body());
        assertTrue(injected(Http.json(events.getFirst())).contains(id), events.getFirst());
        assertFalse(events.get(1).contains("\"memory\""), "only the first chunk");
    }

    @Test
    void exchangesAreRecordedForTheSessionUnlessWriteIsFalse() throws Exception {
        JsonNode r = chat(ACME, "cleo", "I just adopted a parrot named Kiwi", "\"memory\":{\"session_id\":\"s-rec\"}");
        assertEquals("s-rec", r.get("memory").get("session_id").asText());
        String reply = r.get("choices").get(0).get("message").get("content").asText();
        JsonNode turns = awaitMemories("cleo", 2);
        assertEquals("I just adopted a parrot named Kiwi", turns.get("data").get(0).get("content").asText());
        assertEquals("turn", turns.get("data").get(0).get("metadata").get("kind").asText());
        assertEquals("s-rec", turns.get("data").get(0).get("session_id").asText());
        if (!reply.isBlank()) assertEquals(reply, turns.get("data").get(1).get("content").asText());

        chat(ACME, "dora", "Nothing to keep here", "\"memory\":{\"session_id\":\"s-off\",\"write\":false}");
        Thread.sleep(500);
        assertEquals(0, list("dora").get("data").size(), "write: false records nothing");
        // Without a session id each request is a session of its own, named in the response.
        assertTrue(chat(ACME, "dora", "Hello", "").get("memory").get("session_id").asText().startsWith("sess_"));
    }

    @Test
    void serverHistorySuppliesTheSessionsEarlierTurns() throws Exception {
        String session = "\"memory\":{\"session_id\":\"s-hist\",\"history\":\"server\"}";
        JsonNode first = chat(ACME, "ed", "My name is Zed and I live by the lighthouse", session);
        assertEquals(0, first.get("memory").get("history_turns").asInt());
        awaitMemories("ed", 1);
        JsonNode second = chat(ACME, "ed", "Where do I live?", session);
        assertTrue(second.get("memory").get("history_turns").asInt() >= 1, second.toString());
        // The session's own turns come back as history, not as retrieved memories: with history off they are not in the prompt.
        JsonNode noHistory = chat(ACME, "ed", "Where do I live?", "\"memory\":{\"session_id\":\"s-hist\"}");
        assertEquals(0, noHistory.get("memory").get("history_turns").asInt());
        assertTrue(second.get("usage").get("prompt_tokens").asInt() > noHistory.get("usage").get("prompt_tokens").asInt() + 5,
                second.get("usage") + " vs " + noHistory.get("usage") + ": the earlier turn is in the prompt");
        HttpResponse<String> noSession = Http.post(server, "/v1/chat/completions",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"user\":\"ed\",\"memory\":{\"history\":\"server\"}}", ACME);
        assertEquals(400, noSession.statusCode());
        assertEquals("memory.session_id", Http.json(noSession.body()).get("error").get("param").asText());
        HttpResponse<String> typo = Http.post(server, "/v1/chat/completions",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"user\":\"ed\",\"memory\":{\"topk\":3}}", ACME);
        assertEquals(400, typo.statusCode(), "an unknown memory field is refused, not ignored");
    }

    @Test
    void theAssembledPromptAlwaysLeavesTheCompletionItsRoom() {
        for (int i = 0; i < 40; i++) {
            remember(ACME, "fay", "Fay's note " + i + ": the little dog ran to the park and played with a big red ball all day long");
        }
        int maxLen = server.model().maxModelLen();
        for (int maxTokens : new int[] {16, 200, 400}) {
            String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me about the dog and the park\"}],\"user\":\"fay\","
                    + "\"max_tokens\":" + maxTokens + ",\"memory\":{\"top_k\":40,\"max_tokens\":4000}}";
            HttpResponse<String> r = Http.post(server, "/v1/chat/completions", body, ACME);
            assertEquals(200, r.statusCode(), r.body());
            JsonNode j = Http.json(r.body());
            assertTrue(j.get("usage").get("prompt_tokens").asInt() + maxTokens <= maxLen, maxTokens + ": " + j.get("usage"));
            // With room to spare some memories go in; never so many that the completion loses its room.
            if (maxTokens <= 200) assertTrue(j.get("memory").get("injected").size() > 0, maxTokens + ": some memories still fit");
        }
    }

    @Test
    void cachedPromptTokensAreNeverSharedAcrossTenants() {
        String prompt = "Once upon a time there was a little girl named Lily who loved to play outside in the park with her dog. ".repeat(3);
        String body = "{\"prompt\":" + Http.quote(prompt) + ",\"max_tokens\":2,\"temperature\":0}";
        assertEquals(200, Http.post(server, "/v1/completions", body, ACME).statusCode());
        JsonNode again = Http.json(Http.post(server, "/v1/completions", body, ACME).body());
        assertTrue(again.get("usage").get("prompt_tokens_details").get("cached_tokens").asInt() > 0, "the same tenant hits its prefix");
        JsonNode other = Http.json(Http.post(server, "/v1/completions", body, GLOBEX).body());
        assertEquals(0, other.get("usage").get("prompt_tokens_details").get("cached_tokens").asInt(),
                "another tenant's identical prompt computes everything");
    }

    private static JsonNode list(String user) {
        return Http.json(Http.get(server, "/v1/memories?user=" + user, ACME).body());
    }

    /** The user's memories once at least {@code n} are there (turns are recorded in the background). */
    private static JsonNode awaitMemories(String user, int n) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        JsonNode page;
        while ((page = list(user)).get("data").size() < n) {
            if (System.nanoTime() > until) throw new AssertionError("fewer than " + n + " memories for " + user + ": " + page);
            Thread.sleep(50);
        }
        return page;
    }
}
