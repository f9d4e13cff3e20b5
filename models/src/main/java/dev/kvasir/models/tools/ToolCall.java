package dev.kvasir.models.tools;

/**
 * One call the model made: OpenAI's {@code tool_calls[i].function}.
 *
 * @param name      the function's name
 * @param arguments the arguments as compact JSON text (OpenAI sends them as a string)
 */
public record ToolCall(String name, String arguments) {}
