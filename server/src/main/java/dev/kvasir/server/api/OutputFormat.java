package dev.kvasir.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kvasir.models.sampling.constraint.CompiledConstraint;
import dev.kvasir.models.sampling.constraint.Constraints;

import java.util.List;

/**
 * What a request asked its output to match: OpenAI's {@code response_format} or one of vLLM's
 * {@code guided_*} fields, checked for shape by the parser and compiled later, on a worker, against
 * the served model's vocabulary. {@link #param()} names the field in a 400.
 */
sealed interface OutputFormat {

    /** The request field that asked for it. */
    String param();

    /** The constraint against the served model's vocabulary (cached there); throws ConstraintException naming what it refuses. */
    CompiledConstraint compile(Constraints constraints);

    /** {@code response_format: {"type": "json_object"}}: any JSON object. */
    record JsonObject() implements OutputFormat {
        public String param() { return "response_format"; }
        public CompiledConstraint compile(Constraints c) { return c.jsonObject(); }
    }

    /** {@code response_format: {"type": "json_schema", "json_schema": {"schema": ...}}}, or vLLM's {@code guided_json}. */
    record JsonSchema(JsonNode schema, String param) implements OutputFormat {
        public CompiledConstraint compile(Constraints c) { return c.jsonSchema(schema); }
    }

    /** {@code guided_regex}: the whole output matches the regular expression. */
    record Regex(String pattern) implements OutputFormat {
        public String param() { return "guided_regex"; }
        public CompiledConstraint compile(Constraints c) { return c.regex(pattern); }
    }

    /** {@code guided_choice}: the output is exactly one of the strings. */
    record Choice(List<String> choices) implements OutputFormat {
        public Choice {
            choices = List.copyOf(choices);
        }
        public String param() { return "guided_choice"; }
        public CompiledConstraint compile(Constraints c) { return c.choice(choices); }
    }

    /** {@code guided_grammar}: a llama.cpp GBNF grammar whose {@code root} rule the output derives from. */
    record Grammar(String gbnf) implements OutputFormat {
        public String param() { return "guided_grammar"; }
        public CompiledConstraint compile(Constraints c) { return c.grammar(gbnf); }
    }
}
