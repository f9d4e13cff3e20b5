package dev.kvasir.kernels.cuda;

import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.FloatPointer;

/**
 * cuBLAS GEMMs for the dense weight types: f32, f16 and bf16 inputs, f32 accumulation
 * ({@code CUBLAS_COMPUTE_32F}: no TF32 shortcut, so f32 weights give f32 results) and f32 output.
 */
final class Cublas implements AutoCloseable {

    private final cublasContext handle = new cublasContext();
    private final FloatPointer one = new FloatPointer(1f);
    private final FloatPointer zero = new FloatPointer(0f);

    Cublas(CUstream_st stream) {
        Cuda.checkCublas(cublas.cublasCreate_v2(handle), "cublasCreate");
        Cuda.checkCublas(cublas.cublasSetStream_v2(handle, stream), "cublasSetStream");
    }

    /**
     * {@code out[t][r] = sum_k w[r][k] * x[t][k]} for t < n: w is row-major {@code [rows][cols]} and x
     * row-major {@code [n][cols]}, both of {@code inType} (CUDA_R_32F, CUDA_R_16F or CUDA_R_16BF), out
     * row-major {@code [n][rows]} f32. In cuBLAS's column-major terms that is
     * {@code out (rows x n) = w^T(stored cols x rows)^T * x (cols x n)}: op(A) = T, op(B) = N.
     */
    void gemm(long w, long x, int inType, int rows, int cols, int n, long out) {
        gemm(w, x, inType, rows, cols, n, out, rows);
    }

    /**
     * The same with out's rows {@code outStride} floats apart ({@code >= rows}): a block of
     * {@code rows} output columns of a wider {@code [n][outStride]} result, for row-chunked weights.
     */
    void gemm(long w, long x, int inType, int rows, int cols, int n, long out, int outStride) {
        Cuda.checkCublas(cublas.cublasGemmEx(handle, cublas.CUBLAS_OP_T, cublas.CUBLAS_OP_N, rows, n, cols, one,
                        Cuda.at(w, 0), inType, cols, Cuda.at(x, 0), inType, cols, zero,
                        Cuda.at(out, 0), cudart.CUDA_R_32F, outStride, cublas.CUBLAS_COMPUTE_32F, cublas.CUBLAS_GEMM_DEFAULT),
                "cublasGemmEx(" + rows + "x" + cols + " . " + n + ")");
    }

    @Override
    public void close() {
        Cuda.checkCublas(cublas.cublasDestroy_v2(handle), "cublasDestroy");
        one.close();
        zero.close();
    }
}
