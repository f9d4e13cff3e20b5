package dev.kvasir.memory.facts;

/**
 * A fact about the user, as an extractor found it in one message: {@code key} is
 * {@code subject.attribute} (null for a note the user asked to keep, which has no key to conflict
 * on), {@code value} the attribute's value as the user wrote it, {@code statement} the sentence it is
 * stored and injected as. {@code correction}: the user corrected an earlier statement ("actually
 * ...", "no, I meant ...", "not X but Y"). {@code core}: worth keeping always in the prompt
 * (identity, home, work, "remember that ..."), where the policy has a core tier.
 */
public record Fact(String key, String value, String statement, double confidence, boolean correction, boolean core,
        double importance) {

    public Fact {
        if (value == null || value.isBlank()) throw new IllegalArgumentException("a fact needs a value");
        if (statement == null || statement.isBlank()) throw new IllegalArgumentException("a fact needs a statement");
    }

    public Fact asCorrection() {
        return correction ? this : new Fact(key, value, statement, Math.max(confidence, 0.95), true, core, importance);
    }

    /** The same fact, stressed by "remember that ...": kept in core and weighed as important. */
    public Fact remembered() {
        return new Fact(key, value, statement, confidence, correction, true, Math.max(importance, 0.9));
    }

    public Fact withConfidence(double newConfidence) {
        return new Fact(key, value, statement, newConfidence, correction, core, importance);
    }
}
