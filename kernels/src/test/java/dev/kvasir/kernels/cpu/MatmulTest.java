package dev.kvasir.kernels.cpu;

import dev.kvasir.kernels.DeviceMatrix;
import dev.kvasir.kernels.DeviceTensor;
import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.WeightTensor;
import dev.kvasir.kernels.quant.Quant;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every matmul path on float activations (one token in registers, many tokens through scratch)
 * against a float64 dot of the stored values; Q8_0 on int8 activations is {@link Int8DotsTest}'s.
 */
class MatmulTest {

    private static CpuBackend backend;

    @BeforeAll
    static void start() {
        backend = new CpuBackend(2, KvStorage.F32, false);
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    @ParameterizedTest
    @CsvSource({"F32, 40", "F32, 64", "F16, 40", "F16, 96", "BF16, 40", "BF16, 64", "Q8_0, 64", "Q8_0, 96", "Q4_0, 64", "Q4_0, 96"})
    void matchesReferenceForOneAndManyTokens(GgmlType type, int cols) {
        int rows = 37;
        Random r = new Random(cols * 31L + type.ordinal());
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
        try (Arena arena = Arena.ofShared()) { // the workers read it
            MemorySegment data = arena.allocate(type.bytesFor(w.length), 64);
            for (int row = 0; row < rows; row++) Quant.quantize(type, w, row * cols, cols, data, type.bytesFor(cols) * row);
            WeightTensor t = new WeightTensor("w", type, new long[] {cols, rows}, data);
            float[] stored = Quant.dequantize(t);
            DeviceMatrix m = backend.matrix(t);
            for (int n : new int[] {1, 2, 3, 4, 9}) {
                float[] x = new float[n * cols];
                for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                DeviceTensor xt = backend.allocate(x.length), out = backend.allocate((long) n * rows);
                backend.upload(x, 0, xt, 0, x.length);
                backend.matmul(m, xt, n, out);
                float[] got = new float[n * rows];
                backend.download(out, 0, got, 0, got.length);
                for (int tok = 0; tok < n; tok++) {
                    for (int row = 0; row < rows; row++) {
                        double ref = 0, scale = 0;
                        for (int i = 0; i < cols; i++) {
                            ref += (double) stored[row * cols + i] * x[tok * cols + i];
                            scale += Math.abs((double) stored[row * cols + i] * x[tok * cols + i]);
                        }
                        double err = Math.abs(got[tok * rows + row] - ref);
                        int tk = tok, rw = row;
                        assertTrue(err <= 1e-5 * scale + 1e-6, () -> type + " n=" + n + " token " + tk + " row " + rw + ": error " + err);
                    }
                }
                // Each token alone gives the same outputs (one summation order on every path).
                if (n > 1) {
                    DeviceTensor one = backend.allocate(cols), oneOut = backend.allocate(rows);
                    float[] alone = new float[rows];
                    for (int tok = 0; tok < n; tok++) {
                        backend.upload(x, tok * cols, one, 0, cols);
                        backend.matmul(m, one, 1, oneOut);
                        backend.download(oneOut, 0, alone, 0, rows);
                        for (int row = 0; row < rows; row++) {
                            assertEquals(alone[row], got[tok * rows + row], 1e-6f * Math.max(1f, Math.abs(alone[row])));
                        }
                    }
                }
            }
        }
    }
}
