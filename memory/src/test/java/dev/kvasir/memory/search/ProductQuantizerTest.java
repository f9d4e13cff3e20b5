package dev.kvasir.memory.search;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Product quantization on clustered unit vectors: 48 bytes a vector, close dots, a repeatable codebook. */
class ProductQuantizerTest {
    private static final int DIM = Embedder.DIMENSION;

    /** n unit vectors around 40 centres, as sentence embeddings cluster by topic. */
    static float[] clustered(int n, long seed) {
        Random r = new Random(seed);
        float[][] centres = new float[40][DIM];
        for (float[] c : centres) for (int i = 0; i < DIM; i++) c[i] = (float) r.nextGaussian();
        float[] out = new float[n * DIM];
        for (int row = 0; row < n; row++) {
            float[] c = centres[r.nextInt(centres.length)];
            float[] v = new float[DIM];
            for (int i = 0; i < DIM; i++) v[i] = c[i] + 0.8f * (float) r.nextGaussian();
            System.arraycopy(Embedder.normalized(v), 0, out, row * DIM, DIM);
        }
        return out;
    }

    @Test
    void codesScoreCloseToTheExactDotAndKeepTheNearestNeighbours() {
        int n = 3000;
        float[] data = clustered(n, 11);
        ProductQuantizer pq = ProductQuantizer.train(data, n, 5);
        byte[] codes = new byte[n * ProductQuantizer.SUBSPACES];
        for (int row = 0; row < n; row++) pq.encode(data, row * DIM, codes, row * ProductQuantizer.SUBSPACES);
        Random r = new Random(12);
        double errorSum = 0;
        int found = 0;
        for (int q = 0; q < 50; q++) {
            // A query near a stored memory, as a question is near its answer.
            float[] query = new float[DIM];
            int near = r.nextInt(n);
            for (int i = 0; i < DIM; i++) query[i] = data[near * DIM + i] + 0.05f * (float) r.nextGaussian();
            query = Embedder.normalized(query);
            float[] table = pq.table(query);
            float[] approx = new float[n];
            ProductQuantizer.scan(codes, n, table, approx);
            TopScores exact = new TopScores(10);
            TopScores candidates = new TopScores(64);
            for (int row = 0; row < n; row++) {
                float d = VectorMath.dot(data, row * DIM, query);
                exact.offer(row, d);
                candidates.offer(row, approx[row]);
                errorSum += Math.abs(d - approx[row]);
            }
            // The exact re-rank of the 64 best by codes (the service re-ranks as many for k = 10) finds the true top 10.
            TopScores reranked = new TopScores(10);
            for (int row : candidates.slotsDescending()) reranked.offer(row, VectorMath.dot(data, row * DIM, query));
            Set<Integer> truth = new HashSet<>();
            for (int row : exact.slotsDescending()) truth.add(row);
            for (int row : reranked.slotsDescending()) if (truth.contains(row)) found++;
        }
        double meanError = errorSum / (50.0 * n);
        assertTrue(meanError < 0.05, "mean |dot error| " + meanError);
        assertTrue(found >= 0.95 * 500, "recall@10 after re-rank: " + found + "/500");
    }

    @Test
    void theSameSampleGivesTheSameCodebook() {
        float[] data = clustered(600, 3);
        byte[] a = new byte[ProductQuantizer.SUBSPACES];
        byte[] b = new byte[ProductQuantizer.SUBSPACES];
        ProductQuantizer.train(data, 600, 9).encode(data, 17 * DIM, a, 0);
        ProductQuantizer.train(data, 600, 9).encode(data, 17 * DIM, b, 0);
        assertArrayEquals(a, b);
    }
}
