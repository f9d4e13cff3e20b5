package dev.kvasir.kernels.cpu;

import dev.kvasir.kernels.DeviceMatrix;
import dev.kvasir.kernels.DeviceTensor;
import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.WeightTensor;
import dev.kvasir.kernels.quant.KQuant;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The vector K-quant kernels (row dequantization for many tokens, in-register dots for one) against
 * KQuant's scalar dequantization: the same floats bit for bit, the same accumulators as
 * {@link Matmul#dot} over KQuant's row, matmul against a float64 dot, and each token of a batch
 * equal to itself alone. Blocks are random bytes with
 * random finite f16 scales (subnormals, zero and negative values included), so every nibble, high
 * bit and 6-bit scale/min position takes many values.
 */
class KQuantVectorTest {

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static CpuBackend backend;

    @BeforeAll
    static void start() {
        backend = new CpuBackend(2);
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    /** Random f16 bits with a finite value: the top exponent bit is cleared where the exponent is all ones. */
    private static short finiteF16(Random r) {
        int h = r.nextInt(1 << 16);
        if ((h & 0x7C00) == 0x7C00) h ^= 0x4000;
        return (short) h;
    }

    /** Random blocks; d (and dmin) at moderate magnitudes for most blocks, arbitrary finite f16 for some. */
    private static MemorySegment randomBlocks(Arena arena, GgmlType type, int blocks, Random r) {
        MemorySegment data = arena.allocate((long) blocks * type.typeSize, 64);
        byte[] bytes = new byte[type.typeSize];
        for (int b = 0; b < blocks; b++) {
            long at = (long) b * type.typeSize;
            r.nextBytes(bytes);
            MemorySegment.copy(bytes, 0, data, ValueLayout.JAVA_BYTE, at, bytes.length);
            boolean wild = r.nextInt(8) == 0;
            short d = wild ? finiteF16(r) : Float.floatToFloat16((float) (r.nextGaussian() * 1e-2));
            if (type == GgmlType.Q4_K) {
                short dmin = wild ? finiteF16(r) : Float.floatToFloat16((float) (r.nextGaussian() * 1e-2));
                data.set(I16, at, d);
                data.set(I16, at + 2, dmin);
            } else {
                data.set(I16, at + 208, d);
            }
        }
        return data;
    }

    private static void scalarRow(GgmlType type, MemorySegment seg, long off, float[] dst, int dstOff, int cols) {
        if (type == GgmlType.Q4_K) KQuant.dequantizeQ4_K(seg, off, dst, dstOff, cols);
        else KQuant.dequantizeQ6_K(seg, off, dst, dstOff, cols);
    }

    private static void assertSameBits(float expected, float actual, String what) {
        if (Float.floatToRawIntBits(expected) != Float.floatToRawIntBits(actual)) {
            fail(what + ": expected " + expected + " (0x" + Integer.toHexString(Float.floatToRawIntBits(expected))
                    + "), got " + actual + " (0x" + Integer.toHexString(Float.floatToRawIntBits(actual)) + ")");
        }
    }

    @ParameterizedTest
    @CsvSource({"Q4_K, 256", "Q4_K, 512", "Q4_K, 2048", "Q6_K, 256", "Q6_K, 512", "Q6_K, 2048"})
    void vectorRowDequantizationIsKQuantsBitForBit(GgmlType type, int cols) {
        int rows = 9;
        Random r = new Random(cols * 131L + type.ordinal());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = randomBlocks(arena, type, rows * cols / 256, r);
            CpuMatrix m = new CpuMatrix(new WeightTensor("w", type, new long[] {cols, rows}, data));
            float[] expected = new float[cols], got = new float[cols + 7];
            for (int row = 0; row < rows; row++) {
                scalarRow(type, data, row * m.rowBytes, expected, 0, cols);
                WeightLoads.dequantizeRow(m, row, got, 7); // an offset destination as well
                for (int i = 0; i < cols; i++) assertSameBits(expected[i], got[7 + i], type + " row " + row + " value " + i);
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"Q4_K, 256", "Q4_K, 512", "Q4_K, 2048", "Q6_K, 256", "Q6_K, 512", "Q6_K, 2048"})
    void matmulMatchesScalarDequantizationForOneAndManyTokens(GgmlType type, int cols) {
        int rows = 37; // not a multiple of the row tiles or blocks
        Random r = new Random(cols * 31L + type.ordinal());
        try (Arena arena = Arena.ofShared()) { // the workers read it
            MemorySegment data = randomBlocks(arena, type, rows * cols / 256, r);
            WeightTensor t = new WeightTensor("w", type, new long[] {cols, rows}, data);
            float[] stored = new float[rows * cols];
            long rowBytes = type.bytesFor(cols);
            for (int row = 0; row < rows; row++) scalarRow(type, data, row * rowBytes, stored, row * cols, cols);
            DeviceMatrix m = backend.matrix(t);
            for (int n : new int[] {1, 2, 3, 4, 9}) {
                float[] x = new float[n * cols];
                for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                float[] got = matmul(m, x, n, rows);
                for (int tok = 0; tok < n; tok++) {
                    for (int row = 0; row < rows; row++) {
                        double ref = 0, scale = 0;
                        for (int i = 0; i < cols; i++) {
                            ref += (double) stored[row * cols + i] * x[tok * cols + i];
                            scale += Math.abs((double) stored[row * cols + i] * x[tok * cols + i]);
                        }
                        double err = Math.abs(got[tok * rows + row] - ref);
                        int tk = tok, rw = row;
                        assertTrue(err <= 1e-5 * scale + 1e-30, () -> type + " n=" + n + " token " + tk + " row " + rw + ": error " + err);
                    }
                }
                if (n > 1) { // each token alone: its outputs inside the batch
                    for (int tok = 0; tok < n; tok++) {
                        float[] alone = matmul(m, Arrays.copyOfRange(x, tok * cols, (tok + 1) * cols), 1, rows);
                        for (int row = 0; row < rows; row++) {
                            // Both paths accumulate the same lanes (the lane test below checks that bit
                            // for bit); only the final reduceLanes may differ: C2's intrinsic adds the
                            // lanes as a tree, the interpreter and C1 in lane order, and which of the
                            // two methods is compiled yet depends on the JIT. Hence a bound of a few
                            // roundings of the lane magnitudes rather than equality.
                            double scale = 0;
                            for (int i = 0; i < cols; i++) scale += Math.abs((double) stored[row * cols + i] * x[tok * cols + i]);
                            double diff = Math.abs((double) alone[row] - got[tok * rows + row]);
                            int tk = tok, rw = row;
                            assertTrue(diff <= 0x1p-20 * scale, () -> type + " n=" + n + " token " + tk + " row " + rw
                                    + ": alone " + diff + " from batched");
                        }
                    }
                }
            }
        }
    }

    /**
     * The one-token kernels' accumulators, lane for lane, equal {@link Matmul#dot}'s loop over
     * KQuant's expanded row (what the many-token path computes from scratch): same floats, same
     * order, no reduction involved, so the comparison is exact whatever the JIT has compiled.
     */
    @ParameterizedTest
    @CsvSource({"Q4_K, 256", "Q4_K, 512", "Q4_K, 2048", "Q6_K, 256", "Q6_K, 512", "Q6_K, 2048"})
    void oneTokenLanesAreTheDotOfTheScalarRowBitForBit(GgmlType type, int cols) {
        int rows = 5;
        Random r = new Random(cols * 17L + type.ordinal());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = randomBlocks(arena, type, rows * cols / 256, r);
            CpuMatrix m = new CpuMatrix(new WeightTensor("w", type, new long[] {cols, rows}, data));
            float[] w = new float[cols], x = new float[cols + 3], expected = new float[WeightLoads.L], got = new float[WeightLoads.L];
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            for (int row = 0; row < rows; row++) {
                scalarRow(type, data, row * m.rowBytes, w, 0, cols);
                FloatVector acc = FloatVector.zero(WeightLoads.F);
                for (int i = 0; i < cols; i += WeightLoads.L) { // Matmul.dot's loop
                    acc = FloatVector.fromArray(WeightLoads.F, w, i).fma(FloatVector.fromArray(WeightLoads.F, x, 3 + i), acc);
                }
                acc.intoArray(expected, 0);
                (type == GgmlType.Q4_K ? Matmul.q4kLanes(m, row, x, 3) : Matmul.q6kLanes(m, row, x, 3)).intoArray(got, 0);
                for (int k = 0; k < WeightLoads.L; k++) assertSameBits(expected[k], got[k], type + " row " + row + " lane " + k);
            }
        }
    }

    /**
     * One token over row counts that are not multiples of the four-row tiles (and one that is):
     * every row, in a tile or in the remainder, as close to the double-precision dot as the
     * one-row kernel (whose accumulator is checked bit for bit above).
     */
    @ParameterizedTest
    @CsvSource({"Q4_K, 1", "Q4_K, 6", "Q4_K, 23", "Q4_K, 64", "Q4_K, 70", "Q6_K, 6", "Q6_K, 23"})
    void oneTokenCoversEveryRowWhateverTheRowCount(GgmlType type, int rows) {
        int cols = 512;
        Random r = new Random(rows * 7L + type.ordinal());
        try (Arena arena = Arena.ofShared()) {
            MemorySegment data = randomBlocks(arena, type, rows * cols / 256, r);
            WeightTensor t = new WeightTensor("w", type, new long[] {cols, rows}, data);
            CpuMatrix cm = new CpuMatrix(t);
            float[] x = new float[cols];
            for (int i = 0; i < cols; i++) x[i] = (float) r.nextGaussian();
            float[] got = matmul(backend.matrix(t), x, 1, rows), w = new float[cols];
            for (int row = 0; row < rows; row++) {
                scalarRow(type, data, row * cm.rowBytes, w, 0, cols);
                double ref = 0, scale = 0;
                for (int i = 0; i < cols; i++) {
                    ref += (double) w[i] * x[i];
                    scale += Math.abs((double) w[i] * x[i]);
                }
                double err = Math.abs(got[row] - ref);
                int rw = row;
                assertTrue(err <= 1e-5 * scale + 1e-30, () -> type + " rows=" + rows + " row " + rw + ": error " + err);
            }
        }
    }

    private static float[] matmul(DeviceMatrix m, float[] x, int n, int rows) {
        DeviceTensor xt = backend.allocate(x.length), out = backend.allocate((long) n * rows);
        backend.upload(x, 0, xt, 0, x.length);
        backend.matmul(m, xt, n, out);
        float[] got = new float[n * rows];
        backend.download(out, 0, got, 0, got.length);
        return got;
    }
}
