package dev.kvasir.models.sampling.constraint;

import java.util.Arrays;

/**
 * Where one sequence stands in its constraint: the automaton stacks after the tokens accepted so
 * far, and the mask of tokens allowed next. Mutable, one per sequence, used by one thread at a time
 * (a hand-off through a future or a queue gives the needed ordering); {@link #fork()} copies it for
 * n &gt; 1. Nothing is allocated per token once the buffers have grown to the grammar's depth.
 *
 * <p>The per-step protocol: {@link #allowedTokens()} (or {@link #prepareMask()} ahead of time, e.g.
 * while the forward pass runs) gives the mask the {@link dev.kvasir.models.sampling.Sampler}
 * applies; the caller then {@link #accept}s the chosen token. Stop tokens are allowed only where the
 * grammar may end, and are the only tokens allowed once it must ({@link #isComplete()}).
 */
public final class ConstraintState {

    private final CompiledConstraint c;
    private final ByteAutomaton a;
    private final TokenVocabulary vocab;
    private final Stepper stepper;
    private StackSet stacks;
    /** Scratch for walks; never the same object as {@link #stacks}. */
    private StackSet work1 = new StackSet(), work2 = new StackSet();
    private int accepted;
    private boolean ended;
    private final long[] mask;
    private boolean maskReady;

    ConstraintState(CompiledConstraint constraint) {
        this.c = constraint;
        this.a = constraint.automaton;
        this.vocab = constraint.vocab;
        this.stepper = new Stepper(a);
        this.stacks = new StackSet();
        stacks.add(new int[] {a.startState()}, 1);
        this.mask = new long[(vocab.size() + 63) >>> 6];
    }

    private ConstraintState(ConstraintState other) {
        this.c = other.c;
        this.a = other.a;
        this.vocab = other.vocab;
        this.stepper = new Stepper(a);
        this.stacks = other.stacks.copy();
        this.accepted = other.accepted;
        this.ended = other.ended;
        this.mask = other.mask.clone();
        this.maskReady = other.maskReady;
    }

    /** An independent copy (n &gt; 1, beam search): both continue on their own from here. */
    public ConstraintState fork() {
        return new ConstraintState(this);
    }

    public CompiledConstraint constraint() {
        return c;
    }

    /** Tokens accepted so far (stop tokens included). */
    public int acceptedCount() {
        return accepted;
    }

    /**
     * Advances by {@code token}; returns false and changes nothing when the constraint does not allow
     * it here. A stop token is accepted only where the grammar may end, and ends it.
     */
    public boolean accept(int token) {
        if (token < 0 || token >= vocab.size()) return false;
        if (ended) {
            if (!vocab.isStop(token)) return false;
            accepted++;
            return true;
        }
        if (!vocab.isText(token)) {
            if (!vocab.isStop(token) || !stepper.canEnd(stacks)) return false;
            ended = true;
        } else {
            StackSet result = walk(stacks, token, accepted == 0);
            if (result == null) return false;
            // Keep the walked set; the old one becomes scratch.
            StackSet old = stacks;
            stacks = result;
            if (work1 == result) work1 = old;
            else work2 = old;
        }
        accepted++;
        maskReady = false;
        return true;
    }

    /**
     * Re-applies tokens accepted before (recompute after preemption, a restored sequence, a
     * prompt-side prefix); throws naming the first token the constraint refuses.
     */
    public void replay(int[] tokens, int from, int to) {
        for (int i = from; i < to; i++) {
            if (!accept(tokens[i])) {
                throw new ConstraintException("token " + tokens[i] + " at position " + i + " is not allowed by " + c.description());
            }
        }
    }

    /** Whether a stop token may come now: the grammar can end here. */
    public boolean canTerminate() {
        return ended || stepper.canEnd(stacks);
    }

    /** Whether the output is finished: the grammar can end and allows no more text (only stop tokens). */
    public boolean isComplete() {
        if (ended) return true;
        if (!stepper.canEnd(stacks)) return false;
        int[] d = stacks.data;
        for (int pos = 0; pos < stacks.used; pos += d[pos] + 1) {
            for (int i = pos + d[pos]; i > pos; i--) {
                if (a.hasExit[d[i]]) return false;
                if (!a.accepting[d[i]]) break;
            }
        }
        return true;
    }

    /**
     * The fewest bytes that still complete the output (0 when it may end now). A caller near its
     * token budget can steer towards small values to close the document before the cut.
     */
    public int minBytesToComplete() {
        return ended ? 0 : distance(stacks);
    }

    /** {@link #minBytesToComplete()} after {@code token} (not accepted), or -1 when it is not allowed. */
    int minBytesToCompleteAfter(int token) {
        if (ended || !vocab.isText(token)) return vocab.isStop(token) && canTerminate() ? 0 : -1;
        StackSet after = walk(stacks, token, accepted == 0);
        return after == null ? -1 : distance(after);
    }

    private int distance(StackSet set) {
        int best = Integer.MAX_VALUE;
        int[] d = set.data;
        for (int pos = 0; pos < set.used; pos += d[pos] + 1) {
            int sum = 0;
            for (int i = pos + 1; i <= pos + d[pos]; i++) sum += a.minFinish[d[i]];
            best = Math.min(best, sum);
        }
        return best;
    }

    /** Whether {@code token} is allowed next. */
    public boolean isAllowed(int token) {
        long[] m = allowedTokens();
        return token >= 0 && token < vocab.size() && (m[token >>> 6] & (1L << token)) != 0;
    }

    /**
     * The tokens allowed next, one bit per token id ({@code (vocabSize + 63) / 64} words); ids at or
     * beyond {@link TokenVocabulary#size()} (padding rows of a model's output) are never allowed.
     * Computed on the first call after {@link #accept} (or by {@link #prepareMask()}); the array is
     * owned by this state: read it, do not keep or change it.
     */
    public long[] allowedTokens() {
        if (!maskReady) computeMask();
        return mask;
    }

    /** Computes the next mask now, off the sampling path (e.g. while the forward pass runs). */
    public void prepareMask() {
        if (!maskReady) computeMask();
    }

    private void computeMask() {
        Arrays.fill(mask, 0);
        if (!ended) {
            boolean first = accepted == 0 && c.firstMask != null;
            int[] d = stacks.data;
            for (int pos = 0; pos < stacks.used; pos += d[pos] + 1) {
                StateMask m = first ? c.firstMask : c.masks[d[pos + d[pos]]];
                m.orInto(mask);
                for (int t : m.uncertain()) {
                    if ((mask[t >>> 6] & (1L << t)) == 0 && walk(stacks, t, first) != null) mask[t >>> 6] |= 1L << t;
                }
            }
        }
        if (ended || stepper.canEnd(stacks)) {
            for (int t : vocab.stopTokensShared()) mask[t >>> 6] |= 1L << t;
        }
        maskReady = true;
    }

    /**
     * The stacks after reading {@code token}'s bytes from {@code from}, in one of the two work sets
     * (never {@code from} itself), or null when some byte cannot be read. {@code first}: the
     * leading-space rule applies.
     */
    private StackSet walk(StackSet from, int token, boolean first) {
        byte[] bytes = vocab.bytes();
        int i = vocab.start(token), end = vocab.end(token);
        if (first && vocab.dropsFirstLeadingSpace() && i < end && bytes[i] == ' ') i++;
        if (i == end) {
            work1.copyFrom(from);
            return work1;
        }
        StackSet cur = from, out = work1;
        for (; i < end; i++) {
            stepper.advance(cur, bytes[i] & 0xFF, out);
            if (out.count == 0) return null;
            cur = out;
            out = out == work1 ? work2 : work1;
        }
        return cur;
    }
}
