package dev.kvasir.blockmanager;

import java.util.Arrays;

/**
 * One sequence's logical → physical block map. The manager owns and mutates it; readers (the model
 * runner building a batch) get the live table, valid until the sequence is freed or swapped.
 */
public final class BlockTable {

    private int[] ids;
    private int size;

    BlockTable(int initialCapacity) {
        ids = new int[Math.max(4, initialCapacity)];
    }

    public int size() { return size; }

    public int get(int logicalIndex) {
        if (logicalIndex < 0 || logicalIndex >= size) {
            throw new IndexOutOfBoundsException("logical block " + logicalIndex + " out of range [0, " + size + ")");
        }
        return ids[logicalIndex];
    }

    public int[] toArray() {
        return Arrays.copyOf(ids, size);
    }

    /** Copies the ids into {@code dst} at {@code offset} without allocating (batch building). */
    public void copyTo(int[] dst, int offset) {
        System.arraycopy(ids, 0, dst, offset, size);
    }

    int last() { return ids[size - 1]; }

    void add(int id) {
        if (size == ids.length) {
            ids = Arrays.copyOf(ids, size * 2);
        }
        ids[size++] = id;
    }

    void set(int logicalIndex, int id) { ids[logicalIndex] = id; }

    void truncate(int newSize) { size = newSize; }

    void copyFrom(BlockTable other) {
        if (ids.length < other.size) {
            ids = Arrays.copyOf(other.ids, other.ids.length);
        } else {
            System.arraycopy(other.ids, 0, ids, 0, other.size);
        }
        size = other.size;
    }

    @Override
    public String toString() {
        return Arrays.toString(toArray());
    }
}
