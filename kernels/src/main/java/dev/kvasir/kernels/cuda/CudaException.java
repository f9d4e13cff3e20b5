package dev.kvasir.kernels.cuda;

/** A CUDA driver or cuBLAS call that failed: names the call and the status it returned. */
public final class CudaException extends RuntimeException {

    public CudaException(String message) {
        super(message);
    }
}
