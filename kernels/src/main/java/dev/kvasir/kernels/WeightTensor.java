package dev.kvasir.kernels;

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
