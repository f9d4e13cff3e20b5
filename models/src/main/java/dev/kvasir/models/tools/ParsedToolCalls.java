package dev.kvasir.models.tools;

import java.util.List;

/**
 * A model's output split into what the user reads and the calls it made.
 *
 * @param content the text outside tool calls (the whole output when it holds none), null when empty
 * @param calls   calls in the order written; empty when the output holds none (or malformed ones)
 */
public record ParsedToolCalls(String content, List<ToolCall> calls) {

    public ParsedToolCalls {
        calls = List.copyOf(calls);
    }

    public boolean hasCalls() {
        return !calls.isEmpty();
    }
}
