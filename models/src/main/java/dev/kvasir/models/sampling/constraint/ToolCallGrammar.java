package dev.kvasir.models.sampling.constraint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.models.tools.ToolCallFormat;
import dev.kvasir.models.tools.ToolSpec;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Grammar rules for "the output is a call of one of these tools" in a model family's format
 * ({@link ToolCallFormat}): the name is one of the tools', and the arguments object is valid under
 * that tool's parameters schema (compiled like {@code response_format} schemas). Parallel calls:
 * a JSON array ({@code JSON}), calls separated by {@code ;} ({@code LLAMA3_JSON}), or consecutive
 * {@code <tool_call>} blocks ({@code HERMES}). Text tokens spell the Hermes tags; a vocabulary's
 * special token for them is not used.
 */
final class ToolCallGrammar {

    private static final ObjectMapper JSON = new ObjectMapper();

    private ToolCallGrammar() {}

    static GrammarRules rules(List<ToolSpec> tools, ToolCallFormat format, boolean parallel) {
        Map<String, Expr> rules = new LinkedHashMap<>();
        Set<String> names = new HashSet<>();
        List<Expr> calls = new ArrayList<>();
        String argumentsKey = format == ToolCallFormat.LLAMA3_JSON ? "parameters" : "arguments";
        for (int i = 0; i < tools.size(); i++) {
            ToolSpec tool = tools.get(i);
            if (!names.add(tool.name())) throw new ConstraintException("tools: the name '" + tool.name() + "' is used twice");
            Expr arguments;
            if (tool.parameters() == null) {
                JsonGrammar.addGenericRules(rules);
                arguments = new Expr.Ref(JsonGrammar.OBJECT);
            } else {
                try {
                    arguments = JsonSchemaCompiler.embed(tool.parameters(), rules, "tool" + i + ":");
                } catch (ConstraintException e) {
                    throw new ConstraintException("tools[" + i + "] (" + tool.name() + ") parameters: " + e.getMessage());
                }
            }
            calls.add(Expr.seq(Expr.literal("{"), JsonGrammar.WS, Expr.literal("\"name\""), JsonGrammar.WS, Expr.literal(":"),
                    JsonGrammar.WS, Expr.literal(quoted(tool.name())), JsonGrammar.WS, Expr.literal(","), JsonGrammar.WS,
                    Expr.literal("\"" + argumentsKey + "\""), JsonGrammar.WS, Expr.literal(":"), JsonGrammar.WS, arguments,
                    JsonGrammar.WS, Expr.literal("}")));
        }
        Expr call = Expr.alt(calls);
        Expr root = switch (format) {
            case JSON -> parallel
                    ? Expr.seq(Expr.literal("["), JsonGrammar.WS, call, JsonGrammar.WS,
                            Expr.star(Expr.seq(Expr.literal(","), JsonGrammar.WS, call, JsonGrammar.WS)), Expr.literal("]"))
                    : call;
            case LLAMA3_JSON -> parallel
                    ? Expr.seq(call, Expr.star(Expr.seq(Expr.literal(";"), Expr.optional(Expr.literal(" ")), call)))
                    : call;
            case HERMES -> {
                Expr block = Expr.seq(Expr.literal("<tool_call>\n"), call, Expr.literal("\n</tool_call>"));
                yield parallel ? Expr.seq(block, Expr.star(Expr.seq(Expr.literal("\n"), block))) : block;
            }
        };
        rules.put("root", root);
        return new GrammarRules(rules, "root", Set.of(JsonGrammar.OBJECT, JsonGrammar.ARRAY));
    }

    private static String quoted(String name) {
        try {
            return JSON.writeValueAsString(name);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
