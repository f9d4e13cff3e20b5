package dev.kvasir.kernels.cpu;

import dev.kvasir.kernels.DeviceMatrix;
import dev.kvasir.kernels.DeviceTensor;
import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.WeightTensor;
import dev.kvasir.kernels.quant.Quant;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Q4_K weights times int8 activations ({@link Int8DotsQ4K}, and {@link Int8Tiles} for prefills):
 * the sums against a float64 evaluation of the same integer formula, the whole against a float64
 * dot of the stored weights and the unquantized activations (next to the float path's error), and
 * every token's outputs the same whatever else is in its step.
 */
class Int8DotsQ4KTest {

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static CpuBackend int8;
    private static CpuBackend floats;

    @BeforeAll
    static void start() {
        int8 = new CpuBackend(2, KvStorage.F32, true);
        floats = new CpuBackend(2, KvStorage.F32, false);
    }

    @AfterAll
    static void stop() {
        int8.close();
        floats.close();
    }

    /** Random Q4_K rows: every nibble and 6-bit scale and min drawn at random, d and dmin about 1e-2 (f16). */
    private static MemorySegment randomRows(Arena arena, int rows, int cols, Random r) {
        int superBlocks = rows * cols / 256;
        MemorySegment data = arena.allocate((long) superBlocks * GgmlType.Q4_K.typeSize, 64);
        byte[] bytes = new byte[GgmlType.Q4_K.typeSize];
        for (int b = 0; b < superBlocks; b++) {
            long at = (long) b * GgmlType.Q4_K.typeSize;
            r.nextBytes(bytes);
            MemorySegment.copy(bytes, 0, data, ValueLayout.JAVA_BYTE, at, bytes.length);
            data.set(I16, at, Float.floatToFloat16((float) (0.5e-2 + r.nextFloat() * 1e-2)));
            data.set(I16, at + 2, Float.floatToFloat16((float) (0.5e-2 + r.nextFloat() * 1e-2)));
        }
        return data;
    }

    private static float[] gaussian(int count, Random r) {
        float[] x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    /**
     * Each (row, token) against {@code sum_b (d * sc_b) * dx_b * isum_b - (dmin * m_b) * dx_b * bsum_b}
     * evaluated in float64 from the same integers: within one rounding per float operation on the
     * path (the scale products, a fused multiply-add per block, the lane reduction, the mins' sum).
     * One to nine tokens: the one-token kernel, the few-token one and the prefill tiles, with rows
     * left over past the four-row groups (37 rows).
     */
    @Test
    void sumsMatchTheIntegerFormulaInFloat64() {
        int rows = 37, cols = 512, blocks = cols / 32;
        Random r = new Random(11);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = randomRows(arena, rows, cols, r);
            CpuMatrix m = new CpuMatrix(new WeightTensor("w", GgmlType.Q4_K, new long[] {cols, rows}, data));
            float[] scales = new float[2 * blocks];
            for (int n : new int[] {1, 2, 3, 4, 5, 9}) {
                float[] x = gaussian(n * cols, r);
                Int8Activations a = new Int8Activations();
                a.quantize(x, n, cols, n > Matmul.FEW_TOKENS);
                float[] out = new float[n * rows];
                if (n == 1) Int8Dots.oneToken(m, a, out, 0, rows, new float[Int8Dots.scratchFloats(m)]);
                else if (n <= Matmul.FEW_TOKENS) Int8Dots.fewTokens(m, a, n, out, 0, rows, new float[Int8Dots.scratchFloats(m)]);
                else Int8Tiles.manyTokens(m, a, n, out, 0, rows, new float[Int8Tiles.scratchFloats(cols)]);
                for (int row = 0; row < rows; row++) {
                    Int8DotsQ4K.scales(data, row * m.rowBytes, blocks, scales, 0, blocks);
                    for (int t = 0; t < n; t++) {
                        double ref = 0, size = 0;
                        for (int b = 0; b < blocks; b++) {
                            long isum = 0, bsum = 0;
                            for (int i = 0; i < 32; i++) {
                                // Sub-block b: the low (even b) or high nibbles of its 64-value group's 32 bytes.
                                int q = data.get(ValueLayout.JAVA_BYTE, row * m.rowBytes + 144L * (b / 8) + 16 + 32 * (b % 8 / 2) + i) >> 4 * (b % 2) & 15;
                                isum += (long) q * a.q[t * cols + 32 * b + i];
                                bsum += a.q[t * cols + 32 * b + i];
                            }
                            double dx = a.d[t * blocks + b];
                            double term = (double) scales[b] * dx * isum, min = (double) scales[blocks + b] * dx * bsum;
                            ref += term - min;
                            size += Math.abs(term) + Math.abs(min);
                        }
                        float got = out[t * rows + row];
                        String where = "n=" + n + " token " + t + " row " + row;
                        assertTrue(Math.abs(got - ref) <= 3e-7 * (blocks + 8) * size, where + ": " + got + " vs " + ref);
                    }
                }
            }
        }
    }

    /**
     * Random Q4_K rows and Gaussian activations against a float64 dot of the stored weights and the
     * float activations: relative RMS error over all outputs and the worst output relative to the
     * RMS output. Measured: int8 {@value #RMS_MEASURED} RMS (worst {@value #WORST_MEASURED}); the
     * float path 1e-7 (the activations' rounding, a step of max|x| / 127 per 32 values, is all of
     * the int8 figure; llama.cpp's Q8_K rounds once per 256 values, coarser).
     */
    @Test
    void matmulAgainstFloat64Reference() {
        int rows = 256, cols = 1024, n = 5;
        Random r = new Random(7);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment data = randomRows(arena, rows, cols, r);
            WeightTensor wt = new WeightTensor("w", GgmlType.Q4_K, new long[] {cols, rows}, data);
            float[] stored = Quant.dequantize(wt), x = gaussian(n * cols, r);
            double[] ref = new double[n * rows];
            double refSq = 0;
            for (int t = 0; t < n; t++) {
                for (int row = 0; row < rows; row++) {
                    for (int i = 0; i < cols; i++) ref[t * rows + row] += (double) stored[row * cols + i] * x[t * cols + i];
                    refSq += ref[t * rows + row] * ref[t * rows + row];
                }
            }
            double refRms = Math.sqrt(refSq / ref.length);
            double[] rms = new double[2], worst = new double[2];
            CpuBackend[] backends = {int8, floats};
            for (int k = 0; k < 2; k++) {
                for (int tokens : new int[] {1, n}) { // the decode kernel and the prefill tiles
                    float[] got = matmul(backends[k], wt, x, tokens);
                    double sq = 0;
                    for (int i = 0; i < tokens * rows; i++) {
                        double e = got[i] - ref[i];
                        sq += e * e;
                        worst[k] = Math.max(worst[k], Math.abs(e) / refRms);
                    }
                    rms[k] = Math.max(rms[k], Math.sqrt(sq / (tokens * rows)) / refRms);
                }
            }
            System.out.printf("Q4_K %dx%d vs float64: int8 activations RMS %.3g worst %.3g; float activations RMS %.3g worst %.3g%n",
                    rows, cols, rms[0], worst[0], rms[1], worst[1]);
            assertTrue(rms[0] < 2 * RMS_MEASURED, () -> "int8 RMS error " + rms[0]);
            assertTrue(worst[0] < 2 * WORST_MEASURED, () -> "int8 worst error " + worst[0]);
            assertTrue(rms[0] > 1e-4, () -> "int8 RMS error " + rms[0] + ": the activations were not rounded (float path?)");
            assertTrue(rms[1] < 1e-6, () -> "float activations RMS error " + rms[1]);
        }
    }

    static final double RMS_MEASURED = 5.6e-3, WORST_MEASURED = 0.021;

    /** One token alone, in a decode step of two to four, or in a prefill of up to nine: the same floats. */
    @Test
    void aTokensOutputsDoNotDependOnItsBatch() {
        int rows = 37, cols = 512;
        Random r = new Random(3);
        try (Arena arena = Arena.ofShared()) {
            DeviceMatrix m = int8.matrix(new WeightTensor("w", GgmlType.Q4_K, new long[] {cols, rows}, randomRows(arena, rows, cols, r)));
            float[] x = gaussian(9 * cols, r);
            DeviceTensor xt = int8.allocate(9L * cols), out = int8.allocate(9L * rows);
            // Warm up first: until C2 compiles them, the Vector API's Java fallbacks may reduce lanes
            // in another order than the compiled code.
            int8.upload(x, 0, xt, 0, x.length);
            for (int i = 0; i < 20_000; i++) int8.matmul(m, xt, 1 + i % 9, out);
            float[][] alone = new float[9][rows];
            for (int t = 0; t < 9; t++) {
                int8.upload(x, t * cols, xt, 0, cols);
                int8.matmul(m, xt, 1, out);
                int8.download(out, 0, alone[t], 0, rows);
            }
            int8.upload(x, 0, xt, 0, x.length);
            for (int n = 2; n <= 9; n++) {
                int8.matmul(m, xt, n, out);
                float[] got = new float[n * rows];
                int8.download(out, 0, got, 0, got.length);
                for (int t = 0; t < n; t++) {
                    for (int row = 0; row < rows; row++) assertEquals(alone[t][row], got[t * rows + row], "n=" + n + " token " + t + " row " + row);
                }
            }
        }
    }

    private static float[] matmul(CpuBackend backend, WeightTensor w, float[] x, int n) {
        int cols = (int) w.shape()[0], rows = (int) w.shape()[1];
        DeviceMatrix m = backend.matrix(w);
        DeviceTensor xt = backend.allocate((long) n * cols), out = backend.allocate((long) n * rows);
        backend.upload(x, 0, xt, 0, n * cols);
        backend.matmul(m, xt, n, out);
        float[] got = new float[n * rows];
        backend.download(out, 0, got, 0, got.length);
        return got;
    }
}
