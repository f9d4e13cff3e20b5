package dev.kvasir.models.sampling.constraint;

import java.util.Arrays;

/**
 * A set of automaton stacks in one flat int array: for each stack its depth, then its states from
 * the bottom up. Usually it holds one stack; more only where the grammar is ambiguous. Reused
 * between steps, so walking tokens allocates nothing once the buffer has grown.
 *
 * <p>While masks are precomputed, a stack's bottom may be a negative sentinel, {@code -(level + 1)}:
 * the context below is unknown, and {@code level} counts how many finished rules were continued
 * by guessing their callers. {@link #escaped} then records that some path went past the guessing
 * limit, so what follows depends on the real stack.
 */
final class StackSet {

    int[] data = new int[32];
    int used;
    int count;
    boolean escaped;

    void clear() {
        used = 0;
        count = 0;
        escaped = false;
    }

    /** Adds {@code frames[0..depth)} unless an equal stack is already in the set. */
    void add(int[] frames, int depth) {
        for (int pos = 0; pos < used; pos += data[pos] + 1) {
            if (data[pos] == depth && Arrays.equals(data, pos + 1, pos + 1 + depth, frames, 0, depth)) return;
        }
        if (used + depth + 1 > data.length) data = Arrays.copyOf(data, Math.max(data.length * 2, used + depth + 1));
        data[used] = depth;
        System.arraycopy(frames, 0, data, used + 1, depth);
        used += depth + 1;
        count++;
    }

    void copyFrom(StackSet other) {
        if (data.length < other.used) data = new int[other.data.length];
        System.arraycopy(other.data, 0, data, 0, other.used);
        used = other.used;
        count = other.count;
        escaped = other.escaped;
    }

    StackSet copy() {
        StackSet s = new StackSet();
        s.data = Arrays.copyOf(data, Math.max(data.length, 1));
        s.used = used;
        s.count = count;
        s.escaped = escaped;
        return s;
    }
}
