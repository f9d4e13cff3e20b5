package dev.kvasir.kernels.cuda;

import dev.kvasir.kernels.GgmlType;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;

/**
 * Matmuls on Q8_0/Q4_0 weights, which stay quantised on the device. Up to
 * {@link #DEQUANT_GEMM_ABOVE_TOKENS} tokens our GEMV dequantises in registers; above that, llama.cpp's
 * and vLLM's way for large batches: x cast to f16 once, then per chunk of rows the weight
 * dequantised to f16 into a bounded workspace and one cuBLAS GEMM writing those output columns.
 * The workspace is sized at load time for the largest chunk any loaded matrix needs, so the memory
 * plan counts it before the first prefill allocates it.
 */
final class QuantizedMatmul {

    /**
     * Q8_0/Q4_0 matmuls of more tokens than this dequantise the weight to f16 and run cuBLAS; fewer
     * keep the GEMV, which re-reads the quantised weight once per 8 tokens. By bytes moved per weight,
     * GEMV ~ n/8 x (1.06 Q8_0, 0.56 Q4_0) against 1.06 or 0.56 + 2 (f16 write) + 2 (cuBLAS read):
     * even at about n = 38 (Q8_0) and 65 (Q4_0); the GEMV's f32 FMAs on CUDA cores grow with n too,
     * so it falls behind sooner. 32 keeps decode batches of up to 32 sequences on the GEMV. An
     * estimate, not a measurement: to be tuned on a GPU.
     */
    static final int DEQUANT_GEMM_ABOVE_TOKENS = 32;
    /** Default bound of the dequantised weight workspace: a matrix is dequantised and multiplied in row chunks this big. */
    static final long DEQUANT_WORKSPACE_BYTES = 64L << 20;

    private final CudaModule module;
    private final CUstream_st stream;
    private final Cublas cublas;
    private final KernelArgs args;
    private final CudaMemory.Scratch x16;
    /** f16 rows of a weight for the GEMM: allocated once, at the largest chunk any loaded matrix needs. */
    private final CudaMemory.Scratch dequantRows;
    private final long chunkBytes;
    /** Bytes of dequantRows that the loaded matrices need. */
    private long need;

    /** @param x16 the backend's f16 input scratch (shared with the f16/bf16 GEMMs) */
    QuantizedMatmul(CudaModule module, CUstream_st stream, Cublas cublas, KernelArgs args, CudaMemory memory,
                    CudaMemory.Scratch x16, long chunkBytes) {
        if (chunkBytes < 1) throw new IllegalArgumentException("the dequantised weight workspace must be positive");
        this.module = module;
        this.stream = stream;
        this.cublas = cublas;
        this.args = args;
        this.x16 = x16;
        this.dequantRows = memory.scratch("dequantised weight rows");
        this.chunkBytes = chunkBytes;
    }

    /** A quantised matrix was loaded: the workspace must hold one chunk of its rows. */
    void loaded(int rows, int cols) {
        need = Math.max(need, 2L * chunkRows(rows, cols) * cols);
    }

    /** Workspace the loaded matrices need and the first prefill has not allocated yet (for the memory plan). */
    long pendingWorkspaceBytes() {
        return Math.max(0, need - dequantRows.bytes);
    }

    /** Bytes of the dequantised weight workspace now allocated (tests). */
    long workspaceBytes() {
        return dequantRows.bytes;
    }

    /** {@code out[t][r] = dot(m row r, x[t])} for {@code n} tokens (device addresses, f32 activations). */
    void run(CudaMatrix m, long x, int n, long out) {
        if (m.cols() % 32 != 0) throw new IllegalArgumentException(m + ": rows of whole 32-value blocks expected");
        if (n > DEQUANT_GEMM_ABOVE_TOKENS) {
            dequantGemm(m, x, n, out);
            return;
        }
        // The GEMV re-reads the weights once per 8 tokens: right for decode, slow for long prefills.
        String kernel = m.stored() == GgmlType.Q8_0 ? "kvasir_gemv_q8_0_f32" : "kvasir_gemv_q4_0_f32";
        module.launch(kernel, (m.rows() + 3) / 4, (n + 7) / 8, 1, 128, 0, stream,
                args.reset().ptr(out).ptr(m.ptr()).ptr(x).i32(m.rows()).i32(m.cols()).i32(n).i32(m.cols()).i32(m.rows()));
    }

    /** Rows of {@code rows x cols} f16 that fit the workspace bound: all, or a multiple of 64 (256-byte aligned output columns) when that many fit. */
    private int chunkRows(int rows, int cols) {
        long fit = Math.max(1, chunkBytes / (2L * cols));
        if (fit >= rows) return rows;
        return (int) (fit >= 64 ? fit - fit % 64 : fit);
    }

    /** The stream orders each chunk's dequantisation after the previous chunk's GEMM, so one workspace serves them all. */
    private void dequantGemm(CudaMatrix m, long x, int n, long out) {
        int rows = m.rows(), cols = m.cols();
        boolean q8 = m.stored() == GgmlType.Q8_0;
        // A matrix loaded after the first prefill may need more: reallocate at exactly that size.
        if (dequantRows.ptr != 0 && dequantRows.bytes < need) dequantRows.release();
        long ws = dequantRows.ensure(need);
        int chunk = chunkRows(rows, cols);
        long count = (long) n * cols;
        long x16ptr = x16.ensure(count * 2);
        module.launch("kvasir_cast_f32_f16", CudaBackend.gridFor(count), 1, 1, 256, 0, stream, args.reset().ptr(x16ptr).ptr(x).i64(count));
        String kernel = q8 ? "kvasir_dequant_q8_0_f16" : "kvasir_dequant_q4_0_f16";
        long rowBytes = (long) (cols / 32) * (q8 ? 34 : 18);
        for (int r0 = 0; r0 < rows; r0 += chunk) {
            int r = Math.min(chunk, rows - r0);
            module.launch(kernel, CudaBackend.gridFor((long) r * cols / 8), 1, 1, 256, 0, stream,
                    args.reset().ptr(ws).ptr(m.ptr() + r0 * rowBytes).i32(r).i32(cols));
            cublas.gemm(ws, x16ptr, cudart.CUDA_R_16F, r, cols, n, out + 4L * r0, rows);
        }
    }
}
