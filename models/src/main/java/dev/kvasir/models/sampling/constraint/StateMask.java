package dev.kvasir.models.sampling.constraint;

/**
 * What one automaton state allows next, computed once per compiled constraint (xgrammar's
 * adaptive token mask): tokens accepted whatever lies below the state on the stack, as a bitset
 * when many ({@code dense}) or a sorted id list when few ({@code sparse}), and the tokens whose
 * fate depends on the callers below ({@code uncertain}), checked against the real stack per step.
 * Every other token is rejected.
 */
record StateMask(long[] dense, int[] sparse, int[] uncertain) {

    /** Sets the accepted tokens' bits in {@code mask}. */
    void orInto(long[] mask) {
        if (dense != null) {
            for (int i = 0; i < dense.length; i++) mask[i] |= dense[i];
        } else {
            for (int t : sparse) mask[t >>> 6] |= 1L << t;
        }
    }
}
