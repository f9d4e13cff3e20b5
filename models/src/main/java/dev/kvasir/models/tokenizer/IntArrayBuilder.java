package dev.kvasir.models.tokenizer;

import java.util.Arrays;

/** A growable int array: token ids without boxing. */
final class IntArrayBuilder {
    private int[] data = new int[16];
    private int size;

    void add(int value) {
        if (size == data.length) data = Arrays.copyOf(data, size * 2);
        data[size++] = value;
    }

    int[] toArray() {
        return Arrays.copyOf(data, size);
    }
}
