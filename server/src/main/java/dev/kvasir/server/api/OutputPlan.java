package dev.kvasir.server.api;

import dev.kvasir.models.sampling.constraint.CompiledConstraint;
import dev.kvasir.models.sampling.constraint.ConstraintException;
import dev.kvasir.models.tools.ToolCallFormat;
import dev.kvasir.server.ServedModel;

/**
 * How a request's output is shaped and read, decided on a worker before the engine sees it: the
 * constraint the engine decodes under ({@code response_format}, {@code guided_*}, or a required tool
 * call), and whether the text is read as tool calls, in the model family's format.
 *
 * @param constraint compiled against the served model's vocabulary (and cached there); null: free text
 * @param tools      what the text holds: the answer ({@code NONE}), maybe calls ({@code PARSE}, tool_choice
 *                   auto), or nothing but calls ({@code CALLS}, tool_choice required or named)
 * @param format     the tool-call format the constraint writes and the parser reads
 */
record OutputPlan(CompiledConstraint constraint, ToolOutput tools, ToolCallFormat format) {

    enum ToolOutput { NONE, PARSE, CALLS }

    static final OutputPlan FREE = new OutputPlan(null, ToolOutput.NONE, ToolCallFormat.JSON);

    /**
     * Parsing needs the text with its special tokens: a Llama 3.1 call starts with the control
     * token {@code <|python_tag|>}, which decoding otherwise drops (vLLM's tool parsers ask the same).
     */
    boolean keepSpecialTokens() {
        return tools == ToolOutput.PARSE && format != ToolCallFormat.JSON;
    }

    /**
     * Compiles what the request asked for; a grammar the compiler refuses is a 400 naming the field
     * ({@code response_format}, {@code guided_regex}, {@code tools}, ...) with the compiler's reason.
     * Compilation may take a few hundred milliseconds for a large schema: call it on a worker.
     *
     * @param format what the output must match, or null
     */
    static OutputPlan of(ServedModel model, OutputFormat format, ToolUse tools) {
        ToolCallFormat calls = model.toolCallFormat();
        if (tools.callRequired()) {
            if (format != null) {
                throw ApiException.badRequest("tool_choice", "tool_choice '" + tools.choice().name().toLowerCase(java.util.Locale.ROOT)
                        + "' makes the output a tool call; it cannot also follow '" + format.param() + "'");
            }
            try {
                boolean parallel = tools.choice() == ToolUse.Choice.REQUIRED && tools.parallel();
                return new OutputPlan(model.constraints().toolCall(tools.callable(), calls, parallel), ToolOutput.CALLS, calls);
            } catch (ConstraintException e) {
                throw refused("tools", e);
            }
        }
        ToolOutput output = tools.choice() == ToolUse.Choice.AUTO ? ToolOutput.PARSE : ToolOutput.NONE;
        if (format == null) return output == ToolOutput.NONE ? FREE : new OutputPlan(null, output, calls);
        try {
            return new OutputPlan(format.compile(model.constraints()), output, calls);
        } catch (ConstraintException e) {
            throw refused(format.param(), e);
        }
    }

    private static ApiException refused(String param, ConstraintException e) {
        return ApiException.badRequest(param, "'" + param + "' cannot be used: " + Json.abbreviate(e.getMessage(), 1000));
    }
}
