package dev.kvasir.models.tools;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The tool-call parsers on the outputs vLLM's llama3_json and hermes parsers handle, and on prose. */
class ToolCallParserTest {

    @Test
    void llama3JsonWithAndWithoutThePythonTag() {
        ParsedToolCalls p = ToolCallParser.parse("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}", ToolCallFormat.LLAMA3_JSON);
        assertEquals(List.of(new ToolCall("get_weather", "{\"city\":\"Oslo\"}")), p.calls());
        assertNull(p.content());
        p = ToolCallParser.parse("<|python_tag|>{\"name\": \"f\", \"arguments\": {}}; {\"name\": \"g\", \"parameters\": {\"x\": [1, 2]}}",
                ToolCallFormat.LLAMA3_JSON);
        assertEquals(List.of(new ToolCall("f", "{}"), new ToolCall("g", "{\"x\":[1,2]}")), p.calls());
    }

    @Test
    void llama3ProseAndBrokenCallsAreContent() {
        for (String text : List.of("The weather is fine.", "{\"name\": \"f\", \"parameters\": {\"city\": ", "{\"name\": 3, \"parameters\": {}}",
                "{\"name\": \"f\", \"parameters\": {}} and then some", "{\"foo\": 1}")) {
            ParsedToolCalls p = ToolCallParser.parse(text, ToolCallFormat.LLAMA3_JSON);
            assertFalse(p.hasCalls(), text);
            assertEquals(text, p.content());
        }
    }

    @Test
    void hermesBlocksWithContentBefore() {
        String text = "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>\n"
                + "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1}}\n</tool_call>";
        ParsedToolCalls p = ToolCallParser.parse(text, ToolCallFormat.HERMES);
        assertEquals("Let me check.\n", p.content());
        assertEquals(List.of(new ToolCall("get_weather", "{\"city\":\"Oslo\"}"), new ToolCall("add", "{\"a\":1}")), p.calls());
        // An unclosed last block (the stop token ended it) still counts when its JSON is whole.
        p = ToolCallParser.parse("<tool_call>\n{\"name\": \"ping\", \"arguments\": {}}\n", ToolCallFormat.HERMES);
        assertEquals(List.of(new ToolCall("ping", "{}")), p.calls());
        // Arguments written as a JSON string are unwrapped.
        p = ToolCallParser.parse("<tool_call>{\"name\": \"ping\", \"arguments\": \"{\\\"x\\\": 1}\"}</tool_call>", ToolCallFormat.HERMES);
        assertEquals(List.of(new ToolCall("ping", "{\"x\":1}")), p.calls());
    }

    @Test
    void hermesMalformedBlocksAreContent() {
        for (String text : List.of("no calls here", "<tool_call>{\"name\": \"f\", \"arguments\": {</tool_call>",
                "<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call> trailing words")) {
            ParsedToolCalls p = ToolCallParser.parse(text, ToolCallFormat.HERMES);
            assertFalse(p.hasCalls(), text);
            assertEquals(text, p.content());
        }
    }

    @Test
    void jsonObjectsAndArrays() {
        assertEquals(List.of(new ToolCall("f", "{\"a\":true}")),
                ToolCallParser.parse("{\"name\":\"f\",\"arguments\":{\"a\":true}}", ToolCallFormat.JSON).calls());
        assertEquals(2, ToolCallParser.parse("[{\"name\":\"f\",\"arguments\":{}}, {\"name\":\"g\",\"arguments\":{}}]", ToolCallFormat.JSON)
                .calls().size());
        assertFalse(ToolCallParser.parse("[1, 2]", ToolCallFormat.JSON).hasCalls());
        assertNull(ToolCallParser.parse("", ToolCallFormat.JSON).content());
    }
}
