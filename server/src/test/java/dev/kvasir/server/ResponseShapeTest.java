package dev.kvasir.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Field by field, the JSON and SSE the server writes, against OpenAI's shapes. */
class ResponseShapeTest {

    @RegisterExtension
    static final RunningServer server = new RunningServer(TestServers.config());

    private static JsonNode ok(HttpResponse<String> r) {
        assertEquals(200, r.statusCode(), r.body());
        return Http.json(r.body());
    }

    private static JsonNode chat(String content, String extra) {
        return ok(Http.post(server.get(), "/v1/chat/completions", Http.chat(content, extra)));
    }

    private static String text(JsonNode chatCompletion) {
        return chatCompletion.get("choices").get(0).get("message").get("content").asText();
    }

    private static void assertCreatedNow(JsonNode o) {
        long now = System.currentTimeMillis() / 1000;
        assertTrue(o.get("created").isIntegralNumber() && Math.abs(o.get("created").asLong() - now) < 120, o.toString());
    }

    @Test
    void chatCompletionHasOpenAisFields() {
        JsonNode c = chat("Tell me a story", "\"max_tokens\":6,\"temperature\":0");
        assertTrue(c.get("id").asText().matches("chatcmpl-[0-9a-f]+"), c.get("id").asText());
        assertEquals("chat.completion", c.get("object").asText());
        assertCreatedNow(c);
        assertEquals("stories260K", c.get("model").asText());
        assertTrue(!c.has("system_fingerprint") || c.get("system_fingerprint").isTextual() || c.get("system_fingerprint").isNull());
        JsonNode choice = c.get("choices").get(0);
        assertEquals(0, choice.get("index").asInt());
        assertEquals("assistant", choice.get("message").get("role").asText());
        assertTrue(choice.get("message").get("content").isTextual());
        assertTrue(choice.get("logprobs").isNull());
        assertEquals("length", choice.get("finish_reason").asText());
        JsonNode usage = c.get("usage");
        assertEquals(6, usage.get("completion_tokens").asInt());
        assertEquals(usage.get("prompt_tokens").asInt() + 6, usage.get("total_tokens").asInt());
        assertTrue(usage.get("prompt_tokens_details").get("cached_tokens").isIntegralNumber());
    }

    @Test
    void chatStreamIsServerSentEventsEndingWithDoneAndAUsageChunk() {
        String body = Http.post(server.get(), "/v1/chat/completions", Http.chat("Tell me a story",
                "\"max_tokens\":7,\"temperature\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true}")).body();
        List<String> events = Http.events(body);
        assertEquals("[DONE]", events.getLast());
        List<JsonNode> chunks = events.subList(0, events.size() - 1).stream().map(Http::json).toList();
        JsonNode first = chunks.getFirst();
        assertTrue(first.get("id").asText().startsWith("chatcmpl-"));
        assertEquals("assistant", first.get("choices").get(0).get("delta").get("role").asText());
        StringBuilder streamed = new StringBuilder();
        int finishes = 0;
        for (JsonNode chunk : chunks.subList(0, chunks.size() - 1)) {
            assertEquals(first.get("id"), chunk.get("id"));
            assertEquals(first.get("created"), chunk.get("created"));
            assertEquals("chat.completion.chunk", chunk.get("object").asText());
            assertEquals("stories260K", chunk.get("model").asText());
            assertTrue(chunk.get("usage").isNull(), "usage is null on every chunk but the last: " + chunk);
            JsonNode choice = chunk.get("choices").get(0);
            streamed.append(choice.get("delta").path("content").asText(""));
            if (!choice.get("finish_reason").isNull()) {
                finishes++;
                assertEquals("length", choice.get("finish_reason").asText());
            }
        }
        assertEquals(1, finishes);
        JsonNode usageChunk = chunks.getLast();
        assertEquals(0, usageChunk.get("choices").size());
        assertEquals(7, usageChunk.get("usage").get("completion_tokens").asInt());
        assertEquals(text(chat("Tell me a story", "\"max_tokens\":7,\"temperature\":0")), streamed.toString());

        // Without include_usage: no usage field at all.
        List<String> plain = Http.events(Http.post(server.get(), "/v1/chat/completions",
                Http.chat("Tell me a story", "\"max_tokens\":3,\"stream\":true")).body());
        assertEquals("[DONE]", plain.getLast());
        for (String e : plain.subList(0, plain.size() - 1)) assertFalse(Http.json(e).has("usage"), e);
    }

    @Test
    void completionShapeAndStream() {
        JsonNode c = ok(Http.post(server.get(), "/v1/completions", "{\"prompt\":\"Once upon a time\",\"max_tokens\":5,\"temperature\":0}"));
        assertTrue(c.get("id").asText().matches("cmpl-[0-9a-f]+"), c.get("id").asText());
        assertEquals("text_completion", c.get("object").asText());
        assertCreatedNow(c);
        JsonNode choice = c.get("choices").get(0);
        assertTrue(choice.get("text").isTextual());
        assertEquals("length", choice.get("finish_reason").asText());
        assertEquals(5, c.get("usage").get("completion_tokens").asInt());

        List<String> events = Http.events(Http.post(server.get(), "/v1/completions",
                "{\"prompt\":\"Once upon a time\",\"max_tokens\":5,\"temperature\":0,\"stream\":true}").body());
        assertEquals("[DONE]", events.getLast());
        StringBuilder streamed = new StringBuilder();
        for (String e : events.subList(0, events.size() - 1)) {
            JsonNode chunk = Http.json(e);
            assertTrue(chunk.get("id").asText().startsWith("cmpl-"));
            assertEquals("text_completion", chunk.get("object").asText());
            streamed.append(chunk.get("choices").get(0).get("text").asText());
        }
        assertEquals(choice.get("text").asText(), streamed.toString());
    }

    @Test
    void contentAsTextPartsEqualsTheSameString() {
        // Parts join with "\n", as vLLM joins them.
        JsonNode asString = chat("Once upon\na time", "\"max_tokens\":12,\"temperature\":0");
        JsonNode asParts = ok(Http.post(server.get(), "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":"
                + "[{\"type\":\"text\",\"text\":\"Once upon\"},{\"type\":\"text\",\"text\":\"a time\"}]}],"
                + "\"max_tokens\":12,\"temperature\":0}"));
        assertEquals(text(asString), text(asParts));
        assertEquals(asString.get("usage").get("prompt_tokens"), asParts.get("usage").get("prompt_tokens"));
    }

    @Test
    void userIsAcceptedAndMaxCompletionTokensWinsOverMaxTokens() {
        JsonNode withUser = chat("A cat", "\"max_tokens\":3,\"user\":\"alice-42\"");
        assertEquals(3, withUser.get("usage").get("completion_tokens").asInt());
        JsonNode both = chat("A cat", "\"max_tokens\":3,\"max_completion_tokens\":5,\"ignore_eos\":true");
        assertEquals(5, both.get("usage").get("completion_tokens").asInt());
        JsonNode newer = chat("A cat", "\"max_completion_tokens\":4,\"ignore_eos\":true");
        assertEquals(4, newer.get("usage").get("completion_tokens").asInt());
        assertEquals("length", newer.get("choices").get(0).get("finish_reason").asText());
    }

    @Test
    void stopListEndsTheTextBeforeTheEarliestStopInPlainAndStreamedOutput() {
        String story = "Once upon a time, there was a little girl named Lily.";
        String full = text(chat(story, "\"max_tokens\":60,\"temperature\":0,\"ignore_eos\":true"));
        String[] words = full.trim().split("\\s+");
        assertTrue(words.length > 6, full);
        String a = words[3];
        String b = words[5];
        int at = Math.min(full.indexOf(a, 1), full.indexOf(b, 1));
        String expected = full.substring(0, at);
        String stop = "\"stop\":[" + Http.quote(b) + "," + Http.quote(a) + "]";

        JsonNode plain = chat(story, "\"max_tokens\":60,\"temperature\":0,\"ignore_eos\":true," + stop);
        assertEquals(expected, text(plain));
        assertEquals("stop", plain.get("choices").get(0).get("finish_reason").asText());

        List<String> events = Http.events(Http.post(server.get(), "/v1/chat/completions", Http.chat(story,
                "\"max_tokens\":60,\"temperature\":0,\"ignore_eos\":true,\"stream\":true," + stop)).body());
        StringBuilder streamed = new StringBuilder();
        List<String> finishes = new ArrayList<>();
        for (String e : events.subList(0, events.size() - 1)) {
            JsonNode choice = Http.json(e).get("choices").get(0);
            streamed.append(choice.get("delta").path("content").asText(""));
            if (!choice.get("finish_reason").isNull()) finishes.add(choice.get("finish_reason").asText());
        }
        assertEquals(expected, streamed.toString());
        assertEquals(List.of("stop"), finishes);

        // A single stop string works the same on the completions endpoint.
        String completionBody = "{\"prompt\":" + Http.quote(story) + ",\"max_tokens\":60,\"temperature\":0,\"ignore_eos\":true";
        String completionFull = ok(Http.post(server.get(), "/v1/completions", completionBody + "}"))
                .get("choices").get(0).get("text").asText();
        String word = completionFull.trim().split("\\s+")[3];
        JsonNode completion = ok(Http.post(server.get(), "/v1/completions", completionBody + ",\"stop\":" + Http.quote(word) + "}"));
        assertEquals(completionFull.substring(0, completionFull.indexOf(word, 1)), completion.get("choices").get(0).get("text").asText());
        assertEquals("stop", completion.get("choices").get(0).get("finish_reason").asText());
    }

    /**
     * The length limit hits while a stop that started earlier is still open and a later-starting
     * one has completed: the text is cut at the completed stop, and that is a "stop" finish.
     */
    @Test
    void stopFoundBeforeTheLengthLimitFinishesAsStopEvenWhileAnEarlierStopIsOpen() {
        String body = "{\"prompt\":\"Once upon a time\",\"temperature\":0,\"ignore_eos\":true";
        String full = ok(Http.post(server.get(), "/v1/completions", body + ",\"max_tokens\":12}"))
                .get("choices").get(0).get("text").asText();
        String[] words = full.trim().split("\\s+");
        assertTrue(words.length > 6, full);
        // The open stop is the whole text from the third word on plus a tail that is never generated.
        int openAt = full.indexOf(words[2], 1);
        String open = full.substring(openAt) + "\u2603never";
        String completed = words[4];
        int cutAt = full.indexOf(completed, openAt + words[2].length());
        assertTrue(cutAt > openAt, full);
        JsonNode c = ok(Http.post(server.get(), "/v1/completions", body + ",\"max_tokens\":12,\"stop\":["
                + Http.quote(open) + "," + Http.quote(completed) + "]}"));
        assertEquals(full.substring(0, cutAt), c.get("choices").get(0).get("text").asText());
        assertEquals("stop", c.get("choices").get(0).get("finish_reason").asText());
    }

    @Test
    void completionPromptAsStringTokensAndListsOfEither() {
        String prompt = "Once upon a time";
        JsonNode tokenized = ok(Http.post(server.get(), "/tokenize", "{\"prompt\":" + Http.quote(prompt) + "}"));
        String tokens = tokenized.get("tokens").toString();
        String greedy = "\"max_tokens\":8,\"temperature\":0";

        JsonNode fromString = ok(Http.post(server.get(), "/v1/completions", "{\"prompt\":" + Http.quote(prompt) + "," + greedy + "}"));
        JsonNode fromTokens = ok(Http.post(server.get(), "/v1/completions", "{\"prompt\":" + tokens + "," + greedy + "}"));
        String expected = fromString.get("choices").get(0).get("text").asText();
        assertEquals(1, fromTokens.get("choices").size());
        assertEquals(expected, fromTokens.get("choices").get(0).get("text").asText());
        assertEquals(tokenized.get("count").asInt(), fromTokens.get("usage").get("prompt_tokens").asInt());

        JsonNode strings = ok(Http.post(server.get(), "/v1/completions",
                "{\"prompt\":[\"The dog\"," + Http.quote(prompt) + "]," + greedy + "}"));
        JsonNode tokenLists = ok(Http.post(server.get(), "/v1/completions",
                "{\"prompt\":[[1,400,401]," + tokens + "]," + greedy + "}"));
        for (JsonNode c : List.of(strings, tokenLists)) {
            assertEquals(2, c.get("choices").size());
            assertEquals(0, c.get("choices").get(0).get("index").asInt());
            assertEquals(1, c.get("choices").get(1).get("index").asInt());
            assertEquals(expected, c.get("choices").get(1).get("text").asText());
            assertEquals(16, c.get("usage").get("completion_tokens").asInt());
        }
    }

    @Test
    void tokenizeAndDetokenizeRoundTrip() {
        String text = "Lily and Ben went to the park, and they saw a big red ball!";
        JsonNode t = ok(Http.post(server.get(), "/tokenize", "{\"model\":\"stories260K\",\"prompt\":" + Http.quote(text) + "}"));
        assertEquals(t.get("tokens").size(), t.get("count").asInt());
        assertEquals(2048, t.get("max_model_len").asInt());
        JsonNode d = ok(Http.post(server.get(), "/detokenize", "{\"model\":\"stories260K\",\"tokens\":" + t.get("tokens") + "}"));
        assertEquals(text, d.get("prompt").asText().strip());
        JsonNode withoutBos = ok(Http.post(server.get(), "/tokenize", "{\"prompt\":" + Http.quote(text) + ",\"add_special_tokens\":false}"));
        assertEquals(t.get("count").asInt() - 1, withoutBos.get("count").asInt());
        // A chat conversation tokenizes through the template, the same ids a chat request's usage counts.
        JsonNode chatTokens = ok(Http.post(server.get(), "/tokenize", Http.chat(text, "")));
        JsonNode chat = chat(text, "\"max_tokens\":1");
        assertEquals(chat.get("usage").get("prompt_tokens").asInt(), chatTokens.get("count").asInt());
    }

    @Test
    void modelsListHasOpenAisShape() {
        JsonNode list = ok(Http.get(server.get(), "/v1/models", null));
        assertEquals("list", list.get("object").asText());
        assertEquals(1, list.get("data").size());
        JsonNode m = list.get("data").get(0);
        assertEquals("stories260K", m.get("id").asText());
        assertEquals("model", m.get("object").asText());
        assertCreatedNow(m);
        assertTrue(m.get("owned_by").isTextual());
    }
}
