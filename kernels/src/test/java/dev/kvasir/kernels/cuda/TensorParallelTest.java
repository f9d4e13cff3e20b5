package dev.kvasir.kernels.cuda;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.WeightTensor;
import dev.kvasir.kernels.quant.Quant;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class TensorParallelTest {

    private static WeightTensor f32(Arena arena, int rows, int cols) {
        MemorySegment data = arena.allocate((long) rows * cols * 4, 64);
        for (int i = 0; i < rows * cols; i++) data.setAtIndex(ValueLayout.JAVA_FLOAT, i, i);
        return new WeightTensor("w", GgmlType.F32, new long[] {cols, rows}, data);
    }

    @Test
    void columnShardsAreRowRangesAndRowShardsColumnRanges() {
        try (Arena arena = Arena.ofConfined()) {
            WeightTensor w = f32(arena, 4, 6);
            WeightTensor c1 = new TensorParallel(1, 2).columnShard(w);
            assertEquals(2, c1.rows());
            assertEquals(6, c1.cols());
            assertArrayEquals(new float[] {12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}, Quant.dequantize(c1));

            WeightTensor r2 = new TensorParallel(2, 3).rowShard(w, arena);
            assertEquals(4, r2.rows());
            assertEquals(2, r2.cols());
            assertArrayEquals(new float[] {4, 5, 10, 11, 16, 17, 22, 23}, Quant.dequantize(r2));
        }
    }

    @Test
    void quantisedRowShardsMustFallOnBlocks() {
        try (Arena arena = Arena.ofConfined()) {
            int rows = 2, cols = 64;
            float[] values = new float[rows * cols];
            for (int i = 0; i < values.length; i++) values[i] = (i % 7) - 3;
            MemorySegment data = arena.allocate(GgmlType.Q8_0.bytesFor(values.length), 64);
            Quant.quantize(GgmlType.Q8_0, values, 0, values.length, data, 0);
            WeightTensor w = new WeightTensor("q", GgmlType.Q8_0, new long[] {cols, rows}, data);

            WeightTensor half = new TensorParallel(1, 2).rowShard(w, arena);
            float[] all = Quant.dequantize(w), part = Quant.dequantize(half);
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < 32; c++) assertEquals(all[r * cols + 32 + c], part[r * 32 + c]);
            }
            assertThrows(IllegalArgumentException.class, () -> new TensorParallel(1, 4).rowShard(w, arena));
        }
    }
}
