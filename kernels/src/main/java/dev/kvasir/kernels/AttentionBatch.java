package dev.kvasir.kernels;

import java.util.Arrays;

/**
 * Which query rows of a step belong to which sequence, and where that sequence's K/V pages are.
 * Sequence {@code s} owns query rows {@code queryStart(s) .. queryStart(s) + queryCount(s) - 1},
 * at positions {@code startPos(s) ..}; query row {@code i} attends causally to positions
 * {@code 0 .. startPos(s) + i}, read through {@code blockTable(s)}. Reused step after step by its
 * owner (no allocation once the arrays are large enough).
 */
public final class AttentionBatch {

    private int count;
    private int[] queryStart = new int[8];
    private int[] queryCount = new int[8];
    private int[] startPos = new int[8];
    private int[][] blockTables = new int[8][];

    public void clear() {
        count = 0;
    }

    public void add(int firstQueryRow, int queries, int firstPosition, int[] blockTable) {
        if (count == queryStart.length) {
            int n = count * 2;
            queryStart = Arrays.copyOf(queryStart, n);
            queryCount = Arrays.copyOf(queryCount, n);
            startPos = Arrays.copyOf(startPos, n);
            blockTables = Arrays.copyOf(blockTables, n);
        }
        queryStart[count] = firstQueryRow;
        queryCount[count] = queries;
        startPos[count] = firstPosition;
        blockTables[count] = blockTable;
        count++;
    }

    public int sequences() {
        return count;
    }

    public int queryStart(int s) {
        return queryStart[s];
    }

    public int queryCount(int s) {
        return queryCount[s];
    }

    public int startPos(int s) {
        return startPos[s];
    }

    public int[] blockTable(int s) {
        return blockTables[s];
    }

    /** Total query rows. */
    public int totalQueries() {
        int n = 0;
        for (int s = 0; s < count; s++) n += queryCount[s];
        return n;
    }
}
