package dev.kvasir.kernels.cuda;

import dev.kvasir.kernels.DeviceMatrix;
import dev.kvasir.kernels.GgmlType;

/**
 * A weight matrix in device memory at {@code ptr}. {@code type} is the file's type; {@code stored}
 * how the device holds it: the file's bytes for f32, f16, bf16, Q8_0 and Q4_0 (which our kernels
 * and cuBLAS read directly), and f16 for the K-quants, dequantised once at load.
 */
record CudaMatrix(String name, GgmlType type, GgmlType stored, int rows, int cols, long ptr) implements DeviceMatrix {

    static CudaMatrix of(DeviceMatrix m) {
        if (m instanceof CudaMatrix c) return c;
        throw new IllegalArgumentException("not a CUDA matrix: " + m);
    }

    @Override
    public String toString() {
        return "CudaMatrix[" + name + " " + type + (stored != type ? " stored as " + stored : "") + " " + rows + "x" + cols + "]";
    }
}
