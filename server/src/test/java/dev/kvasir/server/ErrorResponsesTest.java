package dev.kvasir.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every client error comes back with its status and OpenAI's {@code {"error":{message,type,param,code}}}. */
class ErrorResponsesTest {

    private static final String KEY = "sk-errors";
    @RegisterExtension
    static final RunningServer server = new RunningServer(TestServers.config().withApiKey(KEY));

    /** The error object of a response with {@code status}; param is checked when expected is non-null. */
    private static JsonNode error(HttpResponse<String> r, int status, String param) {
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("application/json"));
        JsonNode e = Http.json(r.body()).get("error");
        assertTrue(e.get("message").isTextual() && e.get("type").isTextual() && e.has("param") && e.has("code"), r.body());
        if (param != null) assertEquals(param, e.get("param").asText(), r.body());
        return e;
    }

    private static HttpResponse<String> post(String path, String json) {
        return Http.post(server.get(), path, json, KEY);
    }

    @Test
    void missingOrWrongKeyIs401AndHealthStaysOpen() {
        JsonNode missing = error(Http.get(server.get(), "/v1/models", null), 401, null);
        assertEquals("invalid_api_key", missing.get("code").asText());
        error(Http.post(server.get(), "/v1/chat/completions", Http.chat("hi", ""), null), 401, null);
        error(Http.post(server.get(), "/v1/chat/completions", Http.chat("hi", ""), "sk-errorz"), 401, null);
        error(Http.post(server.get(), "/tokenize", "{\"prompt\":\"hi\"}", KEY + "x"), 401, null);
        assertEquals(200, Http.get(server.get(), "/health", null).statusCode());
        assertEquals(200, Http.get(server.get(), "/v1/models", KEY).statusCode());
    }

    @Test
    void unknownModelRouteAndMethod() {
        for (String path : List.of("/v1/chat/completions", "/v1/completions")) {
            String body = path.contains("chat") ? Http.chat("hi", "").replace("stories260K", "gpt-9")
                    : "{\"model\":\"gpt-9\",\"prompt\":\"hi\"}";
            JsonNode e = error(post(path, body), 404, "model");
            assertEquals("model_not_found", e.get("code").asText());
            assertTrue(e.get("message").asText().contains("gpt-9"));
        }
        // A huge model name is not echoed back whole.
        String huge = "m".repeat(100_000);
        assertTrue(post("/v1/completions", "{\"model\":\"" + huge + "\",\"prompt\":\"hi\"}").body().length() < 1000);
        error(Http.get(server.get(), "/v1/nothing", KEY), 404, null);
        HttpResponse<String> wrongMethod = Http.get(server.get(), "/v1/completions", KEY);
        error(wrongMethod, 405, null);
        assertEquals("POST", wrongMethod.headers().firstValue("allow").orElse(null));
        HttpResponse<String> deleteModels = Http.send(Http.request(server.get(), "/v1/models", KEY).DELETE().build());
        error(deleteModels, 405, null);
        assertEquals("GET", deleteModels.headers().firstValue("allow").orElse(null));
    }

    @Test
    void bodyOverTheLimitIs413() throws Exception {
        TestServers.Raw r = TestServers.post(server.port(), "/v1/completions", new byte[9 << 20]);
        assertEquals(413, r.status());
        JsonNode e = Http.json(r.body()).get("error");
        assertEquals("request_too_large", e.get("code").asText());
    }

    @Test
    void outOfRangeSamplingParametersAre400NamingTheParameter() {
        String[][] cases = {
                {"top_k", "-2"}, {"top_k", "1.5"}, {"min_p", "1.5"}, {"min_p", "-0.1"},
                {"presence_penalty", "2.5"}, {"presence_penalty", "-3"}, {"frequency_penalty", "-2.01"},
                {"frequency_penalty", "9"}, {"repetition_penalty", "0"}, {"repetition_penalty", "-1"},
                {"repetition_penalty", "1e-50"}, {"top_p", "0"}, {"top_p", "1e-50"}, {"top_p", "1.1"},
                {"temperature", "2.5"}, {"temperature", "-1"}, {"n", "0"}, {"top_logprobs", "21"},
                {"max_tokens", "0"}, {"max_completion_tokens", "-1"}, {"seed", "1.5"}, {"user", "5"},
                {"stop", "[1]"}, {"stream", "\"yes\""}};
        for (String[] c : cases) {
            String extra = "\"" + c[0] + "\":" + c[1] + (c[0].equals("top_logprobs") ? ",\"logprobs\":true" : "");
            error(post("/v1/chat/completions", Http.chat("hi", extra)), 400, c[0]);
            if (!c[0].equals("max_completion_tokens") && !c[0].equals("top_logprobs")) {
                error(post("/v1/completions", "{\"prompt\":\"hi\"," + extra + "}"), 400, c[0]);
            }
        }
        // In range, the same parameters are served.
        HttpResponse<String> fine = post("/v1/chat/completions", Http.chat("hi", "\"top_k\":5,\"min_p\":0.05,"
                + "\"presence_penalty\":0.5,\"frequency_penalty\":-0.5,\"repetition_penalty\":1.1,\"top_p\":0.9,\"max_tokens\":4"));
        assertEquals(200, fine.statusCode(), fine.body());
    }

    @Test
    void promptLongerThanTheContextIs400WithBothNumbers() {
        // 10 kB: its bytes cannot rule it out (the longest token has 7), so it is encoded and counted exactly.
        String longText = "word ".repeat(2000);
        int chatTokens = Http.json(post("/tokenize", Http.chat(longText, "")).body()).get("count").asInt();
        assertTrue(chatTokens > 2048);
        JsonNode e = error(post("/v1/chat/completions", Http.chat(longText, "")), 400, "messages");
        assertTrue(e.get("message").asText().contains("2048") && e.get("message").asText().contains(String.valueOf(chatTokens)),
                e.get("message").asText());

        int textTokens = Http.json(post("/tokenize", "{\"prompt\":" + Http.quote(longText) + "}").body()).get("count").asInt();
        JsonNode c = error(post("/v1/completions", "{\"prompt\":" + Http.quote(longText) + "}"), 400, "prompt");
        assertTrue(c.get("message").asText().contains("2048") && c.get("message").asText().contains(String.valueOf(textTokens)),
                c.get("message").asText());

        // 50 kB could not fit even at the longest token per 7 bytes: refused before encoding, with a lower bound.
        String hopeless = "word ".repeat(10_000);
        int hopelessTokens = Http.json(post("/tokenize", "{\"prompt\":" + Http.quote(hopeless) + "}").body()).get("count").asInt();
        String refusal = error(post("/v1/completions", "{\"prompt\":" + Http.quote(hopeless) + "}"), 400, "prompt").get("message").asText();
        java.util.regex.Matcher atLeast = java.util.regex.Pattern.compile("has at least (\\d+) input tokens").matcher(refusal);
        assertTrue(atLeast.find(), refusal);
        assertTrue(Integer.parseInt(atLeast.group(1)) > 2048 && Integer.parseInt(atLeast.group(1)) <= hopelessTokens, refusal);

        // Room for the prompt but not for the completion asked for: the error names the field the client sent.
        int shortTokens = Http.json(post("/tokenize", Http.chat("hi", "")).body()).get("count").asInt();
        for (String field : List.of("max_tokens", "max_completion_tokens")) {
            JsonNode m = error(post("/v1/chat/completions", Http.chat("hi", "\"" + field + "\":2048")), 400, field);
            assertTrue(m.get("message").asText().contains("2048") && m.get("message").asText().contains(String.valueOf(shortTokens + 2048)),
                    m.get("message").asText());
        }
    }

    @Test
    void conversationsTheTemplateCannotTakeAre400NotServerErrors() {
        // stories260K's built-in Llama 2 format takes a tool round trip (the result folds into [INST]),
        // but still needs user/assistant alternation.
        String toolTurn = "{\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"},"
                + "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
                + "\"function\":{\"name\":\"w\",\"arguments\":\"{}\"}}]},"
                + "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"sunny\"}],\"max_tokens\":3}";
        assertEquals(200, post("/v1/chat/completions", toolTurn).statusCode());
        error(post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
                + "{\"role\":\"user\",\"content\":\"b\"}]}"), 400, "messages");
        error(post("/v1/chat/completions", "{\"messages\":[{\"role\":\"tool\",\"content\":\"sunny\"}]}"), 400, "messages");
        // Every private-use character in a message leaves the encoder no marker character.
        StringBuilder privateUse = new StringBuilder();
        for (char ch = 0xE000; ch <= 0xF8FF; ch++) privateUse.append(ch);
        error(post("/v1/chat/completions", Http.chat(privateUse.toString(), "\"max_tokens\":2")), 400, "messages");
        assertEquals(200, post("/v1/chat/completions", Http.chat("hi", "\"max_tokens\":2")).statusCode());
    }

    @Test
    void malformedJsonIs400WithoutParam() {
        JsonNode e = error(post("/v1/chat/completions", "{\"messages\":[}"), 400, null);
        assertNull(e.get("param").textValue());
        assertEquals("invalid_request_error", e.get("type").asText());
        HttpRequest raw = Http.request(server.get(), "/v1/completions", KEY).POST(HttpRequest.BodyPublishers.ofByteArray(
                new byte[] {'{', '"', 'p', (byte) 0xff, '"', ':', '1', '}'})).build();
        error(Http.send(raw), 400, null);
    }
}
