package dev.kvasir.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kvasir.models.tools.ToolCallFormat;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A choice's text read as content and tool calls, in every format, whether it arrives whole or
 * cut at any character (as a stream's tokens cut it): the pieces must put together the same
 * message, each call's name must go out once, and its argument fragments must concatenate to its
 * arguments' JSON.
 */
class ToolCallStreamTest {

    /** The message the pieces make: content (null when none), then per call "name(arguments)". */
    record Message(String content, List<String> calls) {}

    private static Message read(OutputPlan.ToolOutput mode, ToolCallFormat format, List<String> chunks) {
        ToolCallStream stream = new ToolCallStream(mode, format);
        List<ToolCallStream.Piece> pieces = new ArrayList<>();
        for (String chunk : chunks) pieces.addAll(stream.push(chunk));
        pieces.addAll(stream.finish());
        StringBuilder content = new StringBuilder();
        List<String> names = new ArrayList<>();
        List<StringBuilder> arguments = new ArrayList<>();
        for (ToolCallStream.Piece p : pieces) {
            switch (p) {
                case ToolCallStream.Content c -> content.append(c.text());
                case ToolCallStream.CallStart s -> {
                    assertEquals(names.size(), s.index(), "calls are numbered in order");
                    assertTrue(s.id().startsWith("call_"));
                    names.add(s.name());
                    arguments.add(new StringBuilder());
                }
                case ToolCallStream.Arguments a -> arguments.get(a.index()).append(a.fragment());
            }
        }
        assertEquals(!names.isEmpty(), stream.hasCalls());
        List<String> calls = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) calls.add(names.get(i) + "(" + canonical(arguments.get(i).toString()) + ")");
        return new Message(content.isEmpty() ? null : content.toString(), calls);
    }

    private static String canonical(String json) {
        try {
            JsonNode node = Json.MAPPER.readTree(json);
            return node.toString();
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new AssertionError("arguments are not JSON: " + json, e);
        }
    }

    /** The same text whole, one character at a time, and cut in two at every position. */
    private static void assertReads(OutputPlan.ToolOutput mode, ToolCallFormat format, String text, Message expected) {
        assertEquals(expected, read(mode, format, List.of(text)), "whole");
        List<String> chars = new ArrayList<>();
        for (int i = 0; i < text.length(); i++) chars.add(text.substring(i, i + 1));
        assertEquals(expected, read(mode, format, chars), "one character at a time");
        for (int cut = 1; cut < text.length(); cut++) {
            assertEquals(expected, read(mode, format, List.of(text.substring(0, cut), text.substring(cut))), "cut at " + cut);
        }
    }

    @Test
    void requiredCallsInEveryFormat() {
        Message two = new Message(null, List.of("get_weather({\"city\":\"Oslo \\\"N\\\"\",\"days\":[1,2]})", "add({\"a\":1,\"b\":{\"c\":null}})"));
        assertReads(OutputPlan.ToolOutput.CALLS, ToolCallFormat.JSON,
                "[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo \\\"N\\\"\", \"days\": [1, 2]}}, "
                        + "{\"name\":\"add\",\"arguments\":{\"a\":1,\"b\":{\"c\":null}}}]", two);
        assertReads(OutputPlan.ToolOutput.CALLS, ToolCallFormat.HERMES,
                "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo \\\"N\\\"\", \"days\": [1, 2]}}\n</tool_call>\n"
                        + "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": {\"c\": null}}}\n</tool_call>", two);
        assertReads(OutputPlan.ToolOutput.CALLS, ToolCallFormat.LLAMA3_JSON,
                "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo \\\"N\\\"\", \"days\": [1, 2]}}; "
                        + "{\"name\": \"add\", \"parameters\": {\"a\": 1, \"b\": {\"c\": null}}}", two);
    }

    @Test
    void autoModeParsesCallsAndKeepsOtherTextAsContent() {
        Message call = new Message(null, List.of("get_weather({\"city\":\"Oslo\"})"));
        assertReads(OutputPlan.ToolOutput.PARSE, ToolCallFormat.JSON,
                "  {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}", call);
        assertReads(OutputPlan.ToolOutput.PARSE, ToolCallFormat.LLAMA3_JSON,
                "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}", call);
        assertReads(OutputPlan.ToolOutput.PARSE, ToolCallFormat.HERMES,
                "Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>",
                new Message("Let me look.\n", call.calls()));
        // No call: all of it is content, whatever it looked like at first.
        assertReads(OutputPlan.ToolOutput.PARSE, ToolCallFormat.JSON, "It is sunny.", new Message("It is sunny.", List.of()));
        assertReads(OutputPlan.ToolOutput.PARSE, ToolCallFormat.JSON, "{\"temp\": 20}", new Message("{\"temp\": 20}", List.of()));
        assertReads(OutputPlan.ToolOutput.PARSE, ToolCallFormat.HERMES, "a < b, <tool", new Message("a < b, <tool", List.of()));
    }
}
