package dev.kvasir.models.tools;

/**
 * How a model family writes tool calls; both the constraint ({@code tool_choice} required or
 * named) and the parser ({@code auto}) follow it.
 */
public enum ToolCallFormat {

    /**
     * Plain JSON: {@code {"name": "f", "arguments": {...}}}; parallel calls as a JSON array of such
     * objects. For models without a tool-call format of their own.
     */
    JSON,

    /**
     * Llama 3.1 / 3.2 JSON tool calls: {@code {"name": "f", "parameters": {...}}}, optionally after
     * {@code <|python_tag|>}; several separated by {@code ;}. The parser also reads {@code arguments}.
     */
    LLAMA3_JSON,

    /**
     * Hermes / Qwen style: each call {@code <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>},
     * several one after another.
     */
    HERMES
}
