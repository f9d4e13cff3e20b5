package dev.kvasir.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kvasir.models.sampling.constraint.RandomSchemas;
import dev.kvasir.models.sampling.constraint.SchemaValidator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Structured outputs end to end: {@code response_format} and the {@code guided_*} fields through
 * the real server on llama-2-tiny-random (random weights over the real 32k Llama 2 vocabulary), at
 * temperature 1, every output judged by an independent validator (networknt, draft 2020-12,
 * formats asserted) or {@link java.util.regex}.
 */
class StructuredOutputTest {

    @RegisterExtension
    static final RunningServer server = new RunningServer(TestServers.config(TestServers.randomModel()));

    static ObjectNode chat(String content) {
        ObjectNode body = Http.JSON.createObjectNode();
        body.putArray("messages").addObject().put("role", "user").put("content", content);
        return body;
    }

    static ObjectNode jsonSchema(ObjectNode body, JsonNode schema) {
        body.putObject("response_format").put("type", "json_schema").putObject("json_schema").put("name", "out").set("schema", schema);
        return body;
    }

    static HttpResponse<String> post(String path, ObjectNode body) {
        return Http.post(server.get(), path, body.toString());
    }

    static JsonNode ok(HttpResponse<String> r) {
        assertEquals(200, r.statusCode(), r.body());
        return Http.json(r.body());
    }

    @Test
    void randomSchemasThroughChatCompletionsAllValidate() throws Exception {
        RandomSchemas schemas = new RandomSchemas(2026, true);
        List<String> texts = new ArrayList<>();
        List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            JsonNode schema = schemas.next();
            texts.add(schema.toString());
            ObjectNode body = jsonSchema(chat("Reply in JSON"), schema).put("temperature", 1.0).put("seed", i).put("max_tokens", 1500);
            answers.add(Http.postAsync(server.get(), "/v1/chat/completions", body.toString()));
        }
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < answers.size(); i++) {
            JsonNode choice = ok(answers.get(i).get()).path("choices").get(0);
            String text = choice.path("message").path("content").asText();
            if (!choice.path("finish_reason").asText().equals("stop")) {
                failures.add("finished by " + choice.path("finish_reason") + ": " + texts.get(i));
                continue;
            }
            List<String> errors = SchemaValidator.errors(texts.get(i), text);
            if (!errors.isEmpty()) failures.add(errors + "\n  schema " + texts.get(i) + "\n  output " + text);
        }
        assertTrue(failures.isEmpty(), String.join("\n", failures));
    }

    @Test
    void regexAndChoiceHoldForEveryForkedChoice() {
        String regex = "[A-Z][a-z]{2,6}-[0-9]{3}( ok| no)?";
        for (int seed = 0; seed < 3; seed++) {
            JsonNode r = ok(post("/v1/chat/completions", chat("Code?").put("guided_regex", regex).put("n", 3)
                    .put("temperature", 1.0).put("seed", seed).put("max_tokens", 40)));
            for (JsonNode choice : r.path("choices")) {
                String text = choice.path("message").path("content").asText();
                assertTrue(Pattern.matches(regex, text), "'" + text + "' does not match " + regex);
                assertEquals("stop", choice.path("finish_reason").asText());
            }
        }
        List<String> colors = List.of("red", "green", "light blue");
        ObjectNode body = chat("Color?").put("n", 4).put("temperature", 1.0).put("seed", 7).put("max_tokens", 20);
        colors.forEach(body.putArray("guided_choice")::add);
        for (JsonNode choice : ok(post("/v1/chat/completions", body)).path("choices")) {
            assertTrue(colors.contains(choice.path("message").path("content").asText()), choice.toString());
            assertEquals("stop", choice.path("finish_reason").asText());
        }
        // /v1/completions takes the same fields.
        String schema = "{\"type\":\"object\",\"properties\":{\"k\":{\"enum\":[\"x\",\"y\"]},\"v\":{\"type\":\"integer\","
                + "\"minimum\":0,\"maximum\":9}},\"required\":[\"k\",\"v\"],\"additionalProperties\":false}";
        JsonNode text = ok(post("/v1/completions", Http.JSON.createObjectNode().put("prompt", "Data:").put("temperature", 1.0)
                .put("seed", 3).put("max_tokens", 100).put("guided_json", schema)));
        JsonNode choice = text.path("choices").get(0);
        assertEquals("stop", choice.path("finish_reason").asText(), choice.toString());
        assertEquals(List.of(), SchemaValidator.errors(schema, choice.path("text").asText()), choice.toString());
    }

    @Test
    void forkedChoicesBothValidate() {
        JsonNode schema = Http.json("""
                {"type": "object", "properties": {"id": {"type": "integer", "minimum": 1, "maximum": 999},
                 "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "maxItems": 3},
                 "ok": {"type": "boolean"}}, "required": ["id", "tags", "ok"], "additionalProperties": false}""");
        JsonNode r = ok(post("/v1/chat/completions", jsonSchema(chat("JSON please"), schema).put("n", 2)
                .put("temperature", 1.0).put("seed", 11).put("max_tokens", 200)));
        assertEquals(2, r.path("choices").size());
        for (JsonNode choice : r.path("choices")) {
            String out = choice.path("message").path("content").asText();
            assertEquals("stop", choice.path("finish_reason").asText(), out);
            assertEquals(List.of(), SchemaValidator.errors(schema.toString(), out), out);
        }
    }

    /** A stream's content deltas concatenate to the whole response's content, under the same seed. */
    @Test
    void streamedAndWholeResponsesAreEqual() {
        JsonNode schema = Http.json("""
                {"type": "object", "properties": {"name": {"type": "string", "maxLength": 12},
                 "age": {"type": "integer", "minimum": 0, "maximum": 120}}, "required": ["name", "age"]}""");
        for (int seed = 0; seed < 2; seed++) {
            ObjectNode body = jsonSchema(chat("Who?"), schema).put("temperature", 1.0).put("seed", seed).put("max_tokens", 120);
            String whole = ok(post("/v1/chat/completions", body)).path("choices").get(0).path("message").path("content").asText();
            HttpResponse<String> r = post("/v1/chat/completions", body.deepCopy().put("stream", true));
            assertEquals(200, r.statusCode(), r.body());
            StringBuilder streamed = new StringBuilder();
            String finish = null;
            for (String data : Http.events(r.body())) {
                if (data.equals("[DONE]")) continue;
                JsonNode c = Http.json(data).path("choices").get(0);
                streamed.append(c.path("delta").path("content").asText(""));
                if (c.path("finish_reason").isTextual()) finish = c.path("finish_reason").asText();
            }
            assertEquals(whole, streamed.toString());
            assertEquals("stop", finish);
            assertEquals(List.of(), SchemaValidator.errors(schema.toString(), whole), whole);
        }
    }

    @Test
    void unsupportedFeaturesAreRefusedNamingTheKeyword() {
        HttpResponse<String> r = post("/v1/chat/completions", jsonSchema(chat("x"),
                Http.json("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"not\":{\"const\":\"b\"}}}}")));
        assertError(r, "response_format", "'not'");
        r = post("/v1/chat/completions", chat("x").put("guided_json", "{\"type\":\"object\",\"patternProperties\":{}}"));
        assertError(r, "guided_json", "'patternProperties'");
        r = post("/v1/chat/completions", chat("x").put("guided_regex", "(ab"));
        assertError(r, "guided_regex", "");
        r = post("/v1/chat/completions", chat("x").put("guided_grammar", "root ::= missing"));
        assertError(r, "guided_grammar", "missing");
        r = post("/v1/chat/completions", chat("x").put("guided_regex", "a+").set("guided_choice", Http.json("[\"a\"]")));
        assertError(r, "guided_choice", "guided_regex");
        r = post("/v1/chat/completions", chat("x").set("response_format", Http.json("{\"type\":\"yaml\"}")));
        assertError(r, "response_format", "yaml");
    }

    private static void assertError(HttpResponse<String> r, String param, String inMessage) {
        assertEquals(400, r.statusCode(), r.body());
        JsonNode e = Http.json(r.body()).path("error");
        assertEquals(param, e.path("param").asText(), r.body());
        assertTrue(e.path("message").asText().contains(inMessage), r.body());
    }
}
