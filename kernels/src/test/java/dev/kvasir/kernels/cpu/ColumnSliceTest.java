package dev.kvasir.kernels.cpu;

import dev.kvasir.kernels.DeviceMatrix;
import dev.kvasir.kernels.DeviceTensor;
import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.WeightTensor;
import dev.kvasir.kernels.quant.Quant;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A row-parallel shard on the CPU is a strided view of the whole matrix, read in place: its matmul
 * gives exactly what the same columns copied into a matrix of their own give, for one token, a few
 * and many, in every weight type.
 */
class ColumnSliceTest {

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    void aStridedViewMultipliesLikeACopy(GgmlType type) {
        int rows = 40, cols = 512, from = 256, to = 512;
        Random random = new Random(3);
        float[] values = new float[rows * cols];
        for (int i = 0; i < values.length; i++) values[i] = (float) random.nextGaussian();
        try (Arena arena = Arena.ofShared(); CpuBackend backend = new CpuBackend(2)) {
            MemorySegment data = arena.allocate(type.bytesFor(values.length), 64);
            if (type.blockSize == 256) kQuantBlocks(data, type, random);
            else for (int r = 0; r < rows; r++) Quant.quantize(type, values, r * cols, cols, data, r * type.bytesFor(cols));
            WeightTensor w = new WeightTensor("w", type, new long[] {cols, rows}, data);
            DeviceMatrix view = backend.matrix(w, from, to);
            DeviceMatrix copy = backend.matrix(w.columns(from, to, arena));
            assertEquals(to - from, view.cols());
            for (int n : new int[] {1, 3, 9}) {
                float[] x = new float[n * (to - from)];
                for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();
                DeviceTensor in = backend.allocate(x.length), a = backend.allocate((long) n * rows), b = backend.allocate((long) n * rows);
                backend.upload(x, 0, in, 0, x.length);
                backend.matmul(view, in, n, a);
                backend.matmul(copy, in, n, b);
                float[] fromView = new float[n * rows], fromCopy = new float[n * rows];
                backend.download(a, 0, fromView, 0, fromView.length);
                backend.download(b, 0, fromCopy, 0, fromCopy.length);
                assertArrayEquals(fromCopy, fromView, type + ", " + n + " tokens");
            }
        }
    }

    /** K-quants are read only in Kvasir: random quants under small finite scales (d, and Q4_K's dmin). */
    private static void kQuantBlocks(MemorySegment data, GgmlType type, Random random) {
        byte[] bytes = new byte[(int) data.byteSize()];
        random.nextBytes(bytes);
        MemorySegment.copy(bytes, 0, data, ValueLayout.JAVA_BYTE, 0, bytes.length);
        for (long at = 0; at < data.byteSize(); at += type.typeSize) {
            short d = Float.floatToFloat16((float) (random.nextGaussian() * 1e-2));
            if (type == GgmlType.Q4_K) {
                data.set(ValueLayout.JAVA_SHORT_UNALIGNED, at, d);
                data.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + 2, Float.floatToFloat16((float) (random.nextGaussian() * 1e-2)));
            } else {
                data.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + 208, d);
            }
        }
    }
}
