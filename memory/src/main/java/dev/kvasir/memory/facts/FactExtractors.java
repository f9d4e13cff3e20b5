package dev.kvasir.memory.facts;

import dev.kvasir.memory.MemoryModel;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/** The extractor {@code --memory-extractor} names. */
public final class FactExtractors {
    private FactExtractors() {}

    public static FactExtractor create(ExtractorMode mode, Supplier<MemoryModel> model) {
        RuleFactExtractor rules = new RuleFactExtractor();
        ModelFactExtractor fromModel = new ModelFactExtractor(model);
        return switch (mode) {
            case RULES -> rules;
            case MODEL -> fromModel;
            case BOTH -> (message, context) -> merge(rules.extract(message, context), fromModel.extract(message, context));
        };
    }

    /** The rules' facts, then the model's for keys the rules did not find (the rules read more precisely). */
    static List<Fact> merge(List<Fact> rules, List<Fact> model) {
        List<Fact> out = new ArrayList<>(rules);
        Set<String> keys = new HashSet<>();
        for (Fact f : rules) if (f.key() != null) keys.add(f.key());
        for (Fact f : model) if (keys.add(f.key())) out.add(f);
        return out;
    }
}
