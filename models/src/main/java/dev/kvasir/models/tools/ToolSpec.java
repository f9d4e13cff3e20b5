package dev.kvasir.models.tools;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A function the model may call: OpenAI's {@code tools[i].function} without the description.
 *
 * @param name       the function name the call must carry
 * @param parameters JSON Schema of the arguments object; null: any JSON object
 */
public record ToolSpec(String name, JsonNode parameters) {

    public ToolSpec {
        if (name == null || name.isEmpty()) throw new IllegalArgumentException("tool name is empty");
    }
}
