package dev.kvasir.memory.search;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

class VectorMathTest {
    @Test
    void int8RowsGiveNearlyTheFloatDot() {
        Random r = new Random(3);
        int dim = Embedder.DIMENSION;
        for (int trial = 0; trial < 200; trial++) {
            float[] v = Embedder.normalized(gaussian(r, dim));
            float[] q = Embedder.normalized(gaussian(r, dim));
            byte[] codes = new byte[2 * dim];
            float scale = VectorMath.quantize(v, codes, dim);
            float exact = 0;
            for (int i = 0; i < dim; i++) exact += v[i] * q[i];
            assertEquals(exact, VectorMath.dot(v, 0, q), 1e-5);
            assertEquals(exact, scale * VectorMath.dot(codes, dim, q), 0.01, "int8 error stays under 0.01 of cosine");
        }
    }

    private static float[] gaussian(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }
}
