package dev.kvasir.models.template;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One message of a conversation, as chat templates see it.
 *
 * @param role       {@code system}, {@code user}, {@code assistant}, {@code tool}...
 * @param content    the text; null for none (Python's None in the template)
 * @param name       optional participant name, or null
 * @param toolCallId for {@code tool} messages: the call this answers, or null
 */
public record ChatMessage(String role, String content, String name, String toolCallId) {

    public ChatMessage {
        if (role == null || role.isEmpty()) throw new IllegalArgumentException("chat message without a role");
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

    /** The message as the template's {@code message} dict: optional keys only when set, so {@code 'name' in message} works. */
    Map<String, Object> toTemplateValue() {
        Map<String, Object> value = new LinkedHashMap<>();
        value.put("role", role);
        value.put("content", content);
        if (name != null) value.put("name", name);
        if (toolCallId != null) value.put("tool_call_id", toolCallId);
        return value;
    }
}
