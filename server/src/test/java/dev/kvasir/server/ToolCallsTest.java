package dev.kvasir.server;

import com.fasterxml.jackson.core.type.TypeReference;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.helpers.ChatCompletionAccumulator;
import com.openai.models.FunctionDefinition;
import com.openai.models.FunctionParameters;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionFunctionTool;
import com.openai.models.chat.completions.ChatCompletionMessageFunctionToolCall;
import com.openai.models.chat.completions.ChatCompletionMessageToolCall;
import com.openai.models.chat.completions.ChatCompletionNamedToolChoice;
import com.openai.models.chat.completions.ChatCompletionToolChoiceOption;
import dev.kvasir.models.sampling.constraint.SchemaValidator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tool calls through the real server (stories260K at temperature 1, its Llama 2 template: plain
 * JSON calls), read by the official OpenAI Java SDK: required and named calls are constrained and
 * every call's arguments validate against its tool's {@code parameters} (networknt); auto mode
 * parses the model's text into {@code tool_calls}; a stream's tool-call deltas accumulate (with the
 * SDK's own accumulator) to the whole response.
 */
class ToolCallsTest {

    private static final String WEATHER = """
            {"type": "object", "properties": {"city": {"type": "string", "maxLength": 16},
             "unit": {"enum": ["celsius", "fahrenheit"]}}, "required": ["city", "unit"], "additionalProperties": false}""";
    private static final String ADD = """
            {"type": "object", "properties": {"a": {"type": "integer", "minimum": -50, "maximum": 50},
             "b": {"type": "number"}, "note": {"type": ["string", "null"], "maxLength": 8}},
             "required": ["a", "b"], "additionalProperties": false}""";
    private static final Map<String, String> PARAMETERS = Map.of("get_weather", WEATHER, "add", ADD);

    static KvasirServer server;
    static OpenAIClient client;

    @BeforeAll
    static void start() {
        server = TestServers.start(TestServers.config());
        client = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey("unused")
                .maxRetries(0).timeout(Duration.ofSeconds(60)).build();
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
    }

    private static ChatCompletionFunctionTool tool(String name) {
        Map<String, Object> schema = jsonMap(PARAMETERS.get(name));
        FunctionParameters.Builder parameters = FunctionParameters.builder();
        schema.forEach((k, v) -> parameters.putAdditionalProperty(k, JsonValue.from(v)));
        return ChatCompletionFunctionTool.builder()
                .function(FunctionDefinition.builder().name(name).parameters(parameters.build()).strict(true).build()).build();
    }

    private static Map<String, Object> jsonMap(String json) {
        try {
            return Http.JSON.readValue(json, new TypeReference<>() {});
        } catch (Exception e) {
            throw new IllegalArgumentException(json, e);
        }
    }

    private static ChatCompletionCreateParams.Builder withTools(long seed) {
        return ChatCompletionCreateParams.builder().model(TestServers.MODEL_NAME).addUserMessage("What is the weather in Oslo?")
                .addTool(tool("get_weather")).addTool(tool("add")).temperature(1.0).seed(seed).maxCompletionTokens(300);
    }

    private static List<ChatCompletionMessageFunctionToolCall> calls(ChatCompletion c) {
        return c.choices().getFirst().message().toolCalls().orElse(List.of()).stream().map(ChatCompletionMessageToolCall::asFunction).toList();
    }

    /** Every call names one of the tools and its arguments validate against that tool's parameters. */
    private static void assertValidCalls(List<ChatCompletionMessageFunctionToolCall> calls, String context) {
        assertFalse(calls.isEmpty(), context + ": no tool calls");
        for (ChatCompletionMessageFunctionToolCall call : calls) {
            String schema = PARAMETERS.get(call.function().name());
            assertTrue(schema != null, context + ": unknown function " + call.function().name());
            List<String> errors = SchemaValidator.errors(schema, call.function().arguments());
            assertTrue(errors.isEmpty(), context + ": " + errors + " in " + call.function().arguments());
            assertTrue(call.id().startsWith("call_"), call.id());
        }
    }

    /** A required call with parallel_tool_calls false: exactly one call, valid, and the choice stops there. */
    @Test
    void requiredCallsAlwaysValidate() {
        for (long seed = 0; seed < 6; seed++) {
            ChatCompletion c = client.chat().completions().create(
                    withTools(seed).toolChoice(ChatCompletionToolChoiceOption.Auto.REQUIRED).parallelToolCalls(false).build());
            ChatCompletion.Choice choice = c.choices().getFirst();
            assertEquals(ChatCompletion.Choice.FinishReason.TOOL_CALLS, choice.finishReason(), "seed " + seed);
            assertTrue(choice.message().content().orElse("").isEmpty(), "a required call is nothing but calls: " + choice.message());
            assertEquals(1, calls(c).size(), "parallel_tool_calls false: " + calls(c));
            assertValidCalls(calls(c), "seed " + seed);
        }
    }

    /**
     * parallel_tool_calls (the default) lets the model write several calls; a chatty model may go
     * on until max_tokens, so every call but one cut off by the length limit must validate.
     */
    @Test
    void parallelRequiredCallsEachValidate() {
        for (long seed = 0; seed < 2; seed++) {
            ChatCompletion c = client.chat().completions().create(
                    withTools(seed).toolChoice(ChatCompletionToolChoiceOption.Auto.REQUIRED).build());
            List<ChatCompletionMessageFunctionToolCall> calls = calls(c);
            boolean cut = ChatCompletion.Choice.FinishReason.LENGTH.equals(c.choices().getFirst().finishReason());
            if (!cut) assertEquals(ChatCompletion.Choice.FinishReason.TOOL_CALLS, c.choices().getFirst().finishReason());
            assertValidCalls(cut ? calls.subList(0, calls.size() - 1) : calls, "seed " + seed);
        }
    }

    @Test
    void namedCallCallsThatFunctionOnce() {
        for (long seed = 0; seed < 4; seed++) {
            ChatCompletion c = client.chat().completions().create(withTools(seed)
                    .toolChoice(ChatCompletionNamedToolChoice.builder()
                            .function(ChatCompletionNamedToolChoice.Function.builder().name("add").build()).build())
                    .build());
            List<ChatCompletionMessageFunctionToolCall> calls = calls(c);
            assertEquals(1, calls.size(), "a named tool_choice allows exactly one call: " + calls);
            assertEquals("add", calls.getFirst().function().name());
            assertValidCalls(calls, "seed " + seed);
            assertEquals(ChatCompletion.Choice.FinishReason.TOOL_CALLS, c.choices().getFirst().finishReason());
        }
    }

    /**
     * tool_choice auto leaves the model free and parses what it wrote. A small model seldom writes a
     * call by itself, so the text is steered with response_format into the JSON call shape the
     * Llama 2 template asks for: the parser must find it and return it as a call, not as content.
     */
    @Test
    void autoModeParsesACallOutOfTheText() {
        Map<String, Object> callShape = Map.of("type", "object", "properties", Map.of(
                "name", Map.of("const", "get_weather"), "arguments", jsonMap(WEATHER)),
                "required", List.of("name", "arguments"), "additionalProperties", false);
        Map<String, Object> format = Map.of("type", "json_schema", "json_schema", Map.of("name", "call", "schema", callShape));
        for (long seed = 0; seed < 3; seed++) {
            ChatCompletion c = client.chat().completions().create(withTools(seed)
                    .putAdditionalBodyProperty("response_format", JsonValue.from(format)).build());
            List<ChatCompletionMessageFunctionToolCall> calls = calls(c);
            assertEquals(1, calls.size(), c.toString());
            assertEquals("get_weather", calls.getFirst().function().name());
            assertValidCalls(calls, "seed " + seed);
            assertTrue(c.choices().getFirst().message().content().isEmpty(), c.toString());
            assertEquals(ChatCompletion.Choice.FinishReason.TOOL_CALLS, c.choices().getFirst().finishReason());
        }
        // Text that is no call stays content, and the choice ends as any other.
        ChatCompletion plain = client.chat().completions().create(withTools(0)
                .putAdditionalBodyProperty("guided_choice", JsonValue.from(List.of("It is sunny in Oslo."))).build());
        assertEquals("It is sunny in Oslo.", plain.choices().getFirst().message().content().orElseThrow());
        assertTrue(plain.choices().getFirst().message().toolCalls().orElse(List.of()).isEmpty());
        assertEquals(ChatCompletion.Choice.FinishReason.STOP, plain.choices().getFirst().finishReason());
    }

    @Test
    void streamedToolCallsAccumulateToTheWholeResponse() {
        for (long seed = 0; seed < 3; seed++) {
            // The last seed lets the model write several calls (and maybe run to max_tokens, cut in a call).
            ChatCompletionCreateParams params = withTools(seed).toolChoice(ChatCompletionToolChoiceOption.Auto.REQUIRED)
                    .parallelToolCalls(seed == 2).build();
            ChatCompletion whole = client.chat().completions().create(params);
            ChatCompletionAccumulator acc = ChatCompletionAccumulator.create();
            Map<Long, Integer> names = new HashMap<>();
            List<String> finishes = new ArrayList<>();
            try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(params)) {
                stream.stream().forEach(chunk -> {
                    acc.accumulate(chunk);
                    for (ChatCompletionChunk.Choice ch : chunk.choices()) {
                        ch.finishReason().ifPresent(f -> finishes.add(f.asString()));
                        for (ChatCompletionChunk.Choice.Delta.ToolCall t : ch.delta().toolCalls().orElse(List.of())) {
                            if (t.function().flatMap(ChatCompletionChunk.Choice.Delta.ToolCall.Function::name).isPresent()) {
                                names.merge(t.index(), 1, Integer::sum);
                            }
                        }
                    }
                });
            }
            List<ChatCompletionMessageFunctionToolCall> streamed = calls(acc.chatCompletion());
            List<ChatCompletionMessageFunctionToolCall> expected = calls(whole);
            assertEquals(expected.size(), streamed.size(), "seed " + seed);
            for (int i = 0; i < expected.size(); i++) {
                assertEquals(expected.get(i).function().name(), streamed.get(i).function().name());
                assertEquals(expected.get(i).function().arguments(), streamed.get(i).function().arguments(), "seed " + seed);
                assertEquals(1, names.get((long) i), "call " + i + "'s name is sent once");
            }
            String finish = whole.choices().getFirst().finishReason().asString();
            assertValidCalls(finish.equals("length") ? streamed.subList(0, streamed.size() - 1) : streamed, "streamed, seed " + seed);
            assertEquals(List.of(finish), finishes);
            if (seed < 2) assertEquals("tool_calls", finish);
        }
    }

    @Test
    void toolChoiceNamingAnUnknownFunctionIsRefused() {
        BadRequestException e = assertThrows(BadRequestException.class, () -> client.chat().completions().create(withTools(0)
                .toolChoice(ChatCompletionNamedToolChoice.builder()
                        .function(ChatCompletionNamedToolChoice.Function.builder().name("launch").build()).build())
                .build()));
        assertTrue(e.getMessage().contains("launch"), e.getMessage());
        assertEquals("tool_choice", e.param().orElseThrow());
    }
}
