package dev.kvasir.server.api;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RequestParserTest {

    private final RequestParser parser = new RequestParser(8);

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void chatFieldsAndDefaults() {
        ChatRequest r = parser.chat(b("""
                {"model":"m","messages":[{"role":"system","content":"be brief"},
                 {"role":"user","content":[{"type":"text","text":"hel"},{"type":"text","text":"lo"}]}],
                 "max_tokens":5,"max_completion_tokens":7,"stop":"END","n":2,"seed":-3,
                 "logprobs":true,"top_logprobs":2,"stream":true,"stream_options":{"include_usage":true}}"""));
        assertEquals("hel\nlo", r.messages().get(1).content());   // text parts join with "\n", as vLLM joins them
        GenerationSpec s = r.spec();
        assertEquals(7, s.maxTokens());            // max_completion_tokens wins
        assertEquals(List.of("END"), s.stop());
        assertEquals(2, s.n());
        assertEquals(-3L, s.sampling().seed());
        assertEquals(2, s.topLogprobs());
        assertTrue(s.includeUsage());
        assertEquals(1.0f, s.sampling().temperature());        // OpenAI's default
        assertEquals(0, s.sampling().topK());
    }

    @Test
    void completionPromptsAsTextTokensAndLists() {
        assertEquals(1, parser.completion(b("{\"prompt\":\"hi\"}")).prompts().size());
        assertEquals(3, parser.completion(b("{\"prompt\":[1,2,3]}")).prompts().getFirst().tokens().length);
        assertEquals(2, parser.completion(b("{\"prompt\":[[1,2],[3]]}")).prompts().size());
        assertEquals(2, parser.completion(b("{\"prompt\":[\"a\",\"b\"]}")).prompts().size());
        assertEquals(16, parser.completion(b("{\"prompt\":\"x\"}")).spec().maxTokens());
        assertNull(parser.chat(b("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}")).spec().maxTokens());
    }

    @Test
    void refusalsNameTheParameter() {
        assertEquals("temperature", assertThrows(ApiException.class,
                () -> parser.chat(b("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":3}"))).param());
        assertEquals("n", assertThrows(ApiException.class,
                () -> parser.chat(b("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":9}"))).param());
        assertEquals("max_tokens", assertThrows(ApiException.class,
                () -> parser.completion(b("{\"prompt\":\"x\",\"max_tokens\":1e3}"))).param());
        assertEquals("prompt", assertThrows(ApiException.class, () -> parser.completion(b("{\"prompt\":[1.5]}"))).param());
        assertEquals(400, assertThrows(ApiException.class, () -> parser.chat(b("{\"messages\":"))).status().code());
        assertEquals(400, assertThrows(ApiException.class, () -> parser.chat(b("[" .repeat(1000)))).status().code());
    }

    @Test
    void toolCallsAndToolsReachTheRequest() {
        ChatRequest r = parser.chat(b("""
                {"messages":[{"role":"user","content":"weather?"},
                 {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",
                  "function":{"name":"get_weather","arguments":"{\\"city\\": \\"Paris\\", \\"days\\": [1, 2.5]}"}}]},
                 {"role":"tool","tool_call_id":"c1","content":"sunny"}],
                 "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}"""));
        ChatRequest.Message call = r.messages().get(1);
        assertEquals("", call.content());
        assertEquals(1, call.toolCalls().size());
        assertEquals("c1", call.toolCalls().getFirst().id());
        assertEquals("get_weather", call.toolCalls().getFirst().name());
        assertEquals(java.util.Map.of("city", "Paris", "days", List.of(1, 2.5)), call.toolCalls().getFirst().arguments());
        assertEquals(List.of(java.util.Map.of("type", "function",
                "function", java.util.Map.of("name", "get_weather", "parameters", java.util.Map.of("type", "object")))), r.tools());
        assertTrue(r.messages().getFirst().toolCalls().isEmpty());
        assertNull(parser.chat(b("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[]}")).tools());
    }

    @Test
    void badToolCallsAndToolsAre400sNamingTheParameter() {
        String user = "{\"role\":\"user\",\"content\":\"x\"}";
        for (String call : List.of("\"tool_calls\":{}", "\"tool_calls\":[1]", "\"tool_calls\":[{\"function\":{}}]",
                "\"tool_calls\":[{\"type\":\"code\",\"function\":{\"name\":\"f\"}}]",
                "\"tool_calls\":[{\"function\":{\"name\":\"f\",\"arguments\":\"{not json\"}}]",
                "\"tool_calls\":[{\"function\":{\"name\":\"f\",\"arguments\":\"[1]\"}}]")) {
            ApiException e = assertThrows(ApiException.class, () -> parser.chat(b("{\"messages\":[" + user
                    + ",{\"role\":\"assistant\",\"content\":\"\"," + call + "}]}")), call);
            assertEquals("messages", e.param(), call);
            assertEquals(400, e.status().code());
        }
        assertEquals("messages", assertThrows(ApiException.class, () -> parser.chat(b("{\"messages\":[{\"role\":\"user\","
                + "\"content\":\"x\",\"tool_calls\":[{\"function\":{\"name\":\"f\"}}]}]}"))).param());
        for (String tools : List.of("{}", "[1]", "[{\"type\":\"function\"}]", "[{\"type\":\"x\",\"function\":{\"name\":\"f\"}}]")) {
            assertEquals("tools", assertThrows(ApiException.class,
                    () -> parser.chat(b("{\"messages\":[" + user + "],\"tools\":" + tools + "}")), tools).param());
        }
    }

    @Test
    void stopIsBoundedInCountAndLength() {
        String user = "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":";
        assertEquals(4, parser.chat(b(user + "[\"a\",\"b\",\"c\",\"d\"]}")).spec().stop().size());
        ApiException five = assertThrows(ApiException.class, () -> parser.chat(b(user + "[\"a\",\"b\",\"c\",\"d\",\"e\"]}")));
        assertEquals("stop", five.param());
        assertEquals(400, five.status().code());
        String max = "s".repeat(RequestParser.MAX_STOP_CHARS);
        assertEquals(List.of(max), parser.chat(b(user + "\"" + max + "\"}")).spec().stop());
        assertEquals("stop", assertThrows(ApiException.class, () -> parser.chat(b(user + "\"" + max + "s\"}"))).param());
        assertEquals("stop", assertThrows(ApiException.class,
                () -> parser.completion(b("{\"prompt\":\"x\",\"stop\":[\"" + max + "s\"]}"))).param());
    }

    private static final String TOOLS = "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
            + "\"parameters\":{\"type\":\"object\"}}},{\"type\":\"function\",\"function\":{\"name\":\"g\"}}]";

    private ChatRequest chatWith(String fields) {
        return parser.chat(b("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]," + fields + "}"));
    }

    @Test
    void toolChoiceAndOutputFormats() {
        ToolUse auto = chatWith(TOOLS).toolUse();
        assertEquals(ToolUse.Choice.AUTO, auto.choice());
        assertEquals(List.of("f", "g"), auto.tools().stream().map(t -> t.name()).toList());
        assertEquals(ToolUse.Choice.NONE, chatWith("\"temperature\":0").toolUse().choice());
        ToolUse named = chatWith(TOOLS + ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"g\"}},"
                + "\"parallel_tool_calls\":false").toolUse();
        assertEquals(ToolUse.Choice.NAMED, named.choice());
        assertEquals(List.of("g"), named.callable().stream().map(t -> t.name()).toList());
        assertEquals(false, named.parallel());
        assertEquals(ToolUse.Choice.REQUIRED, chatWith(TOOLS + ",\"tool_choice\":\"required\"").toolUse().choice());

        assertEquals(new OutputFormat.JsonObject(), chatWith("\"response_format\":{\"type\":\"json_object\"}").spec().outputFormat());
        assertEquals(null, chatWith("\"response_format\":{\"type\":\"text\"}").spec().outputFormat());
        assertEquals(new OutputFormat.Choice(List.of("a", "b")), chatWith("\"guided_choice\":[\"a\",\"b\"]").spec().outputFormat());
        assertEquals("guided_json", chatWith("\"guided_json\":\"{\\\"type\\\":\\\"string\\\"}\"").spec().outputFormat().param());
    }

    @Test
    void toolAndFormatRefusalsNameTheParameter() {
        assertEquals("tool_choice", assertThrows(ApiException.class, () -> chatWith("\"tool_choice\":\"required\"")).param());
        assertEquals("tool_choice", assertThrows(ApiException.class, () -> chatWith(TOOLS + ",\"tool_choice\":\"always\"")).param());
        assertEquals("tool_choice", assertThrows(ApiException.class,
                () -> chatWith(TOOLS + ",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"h\"}}")).param());
        assertEquals("response_format", assertThrows(ApiException.class, () -> chatWith("\"response_format\":\"json\"")).param());
        assertEquals("response_format", assertThrows(ApiException.class,
                () -> chatWith("\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"x\"}}")).param());
        assertEquals("guided_json", assertThrows(ApiException.class, () -> chatWith("\"guided_json\":\"{not json\"")).param());
        assertEquals("guided_choice", assertThrows(ApiException.class, () -> chatWith("\"guided_choice\":[]")).param());
        assertEquals("guided_choice", assertThrows(ApiException.class,
                () -> chatWith("\"guided_choice\":[\"a\"],\"guided_regex\":\"a\"")).param());
    }
}
