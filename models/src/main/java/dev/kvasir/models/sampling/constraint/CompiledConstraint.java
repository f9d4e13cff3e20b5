package dev.kvasir.models.sampling.constraint;

import java.util.stream.IntStream;

/**
 * A grammar compiled against one vocabulary: the byte automaton and, for every automaton state,
 * the tokens it allows ({@link StateMask}), all computed up front so a decoding step only copies
 * bits and checks the few tokens that depend on the stack. Immutable and shared: compile once per
 * schema (see {@link Constraints}, which caches), then {@link #newState()} per sequence.
 */
public final class CompiledConstraint {

    final ByteAutomaton automaton;
    final TokenVocabulary vocab;
    final StateMask[] masks;
    /** The start state's mask at the first position (leading space dropped), or null when the rule does not apply. */
    final StateMask firstMask;
    private final String description;
    private final long compileNanos;

    CompiledConstraint(ByteAutomaton automaton, TokenVocabulary vocab, String description) {
        long start = System.nanoTime();
        this.automaton = automaton;
        this.vocab = vocab;
        this.description = description;
        this.masks = new StateMask[automaton.numStates];
        ThreadLocal<MaskBuilder> builders = ThreadLocal.withInitial(() -> new MaskBuilder(automaton, vocab));
        IntStream range = IntStream.range(0, automaton.numStates);
        (automaton.numStates > 16 ? range.parallel() : range).forEach(s -> masks[s] = builders.get().build(s));
        this.firstMask = vocab.dropsFirstLeadingSpace() ? new MaskBuilder(automaton, vocab).buildFirst(automaton.startState()) : null;
        this.compileNanos = System.nanoTime() - start;
    }

    /** A fresh per-sequence state at the start of the output. */
    public ConstraintState newState() {
        return new ConstraintState(this);
    }

    public TokenVocabulary vocabulary() {
        return vocab;
    }

    /** What this constrains to, for logs and errors ({@code json_schema sha256:...}, {@code regex ...}). */
    public String description() {
        return description;
    }

    /** Automaton states (each with a precomputed mask). */
    public int stateCount() {
        return automaton.numStates;
    }

    /** Time spent computing the token masks (the automaton's own compilation excluded). */
    public long maskNanos() {
        return compileNanos;
    }

    /** Bytes held by the precomputed masks. */
    public long maskBytes() {
        long bytes = 0;
        for (StateMask m : masks) {
            bytes += (m.dense() != null ? m.dense().length * 8L : m.sparse().length * 4L) + m.uncertain().length * 4L + 48;
        }
        return bytes;
    }

    @Override
    public String toString() {
        return "CompiledConstraint[" + description + ", " + automaton.numStates + " states]";
    }
}
