package dev.kvasir.memory;

import dev.kvasir.memory.facts.ExtractorMode;
import dev.kvasir.memory.policy.PolicyKind;
import dev.kvasir.memory.summary.SummarizerMode;

/**
 * What the memory layer does beyond storing and searching ({@code kvasir serve}'s memory flags):
 * the fact extractor, the summarizer, the policy and its budgets (in tokens of the served model),
 * and how the search index holds vectors.
 *
 * @param userBudgetTokens    the active set (core and recent tiers) of one user at most ({@code --memory-user-budget-tokens})
 * @param coreBudgetTokens    the core block in every prompt at most ({@code --memory-core-budget-tokens})
 * @param sessionBudgetTokens a session's history budget: past 75% of it the oldest turns are summarized;
 *                            0 = half the served model's context
 */
public record MemoryFeatures(ExtractorMode extractor, SummarizerMode summarizer, PolicyKind policy, int userBudgetTokens,
        int coreBudgetTokens, int sessionBudgetTokens, VectorMode vectors) {

    public static final MemoryFeatures DEFAULTS = new MemoryFeatures(ExtractorMode.RULES, SummarizerMode.AUTO, PolicyKind.HYBRID,
            4096, 256, 0, VectorMode.FLOAT);

    public MemoryFeatures {
        if (extractor == null || summarizer == null || policy == null || vectors == null) {
            throw new IllegalArgumentException("memory features need an extractor, a summarizer, a policy and a vector mode");
        }
        if (userBudgetTokens < 64) throw new IllegalArgumentException("--memory-user-budget-tokens must be at least 64, got " + userBudgetTokens);
        if (coreBudgetTokens < 1 || coreBudgetTokens > userBudgetTokens) {
            throw new IllegalArgumentException("--memory-core-budget-tokens must be between 1 and --memory-user-budget-tokens ("
                    + userBudgetTokens + "), got " + coreBudgetTokens);
        }
        if (sessionBudgetTokens < 0) throw new IllegalArgumentException("the session budget must be 0 (derived) or more, got " + sessionBudgetTokens);
    }

    public MemoryFeatures withPolicy(PolicyKind newPolicy) {
        return new MemoryFeatures(extractor, summarizer, newPolicy, userBudgetTokens, coreBudgetTokens, sessionBudgetTokens, vectors);
    }

    public MemoryFeatures withVectors(VectorMode newVectors) {
        return new MemoryFeatures(extractor, summarizer, policy, userBudgetTokens, coreBudgetTokens, sessionBudgetTokens, newVectors);
    }

    public MemoryFeatures withBudgets(int userBudget, int coreBudget, int sessionBudget) {
        return new MemoryFeatures(extractor, summarizer, policy, userBudget, coreBudget, sessionBudget, vectors);
    }

    public MemoryFeatures withExtractor(ExtractorMode newExtractor) {
        return new MemoryFeatures(newExtractor, summarizer, policy, userBudgetTokens, coreBudgetTokens, sessionBudgetTokens, vectors);
    }

    public MemoryFeatures withSummarizer(SummarizerMode newSummarizer) {
        return new MemoryFeatures(extractor, newSummarizer, policy, userBudgetTokens, coreBudgetTokens, sessionBudgetTokens, vectors);
    }
}
