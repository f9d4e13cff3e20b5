package dev.kvasir.server.api;

import dev.kvasir.models.tools.ToolSpec;

import java.util.List;

/**
 * A chat request's functions as calls are checked against them, and how the model may call them.
 *
 * @param tools    name and parameters schema of each function in {@code tools}; empty: none
 * @param choice   {@code tool_choice}; {@code AUTO} when tools are given without one, else {@code NONE}
 * @param function the function a named {@code tool_choice} requires, else null
 * @param parallel {@code parallel_tool_calls} (OpenAI's default: true): a required call may be several
 */
record ToolUse(List<ToolSpec> tools, Choice choice, String function, boolean parallel) {

    /** {@code "none"}, {@code "auto"}, {@code "required"}, or {@code {"type": "function", "function": {"name": ...}}}. */
    enum Choice { NONE, AUTO, REQUIRED, NAMED }

    static final ToolUse NO_TOOLS = new ToolUse(List.of(), Choice.NONE, null, true);

    ToolUse {
        tools = List.copyOf(tools);
    }

    /** The output must be a call (the grammar makes it one). */
    boolean callRequired() {
        return choice == Choice.REQUIRED || choice == Choice.NAMED;
    }

    /** The functions a required call may name: the named one, or all. */
    List<ToolSpec> callable() {
        return choice == Choice.NAMED ? tools.stream().filter(t -> t.name().equals(function)).toList() : tools;
    }
}
