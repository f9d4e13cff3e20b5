package dev.kvasir.models.sampling.constraint;

import com.networknt.schema.Error;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SchemaRegistryConfig;
import com.networknt.schema.SpecificationVersion;

import java.util.List;

/** networknt's JSON Schema validator (draft 2020-12, format assertions on): the independent judge of every output. */
final class SchemaValidator {

    private static final SchemaRegistry REGISTRY = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12,
            b -> b.schemaRegistryConfig(SchemaRegistryConfig.builder().formatAssertionsEnabled(true).build()));

    private SchemaValidator() {}

    /** The validator's complaints about {@code instance} (JSON text) under {@code schema}; empty when valid. */
    static List<String> errors(String schema, String instance) {
        Schema s = REGISTRY.getSchema(schema, InputFormat.JSON);
        try {
            return s.validate(instance, InputFormat.JSON).stream().map(Error::getMessage).toList();
        } catch (RuntimeException e) {
            return List.of("not JSON: " + e.getMessage());
        }
    }
}
