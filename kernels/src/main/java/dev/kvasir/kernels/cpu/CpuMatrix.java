package dev.kvasir.kernels.cpu;

import dev.kvasir.kernels.DeviceMatrix;
import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.WeightTensor;

import java.lang.foreign.MemorySegment;

/** A weight matrix read in place from its (usually memory-mapped) segment. */
final class CpuMatrix implements DeviceMatrix {

    final WeightTensor tensor;
    final MemorySegment data;
    final GgmlType type;
    final int rows;
    final int cols;
    final long rowBytes;

    CpuMatrix(WeightTensor tensor) {
        this.tensor = tensor;
        this.data = tensor.data();
        this.type = tensor.type();
        this.rows = tensor.rows();
        this.cols = tensor.cols();
        if (cols % type.blockSize != 0) {
            throw new IllegalArgumentException("tensor " + tensor.name() + ": rows of " + cols + " values cannot be "
                    + type + " (blocks of " + type.blockSize + ")");
        }
        this.rowBytes = type.bytesFor(cols);
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    @Override
    public GgmlType type() {
        return type;
    }

    @Override
    public String name() {
        return tensor.name();
    }

    static CpuMatrix of(DeviceMatrix m) {
        if (m instanceof CpuMatrix c) return c;
        throw new IllegalArgumentException("not a CPU matrix: " + m);
    }
}
