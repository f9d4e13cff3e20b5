package dev.kvasir.blockmanager;

import java.util.Arrays;

/** A growable int array that keeps its capacity across {@link #clear()}. */
final class IntList {

    private int[] values = new int[16];
    private int size;

    int size() { return size; }

    void add(int v) {
        if (size == values.length) {
            values = Arrays.copyOf(values, size * 2);
        }
        values[size++] = v;
    }

    int get(int i) { return values[i]; }

    int[] toArray() { return Arrays.copyOf(values, size); }

    void clear() { size = 0; }
}
