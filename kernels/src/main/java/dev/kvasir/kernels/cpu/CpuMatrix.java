package dev.kvasir.kernels.cpu;

import dev.kvasir.kernels.DeviceMatrix;
import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.WeightTensor;

import java.lang.foreign.MemorySegment;

/**
 * A weight matrix read in place from its (usually memory-mapped) segment: row r's {@code cols}
 * values start at byte {@code r * rowBytes} of {@code data}. For a whole tensor {@code rowBytes} is
 * one row's size; for a column slice (a tensor-parallel rank's share of a row-parallel projection)
 * {@code data} starts at the slice's first column and {@code rowBytes} is the whole row's size, so
 * the kernels step over the other ranks' columns without a copy.
 */
final class CpuMatrix implements DeviceMatrix {

    final WeightTensor tensor;
    final MemorySegment data;
    final GgmlType type;
    final int rows;
    final int cols;
    /** Bytes from one row to the next (at least the bytes of {@code cols} values). */
    final long rowBytes;

    CpuMatrix(WeightTensor tensor) {
        this(tensor, 0, tensor.cols());
    }

    /** Columns {@code [fromCol, toCol)} of every row of {@code tensor}, in place. */
    CpuMatrix(WeightTensor tensor, int fromCol, int toCol) {
        this.tensor = tensor;
        this.type = tensor.type();
        if (tensor.cols() % type.blockSize != 0) {
            throw new IllegalArgumentException("tensor " + tensor.name() + ": rows of " + tensor.cols() + " values cannot be "
                    + type + " (blocks of " + type.blockSize + ")");
        }
        if (fromCol != 0 || toCol != tensor.cols()) tensor.requireColumns(fromCol, toCol);
        this.rows = tensor.rows();
        this.cols = toCol - fromCol;
        this.rowBytes = type.bytesFor(tensor.cols());
        this.data = fromCol == 0 ? tensor.data() : tensor.data().asSlice(type.bytesFor(fromCol));
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
