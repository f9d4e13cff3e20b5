package dev.kvasir.models.sampling.constraint;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Named rules, the form every front-end hands to {@link AutomatonCompiler}.
 *
 * @param rules       rule name to expression (insertion order kept, for stable compilation)
 * @param root        the rule the whole output must match
 * @param callPreferred rules to keep as their own automaton (entered by a call) when they sit on a
 *                    recursion cycle; the JSON grammars name containers here, whose closing bracket
 *                    leaves few tokens whose acceptance depends on the caller
 */
record GrammarRules(Map<String, Expr> rules, String root, Set<String> callPreferred) {

    GrammarRules {
        rules = new LinkedHashMap<>(rules);
        if (!rules.containsKey(root)) throw new ConstraintException("grammar has no rule '" + root + "'");
        callPreferred = Set.copyOf(callPreferred);
    }
}
