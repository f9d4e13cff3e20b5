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
        for (int i = 0; i < 24; i++) {
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
}
