package dev.kvasir.models.loader;

import dev.kvasir.kernels.GgmlType;

import java.util.Arrays;

/**
 * One tensor entry of a GGUF header.
 *
 * @param name   GGUF tensor name
 * @param type   storage type
 * @param shape  dimensions in GGUF order (innermost first)
 * @param offset byte offset from the start of the tensor data section
 * @param bytes  size of the tensor data in bytes
 */
public record TensorInfo(String name, GgmlType type, long[] shape, long offset, long bytes) {

    public TensorInfo {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public long elements() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    @Override
    public String toString() {
        return "TensorInfo[" + name + " " + type + " " + Arrays.toString(shape) + " @" + offset + "]";
    }
}
