package dev.kvasir.kernels;

import dev.kvasir.kernels.quant.Quant;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Tensor-parallel slices of a weight: row ranges as views, column ranges copied, block boundaries enforced. */
class WeightTensorTest {

    private static WeightTensor f32(Arena arena, int rows, int cols) {
        MemorySegment data = arena.allocate((long) rows * cols * 4, 64);
        for (int i = 0; i < rows * cols; i++) data.setAtIndex(ValueLayout.JAVA_FLOAT, i, i);
        return new WeightTensor("w", GgmlType.F32, new long[] {cols, rows}, data);
    }

    @Test
    void rowRangesAreViewsAndColumnRangesCopies() {
        try (Arena arena = Arena.ofConfined()) {
            WeightTensor w = f32(arena, 4, 6);
            WeightTensor rows = w.rows(1, 3);
            assertEquals(2, rows.rows());
            assertEquals(6, rows.cols());
            assertArrayEquals(new float[] {6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}, Quant.dequantize(rows));
            assertEquals(w.data().address() + 6 * 4, rows.data().address(), "a view of the same memory");
            assertSame(w, w.rows(0, 4));

            WeightTensor cols = w.columns(4, 6, arena);
            assertEquals(4, cols.rows());
            assertEquals(2, cols.cols());
            assertArrayEquals(new float[] {4, 5, 10, 11, 16, 17, 22, 23}, Quant.dequantize(cols));
            assertThrows(IllegalArgumentException.class, () -> w.rows(3, 5));
            assertThrows(IllegalArgumentException.class, () -> w.columns(2, 2, arena));
        }
    }

    @Test
    void quantisedColumnRangesMustFallOnBlocks() {
        try (Arena arena = Arena.ofConfined()) {
            int rows = 2, cols = 64;
            float[] values = new float[rows * cols];
            for (int i = 0; i < values.length; i++) values[i] = (i % 7) - 3;
            MemorySegment data = arena.allocate(GgmlType.Q8_0.bytesFor(values.length), 64);
            Quant.quantize(GgmlType.Q8_0, values, 0, values.length, data, 0);
            WeightTensor w = new WeightTensor("blk.0.ffn_down.weight", GgmlType.Q8_0, new long[] {cols, rows}, data);

            WeightTensor half = w.columns(32, 64, arena);
            float[] all = Quant.dequantize(w), part = Quant.dequantize(half);
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < 32; c++) assertEquals(all[r * cols + 32 + c], part[r * 32 + c]);
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> w.requireColumns(16, 32));
            assertTrue(e.getMessage().startsWith("tensor blk.0.ffn_down.weight is Q8_0, stored in blocks of 32 values: its"
                    + " columns [16, 32) do not fall on block boundaries"), e.getMessage());
        }
    }
}
