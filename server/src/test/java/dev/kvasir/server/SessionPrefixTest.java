package dev.kvasir.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kvasir.models.ModelLocator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A 20-turn agent session through the API (server-kept history, memories retrieved every turn):
 * each turn's prompt repeats the previous one and adds its own, so {@code cached_tokens} shows that a
 * turn recomputes at most its new tokens (the previous reply as the template renders it, the new
 * user message, the memories this turn adds) and never the conversation before them.
 */
class SessionPrefixTest {

    private static final String KEY = "sk-session-prefix-0000";
    private static final String[] FACTS = {
            "Kim's sister lives in Lisbon", "Kim is training for a marathon in October", "Kim's dog is a grey whippet",
            "Kim works night shifts at the hospital", "Kim prefers window seats on trains", "Kim is learning Portuguese",
            "Kim's favourite dish is mushroom risotto", "Kim's car is an old green estate", "Kim plays chess on Sundays",
            "Kim is allergic to cats"};
    private static final String[] QUESTIONS = {
            "Where does my sister live?", "What race am I training for?", "Tell me about my dog", "When do I work?",
            "Which seat should I book?", "What language am I learning?", "What should I cook tonight?", "Which car do I drive?",
            "What do I do on Sundays?", "Can I visit a friend with cats?"};
    private static Path dir;
    private static KvasirServer server;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("kvasir-session-prefix");
        // A 2,048-token context holds all 20 turns, so history never slides out of the window here.
        server = TestServers.start(TestServers.config(ModelLocator.testModel("llama-2-tiny-random.gguf")).withApiKey(KEY)
                .withMemoryStore("sqlite:" + dir.resolve("memory.db")));
        for (String f : FACTS) {
            assertEquals(201, Http.post(server, "/v1/memories", "{\"user\":\"kim\",\"content\":" + Http.quote(f) + "}", KEY).statusCode());
        }
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private static int tokens(String text) {
        HttpResponse<String> r = Http.post(server, "/tokenize", "{\"prompt\":" + Http.quote(text) + ",\"add_special_tokens\":false}", KEY);
        return Http.json(r.body()).get("count").asInt();
    }

    @Test
    void eachTurnRecomputesOnlyItsNewTokens() {
        String previousReply = "";
        int previousPrompt = 0;
        List<String> report = new ArrayList<>();
        for (int turn = 0; turn < 20; turn++) {
            String question = QUESTIONS[turn % QUESTIONS.length] + (turn >= QUESTIONS.length ? " Again, please." : "");
            String body = "{\"messages\":[{\"role\":\"system\",\"content\":\"You are Kim's assistant. Be brief.\"},"
                    + "{\"role\":\"user\",\"content\":" + Http.quote(question) + "}],\"user\":\"kim\",\"max_tokens\":6,"
                    + "\"temperature\":0,\"memory\":{\"session_id\":\"trip\",\"history\":\"server\",\"top_k\":3}}";
            HttpResponse<String> r = Http.post(server, "/v1/chat/completions", body, KEY);
            assertEquals(200, r.statusCode(), r.body());
            JsonNode j = Http.json(r.body());
            int prompt = j.get("usage").get("prompt_tokens").asInt();
            int cached = j.get("usage").get("prompt_tokens_details").get("cached_tokens").asInt();
            int recomputed = prompt - cached;
            int noteTokens = j.get("memory").get("tokens").asInt();
            report.add(turn + ": prompt " + prompt + ", cached " + cached + ", note " + noteTokens);
            if (turn > 0) {
                assertTrue(prompt > previousPrompt, "the prompt only grows: " + report);
                // New: the previous reply (re-rendered), this question, this turn's note, the template's few tokens around
                // them, and up to one block of the previous prompt's tail that was not a full cached block.
                int allowed = tokens(previousReply) + tokens(question) + noteTokens + 3 * 8 + 16;
                assertTrue(recomputed <= allowed, "turn " + turn + " recomputed " + recomputed + " tokens, at most " + allowed
                        + " are new: " + report);
                assertTrue(cached >= previousPrompt - 16, "turn " + turn + " reuses the previous prompt: " + report);
            }
            // No wait here: the next turn is sent at once, as an agent would, and must still see this one
            // in its history (the server waits for the session's turn being recorded).
            previousReply = j.get("choices").get(0).get("message").get("content").asText();
            previousPrompt = prompt;
        }
    }
}
