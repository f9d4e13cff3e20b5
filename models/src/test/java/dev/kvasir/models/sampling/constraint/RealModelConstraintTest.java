package dev.kvasir.models.sampling.constraint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.kernels.cpu.CpuBackend;
import dev.kvasir.models.GenerationResult;
import dev.kvasir.models.Generator;
import dev.kvasir.models.ModelLocator;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.models.sampling.SamplingParams;
import dev.kvasir.models.tokenizer.Tokenizer;
import dev.kvasir.models.tokenizer.Tokenizers;
import dev.kvasir.models.tools.ParsedToolCalls;
import dev.kvasir.models.tools.ToolCallFormat;
import dev.kvasir.models.tools.ToolCallParser;
import dev.kvasir.models.tools.ToolSpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real thing end to end: llama-2-tiny-random (random weights, the real 32k Llama 2 vocabulary)
 * run by {@link Generator} through the forward pass, the sampler applying the constraint, at
 * temperature 1 and greedy. Schemas here have bounded documents, so every output must finish
 * ({@code "stop"}) and validate.
 */
class RealModelConstraintTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static LoadedModel model;
    private static Tokenizer tokenizer;
    private static CpuBackend backend;
    private static Generator generator;
    private static Constraints constraints;

    @BeforeAll
    static void load() {
        model = ModelLoader.load(ModelLocator.testModel("llama-2-tiny-random.gguf"));
        tokenizer = Tokenizers.load(model);
        backend = new CpuBackend(2);
        generator = new Generator(model, tokenizer, backend, 2048);
        constraints = new Constraints(TokenVocabulary.of(tokenizer), 64);
    }

    @AfterAll
    static void close() {
        generator.close();
        backend.close();
        model.close();
    }

    private static SamplingParams sampling(int seed) {
        return seed % 4 == 0 ? SamplingParams.greedy() : SamplingParams.temperature(1f, (long) seed);
    }

    @Test
    void randomBoundedSchemasThroughTheModelValidate() throws Exception {
        RandomSchemas schemas = new RandomSchemas(31, true);
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            JsonNode schema = schemas.next();
            String schemaText = JSON.writeValueAsString(schema);
            ConstraintState state = constraints.jsonSchema(schema).newState();
            GenerationResult r = generator.generate(generator.encode("Reply in JSON:"), sampling(i), 1800, state, null);
            if (!r.finishReason().equals("stop")) {
                failures.add("finished by " + r.finishReason() + " after " + r.tokens().length + ": " + schemaText);
                continue;
            }
            List<String> errors = SchemaValidator.errors(schemaText, r.text());
            if (!errors.isEmpty()) failures.add(errors + "\n  schema " + schemaText + "\n  output " + r.text());
        }
        assertTrue(failures.isEmpty(), String.join("\n", failures));
    }

    @Test
    void regexAndChoiceThroughTheModel() {
        Pattern date = Pattern.compile("(19|20)\\d\\d-(0[1-9]|1[0-2])-[0-2]\\d");
        CompiledConstraint regex = constraints.regex(date.pattern());
        List<String> choices = List.of("positive", "negative", "neutral");
        CompiledConstraint choice = constraints.choice(choices);
        for (int seed = 0; seed < 12; seed++) {
            GenerationResult r = generator.generate(generator.encode("Date:"), sampling(seed), 64, regex.newState(), null);
            assertEquals("stop", r.finishReason());
            assertTrue(date.matcher(r.text()).matches(), r.text());
            r = generator.generate(generator.encode("Sentiment:"), sampling(seed), 64, choice.newState(), null);
            assertTrue(choices.contains(r.text()), r.text());
        }
    }

    @Test
    void strictToolCallsThroughTheModel() throws Exception {
        String params = """
                {"type": "object", "properties": {"city": {"type": "string", "maxLength": 10},
                 "days": {"type": "integer", "minimum": 1, "maximum": 7}}, "required": ["city", "days"], "additionalProperties": false}""";
        List<ToolSpec> tools = List.of(new ToolSpec("forecast", JSON.readTree(params)));
        for (ToolCallFormat format : ToolCallFormat.values()) {
            CompiledConstraint c = constraints.toolCall(tools, format, false);
            for (int seed = 0; seed < 4; seed++) {
                GenerationResult r = generator.generate(generator.encode("Call a tool:"), sampling(seed), 400, c.newState(), null);
                assertEquals("stop", r.finishReason(), r.text());
                ParsedToolCalls parsed = ToolCallParser.parse(r.text(), format);
                assertEquals(1, parsed.calls().size(), r.text());
                assertEquals("forecast", parsed.calls().getFirst().name());
                assertEquals(List.of(), SchemaValidator.errors(params, parsed.calls().getFirst().arguments()), r.text());
            }
        }
    }

    @Test
    void aLengthCutLeavesAPrefixThatStillCompletes() throws Exception {
        String schema = "{\"type\": \"object\", \"properties\": {\"n\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 99}}, "
                + "\"required\": [\"n\"], \"additionalProperties\": false}";
        CompiledConstraint c = constraints.jsonSchema(JSON.readTree(schema));
        for (int cut = 1; cut < 6; cut++) {
            ConstraintState state = c.newState();
            GenerationResult r = generator.generate(generator.encode("JSON:"), SamplingParams.temperature(1f, (long) cut), cut, state, null);
            if (r.finishReason().equals("stop")) continue;
            assertEquals(cut, r.tokens().length);
            // The same state continues (as the engine could after a larger budget) to a valid document.
            int[] prompt = concat(generator.encode("JSON:"), r.tokens());
            GenerationResult rest = generator.generate(prompt, SamplingParams.greedy(), 200, state, null);
            assertEquals("stop", rest.finishReason());
            String whole = tokenizer.decode(concat(r.tokens(), rest.tokens()));
            assertEquals(List.of(), SchemaValidator.errors(schema, whole), whole);
        }
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
