package dev.kvasir.models.sampling.constraint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.models.tokenizer.Tokenizer;
import dev.kvasir.models.tools.ToolCallFormat;
import dev.kvasir.models.tools.ToolSpec;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The one entry point for structured outputs: compiles JSON mode, JSON Schema, regex, choice, GBNF
 * grammars and tool calls against one model's vocabulary, and keeps the compiled constraints in a
 * bounded LRU cache keyed by a SHA-256 of the kind, the canonical input and the vocabulary's
 * fingerprint. Every method throws {@link ConstraintException} naming what is unsupported or
 * malformed (answer 400 with its message). Thread-safe; compilation runs on the calling thread
 * (milliseconds to a few hundred for large schemas on a 128k vocabulary), so call it from a
 * worker, never from an event loop or the engine thread.
 */
public final class Constraints {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final TokenVocabulary vocab;
    private final int capacity;
    private final Map<String, CompiledConstraint> cache;

    /** A factory for {@code vocab} caching up to {@code capacity} compiled constraints. */
    public Constraints(TokenVocabulary vocab, int capacity) {
        if (capacity < 1) throw new IllegalArgumentException("cache capacity must be at least 1: " + capacity);
        this.vocab = vocab;
        this.capacity = capacity;
        this.cache = new LinkedHashMap<>(16, 0.75f, true);
    }

    /** A factory for the tokenizer's vocabulary with a cache of 256 constraints. */
    public static Constraints forTokenizer(Tokenizer tokenizer) {
        return new Constraints(TokenVocabulary.of(tokenizer), 256);
    }

    public TokenVocabulary vocabulary() {
        return vocab;
    }

    /** {@code response_format: {"type": "json_object"}}: any JSON object. */
    public CompiledConstraint jsonObject() {
        return cached("json_object", "", () -> {
            Map<String, Expr> rules = new LinkedHashMap<>();
            JsonGrammar.addGenericRules(rules);
            rules.put("root", new Expr.Ref(JsonGrammar.OBJECT));
            return new GrammarRules(rules, "root", java.util.Set.of(JsonGrammar.OBJECT, JsonGrammar.ARRAY));
        });
    }

    /** {@code response_format: {"type": "json_schema", ...}}: a document valid under {@code schema} (see {@link JsonSchemaCompiler}). */
    public CompiledConstraint jsonSchema(JsonNode schema) {
        if (schema == null) throw new ConstraintException("json_schema has no schema");
        return cached("json_schema", canonical(schema), () -> JsonSchemaCompiler.compile(schema));
    }

    /** {@code guided_regex}: the whole output matches {@code regex} (see {@link RegexParser} for the dialect). */
    public CompiledConstraint regex(String regex) {
        if (regex == null) throw new ConstraintException("guided_regex is null");
        return cached("regex", regex, () -> new GrammarRules(Map.of("root", RegexParser.parse(regex).expr()), "root", java.util.Set.of()));
    }

    /** {@code guided_choice}: the output is exactly one of {@code choices}. */
    public CompiledConstraint choice(List<String> choices) {
        if (choices == null || choices.isEmpty()) throw new ConstraintException("guided_choice must be a non-empty list of strings");
        for (int i = 0; i < choices.size(); i++) {
            if (choices.get(i) == null) throw new ConstraintException("guided_choice[" + i + "] is null");
        }
        return cached("choice", canonical(JSON.valueToTree(choices)), () ->
                new GrammarRules(Map.of("root", Expr.alt(choices.stream().map(Expr::literal).toList())), "root", java.util.Set.of()));
    }

    /**
     * {@code guided_grammar}: the output derives from rule {@code root} of {@code gbnf}, a grammar in
     * llama.cpp's GBNF format (see {@link GbnfParser}).
     */
    public CompiledConstraint grammar(String gbnf) {
        if (gbnf == null) throw new ConstraintException("guided_grammar is null");
        return cached("gbnf", gbnf, () -> GbnfParser.parse(gbnf));
    }

    /**
     * {@code tool_choice: "required"} or a named function: the output is a call of one of
     * {@code tools} (name from the list, arguments valid under the tool's parameters schema) in the
     * model family's {@code format}; with {@code parallel}, one or more calls.
     */
    public CompiledConstraint toolCall(List<ToolSpec> tools, ToolCallFormat format, boolean parallel) {
        if (tools == null || tools.isEmpty()) throw new ConstraintException("tools: at least one tool is needed to require a call");
        StringBuilder key = new StringBuilder(format.name()).append(parallel ? "/parallel" : "/single");
        for (ToolSpec t : tools) key.append('\n').append(t.name()).append('\n').append(t.parameters() == null ? "" : canonical(t.parameters()));
        return cached("tool_call", key.toString(), () -> ToolCallGrammar.rules(tools, format, parallel));
    }

    /** Compiled constraints held now. */
    public synchronized int cachedCount() {
        return cache.size();
    }

    private CompiledConstraint cached(String kind, String canonical, Supplier<GrammarRules> rules) {
        String key = sha256(kind + '\0' + canonical + '\0' + vocab.fingerprint());
        synchronized (this) {
            CompiledConstraint hit = cache.get(key);
            if (hit != null) return hit;
        }
        // Compiled outside the lock: two threads may compile the same input once each, never block each other.
        CompiledConstraint compiled = new CompiledConstraint(AutomatonCompiler.compile(rules.get()), vocab,
                kind + " sha256:" + key.substring(0, 12));
        synchronized (this) {
            cache.put(key, compiled);
            while (cache.size() > capacity) cache.remove(cache.keySet().iterator().next());
        }
        return compiled;
    }

    private static String canonical(JsonNode node) {
        try {
            return JSON.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new ConstraintException("schema cannot be serialized: " + e.getOriginalMessage());
        }
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
