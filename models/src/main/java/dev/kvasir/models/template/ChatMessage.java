package dev.kvasir.models.template;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One message of a conversation, as chat templates see it.
 *
 * @param role       {@code system}, {@code user}, {@code assistant}, {@code tool}...
 * @param content    the text; null for none (Python's None in the template)
 * @param name       optional participant name, or null
 * @param toolCallId for {@code tool} messages: the call this answers, or null
 * @param toolCalls  for {@code assistant} messages: the functions it called; empty for none
 */
public record ChatMessage(String role, String content, String name, String toolCallId, List<ToolCall> toolCalls) {

    /**
     * One function call of an assistant turn.
     *
     * @param id        the call's id, which the {@code tool} message answering it repeats
     * @param name      the function's name
     * @param arguments the arguments as plain JSON values (a {@code Map} for an object), as Hugging
     *                  Face templates expect them: Llama 3.1's writes {@code arguments | tojson}
     */
    public record ToolCall(String id, String name, Object arguments) {

        public ToolCall {
            if (name == null || name.isEmpty()) throw new IllegalArgumentException("tool call without a function name");
        }

        /** OpenAI's shape, {@code {id, type: "function", function: {name, arguments}}}, as the template's dict. */
        Map<String, Object> toTemplateValue() {
            Map<String, Object> function = new LinkedHashMap<>();
            function.put("name", name);
            function.put("arguments", arguments);
            Map<String, Object> value = new LinkedHashMap<>();
            if (id != null) value.put("id", id);
            value.put("type", "function");
            value.put("function", function);
            return value;
        }
    }

    public ChatMessage {
        if (role == null || role.isEmpty()) throw new IllegalArgumentException("chat message without a role");
        toolCalls = toolCalls == null ? List.of() : List.copyOf(toolCalls);
    }

    public ChatMessage(String role, String content, String name, String toolCallId) {
        this(role, content, name, toolCallId, List.of());
    }

    public ChatMessage(String role, String content) {
        this(role, content, null, null);
    }

    public static ChatMessage system(String content) {
        return new ChatMessage("system", content);
    }

    public static ChatMessage user(String content) {
        return new ChatMessage("user", content);
    }

    public static ChatMessage assistant(String content) {
        return new ChatMessage("assistant", content);
    }

    /** An assistant turn that called functions, with {@code content} said alongside (or null). */
    public static ChatMessage assistant(String content, List<ToolCall> toolCalls) {
        return new ChatMessage("assistant", content, null, null, toolCalls);
    }

    /** A function's result, answering the call {@code toolCallId}. */
    public static ChatMessage tool(String toolCallId, String content) {
        return new ChatMessage("tool", content, null, toolCallId);
    }

    /**
     * The message as the template's {@code message} dict: optional keys only when set, so
     * {@code 'name' in message} and {@code 'tool_calls' in message} work as with Hugging Face.
     */
    Map<String, Object> toTemplateValue() {
        Map<String, Object> value = new LinkedHashMap<>();
        value.put("role", role);
        value.put("content", content);
        if (name != null) value.put("name", name);
        if (toolCallId != null) value.put("tool_call_id", toolCallId);
        if (!toolCalls.isEmpty()) value.put("tool_calls", toolCalls.stream().map(ToolCall::toTemplateValue).toList());
        return value;
    }
}
