package dev.kvasir.blockmanager;

import java.util.function.Consumer;

/**
 * Sequence id → state, open addressing with linear probing and backward-shift deletion: no boxing
 * and no garbage per lookup, insert or remove once the table has grown.
 */
final class SequenceMap {

    private long[] keys;
    private Sequence[] values;
    private int size;
    private int mask;

    SequenceMap() {
        keys = new long[64];
        values = new Sequence[64];
        mask = 63;
    }

    int size() { return size; }

    Sequence get(long key) {
        for (int i = slot(key); ; i = (i + 1) & mask) {
            Sequence v = values[i];
            if (v == null) {
                return null;
            }
            if (keys[i] == key) {
                return v;
            }
        }
    }

    /** Caller guarantees the key is absent. */
    void put(long key, Sequence value) {
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

    Sequence remove(long key) {
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
        Sequence removed = values[i];
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

    void forEach(Consumer<Sequence> action) {
        for (Sequence v : values) {
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
        Sequence[] oldValues = values;
        keys = new long[oldKeys.length * 2];
        values = new Sequence[oldValues.length * 2];
        mask = values.length - 1;
        size = 0;
        for (int i = 0; i < oldValues.length; i++) {
            if (oldValues[i] != null) {
                put(oldKeys[i], oldValues[i]);
            }
        }
    }
}
