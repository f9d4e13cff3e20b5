package dev.kvasir.kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A weight tensor as stored in the model file, usually a slice of a memory-mapped file.
 *
 * @param name  the GGUF tensor name ({@code blk.0.attn_q.weight}); loaders of other formats map
 *              their names onto GGUF's
 * @param type  storage type
 * @param shape dimensions in GGUF order: {@code shape[0]} is the innermost (contiguous) one, so a
 *              matrix {@code [in, out]} is stored as {@code out} rows of {@code in} values
 * @param data  exactly {@code type.bytesFor(elements())} bytes
 */
public record WeightTensor(String name, GgmlType type, long[] shape, MemorySegment data) {

    public WeightTensor {
        shape = shape.clone();
        long expected = type.bytesFor(count(shape));
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException("tensor " + name + ": " + type + " " + Arrays.toString(shape)
                    + " needs " + expected + " bytes, got " + data.byteSize());
        }
    }

    public long elements() {
        return count(shape);
    }

    /** Contiguous (innermost) dimension: the input size of a matrix. */
    public int cols() {
        return Math.toIntExact(shape[0]);
    }

    /** Number of rows: the product of all dimensions after the first (the output size of a matrix). */
    public int rows() {
        return Math.toIntExact(elements() / shape[0]);
    }

    /**
     * Rows {@code [from, to)} of this matrix: a view of the same memory (rows are contiguous), how a
     * tensor-parallel rank takes its share of a column-parallel projection (its heads, its MLP
     * columns, its vocabulary rows) straight from the mapped file.
     */
    public WeightTensor rows(int from, int to) {
        if (from < 0 || to > rows() || from >= to) {
            throw new IllegalArgumentException("tensor " + name + ": rows [" + from + ", " + to + ") of " + rows());
        }
        if (from == 0 && to == rows()) return this;
        requireMatrix();
        long rowBytes = type.bytesFor(cols());
        return new WeightTensor(name, type, new long[] {shape[0], to - from}, data.asSlice(from * rowBytes, (to - from) * rowBytes));
    }

    /**
     * Checks that columns {@code [from, to)} of every row can be read on their own: the range lies
     * inside the row and, for block-quantised types, starts and ends on a block boundary (a
     * row-parallel split cuts the input dimension, and a Q8_0 block of 32 or a K-quant super-block
     * of 256 values cannot be cut).
     *
     * @throws IllegalArgumentException naming the tensor, the range and the block size
     */
    public void requireColumns(int from, int to) {
        requireMatrix();
        if (from < 0 || to > cols() || from >= to) {
            throw new IllegalArgumentException("tensor " + name + ": columns [" + from + ", " + to + ") of " + cols());
        }
        if (from % type.blockSize != 0 || to % type.blockSize != 0) {
            throw new IllegalArgumentException("tensor " + name + " is " + type + ", stored in blocks of " + type.blockSize
                    + " values: its columns [" + from + ", " + to + ") do not fall on block boundaries, so it cannot be"
                    + " split there");
        }
    }

    /**
     * Columns {@code [from, to)} of every row, copied into {@code arena}: a row-parallel shard for a
     * backend that uploads it (the pieces are strided in the file; the CPU reads them in place
     * instead, {@link Backend#matrix(WeightTensor, int, int)}).
     */
    public WeightTensor columns(int from, int to, Arena arena) {
        requireColumns(from, to);
        if (from == 0 && to == cols()) return this;
        long rowBytes = type.bytesFor(cols());
        long skip = type.bytesFor(from);
        long partBytes = type.bytesFor(to - from);
        int rows = rows();
        MemorySegment out = arena.allocate(partBytes * rows, 64);
        for (long r = 0; r < rows; r++) {
            MemorySegment.copy(data, r * rowBytes + skip, out, r * partBytes, partBytes);
        }
        return new WeightTensor(name, type, new long[] {to - from, rows}, out);
    }

    private void requireMatrix() {
        if (shape.length != 2) throw new IllegalArgumentException("tensor " + name + " is not a matrix: " + Arrays.toString(shape));
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    private static long count(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    @Override
    public String toString() {
        return "WeightTensor[" + name + " " + type + " " + Arrays.toString(shape) + "]";
    }
}
