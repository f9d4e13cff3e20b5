package dev.kvasir.models.sampling.constraint;

import java.util.Arrays;

/**
 * Hopcroft's partition refinement on a deterministic automaton: the coarsest partition of states
 * that keeps an initial partition apart and where states of one block move, on every symbol, into
 * one block. O(n s log n) for n states and s symbols; missing transitions go to an implicit dead
 * state. Moore's round-by-round refinement needs as many rounds as the longest chain of states
 * (a 20-space indentation, a long literal), which costs far more on schema automata.
 */
final class Minimizer {

    private Minimizer() {}

    /**
     * @param n        states
     * @param symbols  symbols
     * @param delta    {@code delta[s * symbols + a]}: the next state, or -1
     * @param initial  the initial block of each state (0..k-1)
     * @return the final block of each state (0..m-1)
     */
    static int[] refine(int n, int symbols, int[] delta, int[] initial) {
        int dead = n, total = n + 1;
        // Predecessors by symbol (the dead state's included): CSR per (symbol, target).
        int[] predStart = new int[symbols * total + 1];
        for (int s = 0; s < total; s++) {
            for (int a = 0; a < symbols; a++) predStart[a * total + target(delta, s, a, symbols, n) + 1]++;
        }
        for (int i = 0; i < predStart.length - 1; i++) predStart[i + 1] += predStart[i];
        int[] pred = new int[predStart[predStart.length - 1]];
        int[] fill = Arrays.copyOf(predStart, predStart.length - 1);
        for (int s = 0; s < total; s++) {
            for (int a = 0; a < symbols; a++) pred[fill[a * total + target(delta, s, a, symbols, n)]++] = s;
        }

        // Blocks as ranges of one array of states.
        int[] elems = new int[total], posOf = new int[total], blockOf = new int[total];
        int[] bStart = new int[total + 1], bEnd = new int[total + 1], marked = new int[total + 1];
        int blocks = 0;
        for (int s = 0; s < n; s++) blocks = Math.max(blocks, initial[s] + 1);
        int deadBlock = blocks++;
        int[] count = new int[blocks];
        for (int s = 0; s < total; s++) count[s == dead ? deadBlock : initial[s]]++;
        for (int b = 0, at = 0; b < blocks; b++) {
            bStart[b] = bEnd[b] = at;
            at += count[b];
        }
        for (int s = 0; s < total; s++) {
            int b = s == dead ? deadBlock : initial[s];
            blockOf[s] = b;
            posOf[s] = bEnd[b];
            elems[bEnd[b]++] = s;
        }
        // Splitters (block, symbol): every initial block on every symbol but one block per symbol
        // (Hopcroft: the last one's split follows from the others'). Leaving out the dead state's
        // block spares scanning its predecessors, which are most states on most symbols.
        int[] work = new int[Math.max(16, blocks * symbols * 2)];
        int wn = 0;
        boolean[] inWork = new boolean[(total + 1) * symbols];
        for (int b = 0; b < blocks; b++) {
            if (b == deadBlock) continue;
            for (int a = 0; a < symbols; a++) {
                if (wn + 2 > work.length) work = Arrays.copyOf(work, work.length * 2);
                work[wn++] = b;
                work[wn++] = a;
                inWork[b * symbols + a] = true;
            }
        }
        int[] touched = new int[total + 1];
        int[] splitter = new int[total];
        while (wn > 0) {
            int a = work[--wn], b = work[--wn];
            inWork[b * symbols + a] = false;
            // The states moving into block b on a (a snapshot: b may split below).
            int xn = 0;
            for (int i = bStart[b]; i < bEnd[b]; i++) {
                int t = elems[i];
                for (int k = predStart[a * total + t]; k < predStart[a * total + t + 1]; k++) splitter[xn++] = pred[k];
            }
            int tn = 0;
            for (int i = 0; i < xn; i++) {
                int s = splitter[i];
                int y = blockOf[s];
                // Move s to the marked front part of its block.
                int p = posOf[s], front = bStart[y] + marked[y];
                if (p < front) continue;
                int other = elems[front];
                elems[front] = s;
                posOf[s] = front;
                elems[p] = other;
                posOf[other] = p;
                if (marked[y]++ == 0) touched[tn++] = y;
            }
            for (int i = 0; i < tn; i++) {
                int y = touched[i];
                int m = marked[y];
                marked[y] = 0;
                if (m == bEnd[y] - bStart[y]) continue; // all of y moves: no split
                // The marked part [start, start + m) becomes a new block z.
                int z = blocks++;
                bStart[z] = bStart[y];
                bEnd[z] = bStart[y] + m;
                bStart[y] = bEnd[z];
                for (int k = bStart[z]; k < bEnd[z]; k++) blockOf[elems[k]] = z;
                int smaller = (bEnd[z] - bStart[z]) <= (bEnd[y] - bStart[y]) ? z : y;
                if ((blocks + 1) * symbols > inWork.length) inWork = Arrays.copyOf(inWork, inWork.length * 2);
                for (int c = 0; c < symbols; c++) {
                    int add = inWork[y * symbols + c] ? z : smaller;
                    if (inWork[add * symbols + c]) continue;
                    if (wn + 2 > work.length) work = Arrays.copyOf(work, work.length * 2);
                    work[wn++] = add;
                    work[wn++] = c;
                    inWork[add * symbols + c] = true;
                }
            }
        }
        // Number the blocks of real states densely, in order of their first state.
        int[] id = new int[blocks];
        Arrays.fill(id, -1);
        int[] out = new int[n];
        int next = 0;
        for (int s = 0; s < n; s++) {
            int b = blockOf[s];
            if (id[b] < 0) id[b] = next++;
            out[s] = id[b];
        }
        return out;
    }

    private static int target(int[] delta, int s, int a, int symbols, int dead) {
        if (s == dead) return dead;
        int t = delta[s * symbols + a];
        return t < 0 ? dead : t;
    }
}
