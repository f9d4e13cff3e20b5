package dev.kvasir.memory.search;

import java.util.Random;

/**
 * Product quantization of {@link Embedder#DIMENSION}-dimensional unit vectors: the vector is cut
 * into {@link #SUBSPACES} sub-vectors of {@link #SUB_DIM} dimensions, each replaced by the index of
 * its nearest of {@link #CENTROIDS} centroids (one byte): 48 bytes instead of 1,536. A query is
 * scored against codes with a table of its dot with every centroid (asymmetric distance: the query
 * stays exact), 48 lookups per vector. Centroids come from k-means on a sample of stored vectors,
 * with a seeded start, so the same sample gives the same codebook.
 */
final class ProductQuantizer {
    static final int DIM = Embedder.DIMENSION;
    static final int SUBSPACES = 48;
    static final int SUB_DIM = DIM / SUBSPACES;
    static final int CENTROIDS = 256;
    /** Vectors a codebook is trained on at most (more change little and cost seconds). */
    static final int MAX_TRAINING_ROWS = 2048;
    private static final int ITERATIONS = 8;

    /** [subspace][centroid][SUB_DIM], flat. */
    private final float[] centroids;

    private ProductQuantizer(float[] centroids) {
        this.centroids = centroids;
    }

    /** Bytes of the codebook itself (one per process). */
    static long codebookBytes() {
        return (long) SUBSPACES * CENTROIDS * SUB_DIM * Float.BYTES;
    }

    /**
     * Trains on rows {@code 0..rows-1} of the flat matrix {@code vectors} (rows of {@link #DIM}),
     * evenly sampled down to {@link #MAX_TRAINING_ROWS}; needs at least {@link #CENTROIDS} rows.
     */
    static ProductQuantizer train(float[] vectors, int rows, long seed) {
        if (rows < CENTROIDS) throw new IllegalArgumentException("a codebook needs at least " + CENTROIDS + " vectors, got " + rows);
        int n = Math.min(rows, MAX_TRAINING_ROWS);
        int[] sample = new int[n];
        for (int i = 0; i < n; i++) sample[i] = (int) ((long) i * rows / n);
        Random random = new Random(seed);
        float[] centroids = new float[SUBSPACES * CENTROIDS * SUB_DIM];
        float[] points = new float[n * SUB_DIM];
        int[] assignment = new int[n];
        for (int s = 0; s < SUBSPACES; s++) {
            for (int i = 0; i < n; i++) System.arraycopy(vectors, sample[i] * DIM + s * SUB_DIM, points, i * SUB_DIM, SUB_DIM);
            kMeans(points, n, centroids, s * CENTROIDS * SUB_DIM, assignment, random);
        }
        return new ProductQuantizer(centroids);
    }

    /** Lloyd's k-means on n points of SUB_DIM, centroids written at {@code base}; an emptied centroid takes a random point. */
    private static void kMeans(float[] points, int n, float[] centroids, int base, int[] assignment, Random random) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int c = 0; c < CENTROIDS; c++) System.arraycopy(points, order[c] * SUB_DIM, centroids, base + c * SUB_DIM, SUB_DIM);
        float[] sums = new float[CENTROIDS * SUB_DIM];
        int[] counts = new int[CENTROIDS];
        for (int iter = 0; iter < ITERATIONS; iter++) {
            for (int i = 0; i < n; i++) assignment[i] = nearest(points, i * SUB_DIM, centroids, base);
            java.util.Arrays.fill(sums, 0);
            java.util.Arrays.fill(counts, 0);
            for (int i = 0; i < n; i++) {
                int c = assignment[i];
                counts[c]++;
                for (int d = 0; d < SUB_DIM; d++) sums[c * SUB_DIM + d] += points[i * SUB_DIM + d];
            }
            for (int c = 0; c < CENTROIDS; c++) {
                if (counts[c] == 0) {
                    System.arraycopy(points, random.nextInt(n) * SUB_DIM, centroids, base + c * SUB_DIM, SUB_DIM);
                } else {
                    for (int d = 0; d < SUB_DIM; d++) centroids[base + c * SUB_DIM + d] = sums[c * SUB_DIM + d] / counts[c];
                }
            }
        }
    }

    private static int nearest(float[] x, int offset, float[] centroids, int base) {
        int best = 0;
        float bestDistance = Float.MAX_VALUE;
        for (int c = 0; c < CENTROIDS; c++) {
            float d = 0;
            int o = base + c * SUB_DIM;
            for (int k = 0; k < SUB_DIM; k++) {
                float diff = x[offset + k] - centroids[o + k];
                d += diff * diff;
            }
            if (d < bestDistance) {
                bestDistance = d;
                best = c;
            }
        }
        return best;
    }

    /** Writes the {@link #SUBSPACES} codes of {@code v} at {@code codes[offset..]}. */
    void encode(float[] v, int vOffset, byte[] codes, int offset) {
        for (int s = 0; s < SUBSPACES; s++) {
            codes[offset + s] = (byte) nearest(v, vOffset + s * SUB_DIM, centroids, s * CENTROIDS * SUB_DIM);
        }
    }

    /** The query's dot with every centroid of every subspace: [subspace][centroid]. */
    float[] table(float[] q) {
        float[] table = new float[SUBSPACES * CENTROIDS];
        for (int s = 0; s < SUBSPACES; s++) {
            for (int c = 0; c < CENTROIDS; c++) {
                int o = (s * CENTROIDS + c) * SUB_DIM;
                float dot = 0;
                for (int k = 0; k < SUB_DIM; k++) dot += q[s * SUB_DIM + k] * centroids[o + k];
                table[s * CENTROIDS + c] = dot;
            }
        }
        return table;
    }

    /** Approximate dot of the query (through its table) with the coded vector at {@code offset}. */
    static float score(byte[] codes, int offset, float[] table) {
        float sum = 0;
        for (int s = 0; s < SUBSPACES; s++) sum += table[s * CENTROIDS + (codes[offset + s] & 0xff)];
        return sum;
    }

    /** Approximate scores of rows 0..rows-1 into {@code out}. */
    static void scan(byte[] codes, int rows, float[] table, float[] out) {
        for (int r = 0; r < rows; r++) out[r] = score(codes, r * SUBSPACES, table);
    }
}
