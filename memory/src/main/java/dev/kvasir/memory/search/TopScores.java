package dev.kvasir.memory.search;

/** The best {@code capacity} (slot, score) pairs seen, kept in a min-heap of primitive arrays. */
final class TopScores {
    private final int[] slots;
    private final float[] scores;
    private int size;

    TopScores(int capacity) {
        slots = new int[capacity];
        scores = new float[capacity];
    }

    /** Whether a score would enter (full heap: beats the worst kept). */
    boolean wouldAccept(float score) {
        return size < slots.length || score > scores[0];
    }

    void offer(int slot, float score) {
        if (size < slots.length) {
            int i = size++;
            slots[i] = slot;
            scores[i] = score;
            siftUp(i);
        } else if (score > scores[0]) {
            slots[0] = slot;
            scores[0] = score;
            siftDown(0);
        }
    }

    /** Slots best first. */
    int[] slotsDescending() {
        int[] order = new int[size];
        int[] sl = slots.clone();
        float[] sc = scores.clone();
        // Heap-sort a copy: repeatedly take the minimum into the back.
        int n = size;
        for (int k = n - 1; k >= 0; k--) {
            order[k] = sl[0];
            n--;
            sl[0] = sl[n];
            sc[0] = sc[n];
            siftDown(sl, sc, n, 0);
        }
        return order;
    }

    private void siftUp(int i) {
        while (i > 0) {
            int p = (i - 1) >>> 1;
            if (scores[p] <= scores[i]) break;
            swap(slots, scores, i, p);
            i = p;
        }
    }

    private void siftDown(int i) {
        siftDown(slots, scores, size, i);
    }

    private static void siftDown(int[] sl, float[] sc, int n, int i) {
        while (true) {
            int l = 2 * i + 1;
            if (l >= n) return;
            int m = l + 1 < n && sc[l + 1] < sc[l] ? l + 1 : l;
            if (sc[i] <= sc[m]) return;
            swap(sl, sc, i, m);
            i = m;
        }
    }

    private static void swap(int[] sl, float[] sc, int a, int b) {
        int t = sl[a];
        sl[a] = sl[b];
        sl[b] = t;
        float f = sc[a];
        sc[a] = sc[b];
        sc[b] = f;
    }
}
