package dev.kvasir.kernels.cuda;

import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

/** Status checks for driver API and cuBLAS calls, and raw addresses as JavaCPP pointers. */
final class Cuda {

    private Cuda() {
    }

    /** Throws when a driver API call did not return CUDA_SUCCESS. */
    static void check(int status, String call) {
        if (status != cudart.CUDA_SUCCESS) {
            throw new CudaException(call + " failed: " + errorName(status));
        }
    }

    /** Throws when a cuBLAS call did not return CUBLAS_STATUS_SUCCESS. */
    static void checkCublas(int status, String call) {
        if (status != cublas.CUBLAS_STATUS_SUCCESS) {
            BytePointer s = cublas.cublasGetStatusString(status);
            throw new CudaException(call + " failed: " + (s == null ? "cuBLAS status " + status : s.getString()));
        }
    }

    /** "CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)" for a driver status. */
    static String errorName(int status) {
        try (PointerPointer<BytePointer> name = new PointerPointer<>(1); PointerPointer<BytePointer> text = new PointerPointer<>(1)) {
            String n = cudart.cuGetErrorName(status, name) == cudart.CUDA_SUCCESS && name.get(0) != null
                    ? name.getString(0) : "CUresult " + status;
            String t = cudart.cuGetErrorString(status, text) == cudart.CUDA_SUCCESS && text.get(0) != null
                    ? text.getString(0) : null;
            return t == null ? n : n + " (" + t + ")";
        }
    }

    /**
     * A JavaCPP pointer at a raw address: device memory for cuBLAS, or a mapped file region for
     * copies. It owns nothing; whoever allocated the memory frees it.
     */
    static Pointer at(long address, long bytes) {
        return new RawPointer(address, bytes);
    }

    private static final class RawPointer extends Pointer {
        RawPointer(long address, long bytes) {
            this.address = address;
            this.limit = bytes;
            this.capacity = bytes;
        }
    }
}
