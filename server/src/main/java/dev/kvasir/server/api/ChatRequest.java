package dev.kvasir.server.api;

import java.util.List;

/** A validated {@code POST /v1/chat/completions} body. */
public record ChatRequest(String model, List<Message> messages, GenerationSpec spec, String user) {

    /**
     * One chat turn; content already flattened from text parts.
     *
     * @param name       optional participant name, or null
     * @param toolCallId for {@code tool} messages: the call this message answers
     */
    public record Message(String role, String content, String name, String toolCallId) {}

    public ChatRequest {
        messages = List.copyOf(messages);
    }
}
