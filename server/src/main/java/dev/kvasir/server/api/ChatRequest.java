package dev.kvasir.server.api;

import dev.kvasir.models.template.ChatMessage;

import java.util.List;

/**
 * A validated {@code POST /v1/chat/completions} body.
 *
 * @param tools  the functions the model may call, OpenAI's tool objects as plain JSON values
 *               ({@code Map}s, {@code List}s, strings, numbers), for the template's {@code tools}; null for none
 * @param memory the request's {@code memory} object ({@link MemoryOptions#DEFAULT} when absent)
 */
public record ChatRequest(String model, List<Message> messages, List<Object> tools, GenerationSpec spec, String user,
                          MemoryOptions memory) {

    /**
     * One chat turn; content already flattened from text parts.
     *
     * @param name       optional participant name, or null
     * @param toolCallId for {@code tool} messages: the call this message answers
     * @param toolCalls  for {@code assistant} messages: the functions it called, arguments parsed from JSON
     */
    public record Message(String role, String content, String name, String toolCallId, List<ChatMessage.ToolCall> toolCalls) {

        public Message {
            toolCalls = toolCalls == null ? List.of() : List.copyOf(toolCalls);
        }

        public Message(String role, String content, String name, String toolCallId) {
            this(role, content, name, toolCallId, List.of());
        }
    }

    public ChatRequest {
        messages = List.copyOf(messages);
    }
}
