package dev.kvasir.models.sampling.constraint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * JSON Schema constraints over the real Llama 2 vocabulary: whatever the (random) logits, every
 * output is JSON that networknt's validator accepts under the schema, and unsupported keywords are
 * refused by name.
 */
class JsonSchemaConstraintTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    static final int RANDOM_SCHEMAS = 220;

    @Test
    void everyOutputForTwoHundredRandomSchemasValidates() throws Exception {
        RandomSchemas schemas = new RandomSchemas(2024);
        List<String> failures = new ArrayList<>();
        int features = 0;
        for (int i = 0; i < RANDOM_SCHEMAS; i++) {
            JsonNode schema = schemas.next();
            String schemaText = JSON.writeValueAsString(schema);
            features += schemaText.contains("$ref") ? 1 : 0;
            CompiledConstraint c = Fixtures.llama2Constraints().jsonSchema(schema);
            Fixtures.Decoded d = Fixtures.decode(c, Fixtures.llama2(), i, 1500, 3f);
            if (!d.complete()) {
                failures.add("unfinished after " + d.tokens().length + " tokens: " + schemaText);
                continue;
            }
            List<String> errors = SchemaValidator.errors(schemaText, d.text());
            if (!errors.isEmpty()) failures.add(errors + "\n  schema " + schemaText + "\n  output " + d.text());
        }
        assertTrue(failures.isEmpty(), failures.size() + " of " + RANDOM_SCHEMAS + " outputs failed:\n" + String.join("\n", failures));
        assertTrue(features > RANDOM_SCHEMAS / 10, "the generator exercises $ref: " + features);
    }

    @Test
    void jsonModeOutputsAreObjects() throws Exception {
        CompiledConstraint c = Fixtures.llama2Constraints().jsonObject();
        for (int seed = 0; seed < 25; seed++) {
            Fixtures.Decoded d = Fixtures.decode(c, Fixtures.llama2(), seed, 1500, 3f);
            assertTrue(d.complete(), d.text());
            assertTrue(JSON.readTree(d.text()).isObject(), d.text());
        }
    }

    @Test
    void recursiveSchemasThroughTheRootValidate() throws Exception {
        String schema = """
                {"type": "object", "properties": {"name": {"type": "string", "maxLength": 6},
                 "children": {"type": "array", "items": {"$ref": "#"}, "maxItems": 2}},
                 "required": ["name", "children"], "additionalProperties": false}""";
        CompiledConstraint c = Fixtures.llama2Constraints().jsonSchema(JSON.readTree(schema));
        int nested = 0;
        for (int seed = 0; seed < 15; seed++) {
            Fixtures.Decoded d = Fixtures.decode(c, Fixtures.llama2(), seed, 3000, 1f);
            assertTrue(d.complete(), d.text());
            assertEquals(List.of(), SchemaValidator.errors(schema, d.text()), d.text());
            if (d.text().indexOf("\"name\"") != d.text().lastIndexOf("\"name\"")) nested++;
        }
        assertTrue(nested > 0, "some outputs nest children");
    }

    @Test
    void aCutOffOutputIsAPrefixOfAValidDocument() throws Exception {
        RandomSchemas schemas = new RandomSchemas(77);
        for (int i = 0; i < 20; i++) {
            JsonNode schema = schemas.next();
            String schemaText = JSON.writeValueAsString(schema);
            CompiledConstraint c = Fixtures.llama2Constraints().jsonSchema(schema);
            Fixtures.Decoded cut = Fixtures.decode(c, Fixtures.llama2(), i, 1 + i % 7, 3f);
            if (cut.complete()) continue;
            assertFalse(cut.state().isComplete());
            // The cut state goes on (another seed) to a document that validates: the prefix was a valid one.
            Fixtures.Decoded rest = Fixtures.decode(cut.state(), Fixtures.llama2(), 1000 + i, 1500, 3f, cut.tokens());
            assertTrue(rest.complete(), rest.text());
            assertTrue(rest.text().startsWith(cut.text()), rest.text());
            assertEquals(List.of(), SchemaValidator.errors(schemaText, rest.text()), rest.text());
        }
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "{\"oneOf\": [{\"type\": \"string\"}, {\"type\": \"integer\"}]}|oneOf",
            "{\"not\": {\"type\": \"string\"}}|not",
            "{\"type\": \"object\", \"patternProperties\": {\"^a\": {\"type\": \"string\"}}}|patternProperties",
            "{\"type\": \"object\", \"minProperties\": 1}|minProperties",
            "{\"type\": \"array\", \"uniqueItems\": true}|uniqueItems",
            "{\"type\": \"integer\", \"multipleOf\": 3}|multipleOf",
            "{\"type\": \"string\", \"format\": \"email\"}|email",
            "{\"$ref\": \"https://example.com/schema.json\"}|$ref",
            "{\"allOf\": [{\"type\": \"string\"}, {\"maxLength\": 3}]}|allOf",
            "{\"if\": {\"type\": \"string\"}, \"then\": {\"maxLength\": 2}}|if",
            "{\"type\": \"string\", \"nullable\": true}|nullable",
            "{\"type\": \"array\", \"contains\": {\"type\": \"integer\"}}|contains",
            "{\"type\": \"string\", \"pattern\": \"(a)\\\\1\"}|backreference",
            "{\"type\": \"string\", \"pattern\": \"a(?=b)\"}|lookahead",
            "{\"type\": \"object\", \"dependentRequired\": {\"a\": [\"b\"]}}|dependentRequired",
            "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\", \"x-custom\": 1}}}|x-custom",
            "{\"type\": \"string\", \"maxLength\": 100000}|maxLength",
            "{\"type\": \"integer\", \"minimum\": 5, \"maximum\": 2}|integer bounds",
            "{\"type\": \"object\", \"required\": [\"a\"], \"additionalProperties\": false}|'a'",
    })
    void unsupportedOrUnsatisfiableSchemasAreRefusedByName(String schema, String named) throws Exception {
        JsonNode node = JSON.readTree(schema);
        ConstraintException e = assertThrows(ConstraintException.class, () -> Fixtures.llama2Constraints().jsonSchema(node));
        assertTrue(e.getMessage().contains(named), "'" + e.getMessage() + "' names " + named);
    }

    @Test
    void annotationsAreAcceptedAndStrictSchemasCompile() throws Exception {
        // An OpenAI strict-mode style schema with the annotations Pydantic writes.
        String schema = """
                {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Weather", "type": "object",
                 "description": "a report", "properties": {
                   "city": {"type": "string", "description": "the city", "examples": ["Oslo"]},
                   "unit": {"enum": ["celsius", "fahrenheit"], "default": "celsius"},
                   "days": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 6}, "maxItems": 3}},
                 "required": ["city", "unit", "days"], "additionalProperties": false}""";
        CompiledConstraint c = Fixtures.llama2Constraints().jsonSchema(JSON.readTree(schema));
        for (int seed = 0; seed < 10; seed++) {
            Fixtures.Decoded d = Fixtures.decode(c, Fixtures.llama2(), seed, 1500, 3f);
            assertTrue(d.complete(), d.text());
            assertEquals(List.of(), SchemaValidator.errors(schema, d.text()), d.text());
        }
    }

    @Test
    void theCacheCompilesEachSchemaOnce() throws Exception {
        Constraints cs = new Constraints(Fixtures.llama2Constraints().vocabulary(), 2);
        JsonNode a = JSON.readTree("{\"type\": \"integer\"}"), b = JSON.readTree("{\"type\": \"boolean\"}");
        CompiledConstraint first = cs.jsonSchema(a);
        assertTrue(first == cs.jsonSchema(JSON.readTree("{\"type\":\"integer\"}")), "same canonical schema, same compiled constraint");
        cs.jsonSchema(b);
        cs.jsonSchema(JSON.readTree("{\"type\": \"null\"}"));
        assertEquals(2, cs.cachedCount(), "bounded");
        assertFalse(first == cs.jsonSchema(a), "the least recently used entry was evicted");
        // Property order is part of the output format, so it is part of the key.
        assertFalse(cs.jsonSchema(JSON.readTree("{\"properties\":{\"x\":{},\"y\":{}}}"))
                == cs.jsonSchema(JSON.readTree("{\"properties\":{\"y\":{},\"x\":{}}}")));
    }
}
