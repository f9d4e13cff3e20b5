package dev.kvasir.models.tools;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds tool calls in a finished output: a pure function of the text and the model family's
 * {@link ToolCallFormat}, as vLLM's {@code llama3_json} and {@code hermes} parsers read them. An
 * output that is not a well-formed call (prose, a truncated or malformed call) comes back whole
 * as content with no calls, so a client never receives half a call.
 */
public final class ToolCallParser {

    private static final ObjectMapper JSON = new ObjectMapper();
    static final String PYTHON_TAG = "<|python_tag|>";
    static final String HERMES_OPEN = "<tool_call>", HERMES_CLOSE = "</tool_call>";

    private ToolCallParser() {}

    public static ParsedToolCalls parse(String text, ToolCallFormat format) {
        if (text == null) return new ParsedToolCalls(null, List.of());
        return switch (format) {
            case JSON -> json(text);
            case LLAMA3_JSON -> llama3(text);
            case HERMES -> hermes(text);
        };
    }

    private static ParsedToolCalls json(String text) {
        try {
            JsonNode node = JSON.readTree(text);
            List<ToolCall> calls = new ArrayList<>();
            if (node != null && node.isArray()) {
                for (JsonNode call : node) calls.add(call(call));
            } else if (node != null && node.isObject()) {
                calls.add(call(node));
            } else {
                return content(text);
            }
            return new ParsedToolCalls(null, calls);
        } catch (IOException | IllegalArgumentException e) {
            return content(text);
        }
    }

    /** {@code [<|python_tag|>] {...} [; {...}]*}: anything else is plain content. */
    private static ParsedToolCalls llama3(String text) {
        String s = text.strip();
        if (s.startsWith(PYTHON_TAG)) s = s.substring(PYTHON_TAG.length()).strip();
        if (!s.startsWith("{")) return content(text);
        List<ToolCall> calls = new ArrayList<>();
        try {
            while (!s.isEmpty()) {
                int end;
                try (JsonParser p = JSON.getFactory().createParser(s)) {
                    if (p.nextToken() != JsonToken.START_OBJECT) return content(text);
                    calls.add(call(JSON.readTree(p)));
                    end = (int) p.currentLocation().getCharOffset();
                }
                String rest = s.substring(end).strip();
                if (!rest.isEmpty() && !rest.startsWith(";")) return content(text);
                s = rest.isEmpty() ? rest : rest.substring(1).strip();
            }
        } catch (IOException | IllegalArgumentException e) {
            return content(text);
        }
        return new ParsedToolCalls(null, calls);
    }

    /** Every {@code <tool_call>...</tool_call>} block (the last may be unclosed); content is the text before the first. */
    private static ParsedToolCalls hermes(String text) {
        int first = text.indexOf(HERMES_OPEN);
        if (first < 0) return content(text);
        List<ToolCall> calls = new ArrayList<>();
        int at = first;
        while (at >= 0) {
            int bodyStart = at + HERMES_OPEN.length();
            int close = text.indexOf(HERMES_CLOSE, bodyStart);
            String body = close < 0 ? text.substring(bodyStart) : text.substring(bodyStart, close);
            try {
                JsonNode node = JSON.readTree(body);
                if (node == null || !node.isObject()) return content(text);
                calls.add(call(node));
            } catch (JsonProcessingException | IllegalArgumentException e) {
                return content(text);
            }
            if (close < 0) break;
            int next = text.indexOf(HERMES_OPEN, close + HERMES_CLOSE.length());
            String between = text.substring(close + HERMES_CLOSE.length(), next < 0 ? text.length() : next);
            if (!between.isBlank()) return content(text);
            at = next;
        }
        String before = text.substring(0, first);
        return new ParsedToolCalls(before.isBlank() ? null : before, calls);
    }

    /** A call object: a string "name" and an object "arguments" (or "parameters"). */
    private static ToolCall call(JsonNode node) throws JsonProcessingException {
        JsonNode name = node.get("name");
        JsonNode args = node.has("arguments") ? node.get("arguments") : node.get("parameters");
        if (name == null || !name.isTextual() || args == null) throw new IllegalArgumentException("not a call: " + node);
        // Some models write the arguments as a JSON string; OpenAI's field is that string.
        String arguments = args.isTextual() ? JSON.writeValueAsString(JSON.readTree(args.textValue())) : JSON.writeValueAsString(args);
        return new ToolCall(name.textValue(), arguments);
    }

    private static ParsedToolCalls content(String text) {
        return new ParsedToolCalls(text.isEmpty() ? null : text, List.of());
    }
}
