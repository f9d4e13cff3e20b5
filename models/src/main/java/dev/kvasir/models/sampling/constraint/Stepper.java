package dev.kvasir.models.sampling.constraint;

import java.util.Arrays;

/**
 * Moves stack sets through a {@link ByteAutomaton} one byte at a time: a state's byte transition,
 * entering a called rule that can start with the byte, or (where the top's rule may end) returning
 * to the caller and trying the byte there. Owns a scratch stack; one per thread.
 */
final class Stepper {

    /** How many finished rules a precomputation may continue by guessing their callers. */
    static final int MAX_GUESSED_RETURNS = 2;

    private final ByteAutomaton a;
    private int[] scratch = new int[64];

    Stepper(ByteAutomaton automaton) {
        this.a = automaton;
    }

    /** {@code out} = every stack that {@code in}'s stacks reach by reading byte {@code b}. */
    void advance(StackSet in, int b, StackSet out) {
        out.clear();
        int[] d = in.data;
        for (int pos = 0; pos < in.used; pos += d[pos] + 1) {
            int depth = d[pos];
            ensure(depth + 1);
            System.arraycopy(d, pos + 1, scratch, 0, depth);
            advanceStack(depth, b, out);
        }
        out.escaped |= in.escaped;
    }

    /** Whether some stack can end here: every state from its top down may finish its rule. */
    boolean canEnd(StackSet in) {
        int[] d = in.data;
        for (int pos = 0; pos < in.used; pos += d[pos] + 1) {
            boolean all = true;
            for (int i = pos + 1; i <= pos + d[pos]; i++) {
                if (d[i] < 0 || !a.accepting[d[i]]) {
                    all = false;
                    break;
                }
            }
            if (all) return true;
        }
        return false;
    }

    private void ensure(int n) {
        if (scratch.length < n) scratch = Arrays.copyOf(scratch, Math.max(n, scratch.length * 2));
    }

    /** Reads {@code b} on the stack {@code scratch[0..depth)}; leaves that part of scratch as it found it. */
    private void advanceStack(int depth, int b, StackSet out) {
        int s = scratch[depth - 1];
        int t = a.step(s, b);
        if (t >= 0) {
            scratch[depth - 1] = t;
            out.add(scratch, depth);
            scratch[depth - 1] = s;
        }
        for (int k = a.callOffset[s]; k < a.callOffset[s + 1]; k++) {
            int rule = a.callRule[k];
            if (!a.canStart(rule, b)) continue;
            ensure(depth + 1);
            scratch[depth - 1] = a.callReturn[k];
            scratch[depth] = a.ruleStart[rule];
            advanceStack(depth + 1, b, out);
            scratch[depth - 1] = s;
        }
        if (a.accepting[s] && depth > 1) {
            int below = scratch[depth - 2];
            if (below >= 0) {
                // Return: the caller's frame already holds its return state.
                advanceStack(depth - 1, b, out);
                scratch[depth - 1] = s;
            } else {
                int level = -below - 1;
                if (level >= MAX_GUESSED_RETURNS) {
                    out.escaped = true;
                } else {
                    for (int ret : a.returnStates[a.ruleOf[s]]) {
                        scratch[depth - 2] = -(level + 2);
                        scratch[depth - 1] = ret;
                        advanceStack(depth, b, out);
                    }
                    scratch[depth - 2] = below;
                    scratch[depth - 1] = s;
                }
            }
        }
    }
}
