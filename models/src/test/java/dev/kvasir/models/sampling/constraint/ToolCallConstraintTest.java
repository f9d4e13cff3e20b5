package dev.kvasir.models.sampling.constraint;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.models.tools.ParsedToolCalls;
import dev.kvasir.models.tools.ToolCall;
import dev.kvasir.models.tools.ToolCallFormat;
import dev.kvasir.models.tools.ToolCallParser;
import dev.kvasir.models.tools.ToolSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Strict tool calls: a constrained output in each model family's format parses into calls of the
 * given tools whose arguments validate against the tool's parameters schema.
 */
class ToolCallConstraintTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String WEATHER = """
            {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12},
             "unit": {"enum": ["celsius", "fahrenheit"]}}, "required": ["city", "unit"], "additionalProperties": false}""";
    private static final String ADD = """
            {"type": "object", "properties": {"a": {"type": "integer", "minimum": -50, "maximum": 50},
             "b": {"type": "number", "minimum": 0, "exclusiveMaximum": 1}}, "required": ["a"], "additionalProperties": false}""";

    private static List<ToolSpec> tools() throws Exception {
        return List.of(new ToolSpec("get_weather", JSON.readTree(WEATHER)), new ToolSpec("add", JSON.readTree(ADD)),
                new ToolSpec("ping", null));
    }

    @ParameterizedTest
    @EnumSource(ToolCallFormat.class)
    void requiredCallsParseAndValidate(ToolCallFormat format) throws Exception {
        Map<String, String> schemas = Map.of("get_weather", WEATHER, "add", ADD, "ping", "{\"type\": \"object\"}");
        for (boolean parallel : new boolean[] {false, true}) {
            CompiledConstraint c = Fixtures.llama2Constraints().toolCall(tools(), format, parallel);
            int many = 0;
            for (int seed = 0; seed < 15; seed++) {
                // A weaker pull towards stop tokens leaves room for a second call.
                Fixtures.Decoded d = Fixtures.decode(c, Fixtures.llama2(), seed, 1500, parallel ? 1f : 3f);
                assertTrue(d.complete(), d.text());
                ParsedToolCalls parsed = ToolCallParser.parse(d.text(), format);
                assertTrue(parsed.hasCalls(), format + " output parses: " + d.text());
                if (!parallel) assertEquals(1, parsed.calls().size(), d.text());
                many += parsed.calls().size() > 1 ? 1 : 0;
                for (ToolCall call : parsed.calls()) {
                    assertTrue(schemas.containsKey(call.name()), call.name());
                    assertEquals(List.of(), SchemaValidator.errors(schemas.get(call.name()), call.arguments()), d.text());
                }
            }
            if (parallel) assertTrue(many > 0, "parallel " + format + " sometimes makes several calls");
        }
    }

    @Test
    void aNamedToolIsTheOnlyOneCalled() throws Exception {
        CompiledConstraint c = Fixtures.llama2Constraints().toolCall(List.of(tools().get(1)), ToolCallFormat.JSON, false);
        for (int seed = 0; seed < 10; seed++) {
            Fixtures.Decoded d = Fixtures.decode(c, Fixtures.llama2(), seed, 500, 3f);
            ParsedToolCalls parsed = ToolCallParser.parse(d.text(), ToolCallFormat.JSON);
            assertEquals("add", parsed.calls().getFirst().name(), d.text());
        }
    }

    @Test
    void badToolsAreRefusedNamingTheTool() throws Exception {
        ToolSpec bad = new ToolSpec("lookup", JSON.readTree("{\"type\": \"object\", \"properties\": {\"q\": {\"oneOf\": []}}}"));
        ConstraintException e = assertThrows(ConstraintException.class,
                () -> Fixtures.llama2Constraints().toolCall(List.of(bad), ToolCallFormat.HERMES, false));
        assertTrue(e.getMessage().contains("lookup") && e.getMessage().contains("oneOf"), e.getMessage());
        ToolSpec twice = new ToolSpec("lookup", null);
        e = assertThrows(ConstraintException.class,
                () -> Fixtures.llama2Constraints().toolCall(List.of(twice, twice), ToolCallFormat.JSON, false));
        assertTrue(e.getMessage().contains("used twice"), e.getMessage());
    }
}
