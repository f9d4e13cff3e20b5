package dev.kvasir.blockmanager;

import java.util.function.Consumer;

/**
 * Sequence id → state, open addressing with linear probing and backward-shift deletion: no boxing
 * and no garbage per lookup, insert or remove once the table has grown.
 */
final class SequenceMap {

    private long[] keys;
    private SequenceBlocks[] values;
    private int size;
    private int mask;

    SequenceMap() {
        keys = new long[64];
        values = new SequenceBlocks[64];
        mask = 63;
    }

    int size() { return size; }

    SequenceBlocks get(long key) {
        for (int i = slot(key); ; i = (i + 1) & mask) {
            SequenceBlocks v = values[i];
            if (v == null) {
                return null;
            }
            if (keys[i] == key) {
                return v;
            }
        }
    }

    /** Caller guarantees the key is absent. */
    void put(long key, SequenceBlocks value) {
        if ((size + 1) * 2 > values.length) {
            grow();
        }
        int i = slot(key);
        while (values[i] != null) {
            i = (i + 1) & mask;
        }
        keys[i] = key;
        values[i] = value;
        size++;
    }

    SequenceBlocks remove(long key) {
        int i = slot(key);
        while (true) {
            if (values[i] == null) {
                return null;
            }
            if (keys[i] == key) {
                break;
            }
            i = (i + 1) & mask;
        }
        SequenceBlocks removed = values[i];
        // Backward shift: pull later entries of the probe run into the hole so lookups never stop early.
        int hole = i;
        for (int j = (hole + 1) & mask; values[j] != null; j = (j + 1) & mask) {
            int home = slot(keys[j]);
            if (((j - home) & mask) >= ((j - hole) & mask)) {
                keys[hole] = keys[j];
                values[hole] = values[j];
                hole = j;
            }
        }
        values[hole] = null;
        size--;
        return removed;
    }

    void forEach(Consumer<SequenceBlocks> action) {
        for (SequenceBlocks v : values) {
            if (v != null) {
                action.accept(v);
            }
        }
    }

    private int slot(long key) {
        long h = key * 0x9e3779b97f4a7c15L;
        return (int) (h ^ (h >>> 32)) & mask;
    }

    private void grow() {
        long[] oldKeys = keys;
        SequenceBlocks[] oldValues = values;
        keys = new long[oldKeys.length * 2];
        values = new SequenceBlocks[oldValues.length * 2];
        mask = values.length - 1;
        size = 0;
        for (int i = 0; i < oldValues.length; i++) {
            if (oldValues[i] != null) {
                put(oldKeys[i], oldValues[i]);
            }
        }
    }
}
