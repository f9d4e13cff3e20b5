package dev.kvasir.kernels.cpu;

import dev.kvasir.kernels.GgmlType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.kvasir.kernels.cpu.WeightLoads.F;
import static dev.kvasir.kernels.cpu.WeightLoads.L;

/**
 * Matrix times activations, {@code out[t][r] = dot(W row r, x[t])}, over a range of rows (the
 * backend hands row ranges to its workers).
 * <p>
 * One token (decode): each weight row is read once from the mapped file and dequantized in
 * registers, row after row, so the matrix streams sequentially from memory. Memory bandwidth is
 * the limit there. Several tokens (prefill, batched decode): four rows are expanded
 * into float scratch once, then dotted with the tokens four at a time (a 4×4 tile of
 * accumulators), so each weight byte is read once per step however many tokens it has.
 * <p>
 * Every dot product accumulates in the same order on both paths (one vector accumulator stepping
 * through the row, a lane reduction, then the scalar tail), so a sequence's logits do not depend
 * on what else shares its batch.
 * <p>
 * Vector code here follows {@link WeightLoads}'s rule: no method of ours takes or returns a
 * vector, and the four-row Q6_K kernel keeps its accumulators in scratch between 32-value groups,
 * so that no compiled method outgrows C2's inlining budget (else vectors are boxed on the heap).
 */
final class Matmul {

    private static final jdk.incubator.vector.VectorSpecies<Byte> B32 = WeightLoads.B32;

    static final int ROW_TILE = 4;
    /** Rows expanded into scratch at a time, and the granularity of the backend's row chunks. */
    static final int ROW_BLOCK = 16;
    private static final int TOKEN_TILE = 4;

    private Matmul() {}

    /** Rows {@code [r0, r1)} for one token {@code x[xOff ..]}, into {@code out[outOff + r]}. */
    static void oneToken(CpuMatrix m, float[] x, int xOff, float[] out, int outOff, int r0, int r1, float[] scratch) {
        if (m.cols % L != 0) {
            for (int r = r0; r < r1; r++) out[outOff + r] = viaScratch(m, r, x, xOff, scratch);
            return;
        }
        switch (m.type) {
            case F32, F16, BF16 -> { for (int r = r0; r < r1; r++) out[outOff + r] = floatRow(m, r, x, xOff); }
            case Q8_0 -> {
                int quarter = (r1 - r0) / ROW_TILE;
                for (int i = 0; i < quarter; i++) q8Rows4(m, r0 + i, quarter, x, xOff, out, outOff);
                for (int r = r0 + ROW_TILE * quarter; r < r1; r++) out[outOff + r] = q8Row(m, r, x, xOff);
            }
            case Q4_0 -> { for (int r = r0; r < r1; r++) out[outOff + r] = q4Row(m, r, x, xOff); }
            case Q4_K -> {
                int quarter = (r1 - r0) / ROW_TILE;
                for (int i = 0; i < quarter; i++) q4kRows4(m, r0 + i, quarter, x, xOff, out, outOff, scratch);
                for (int r = r0 + ROW_TILE * quarter; r < r1; r++) out[outOff + r] = q4kRow(m, r, x, xOff);
            }
            case Q6_K -> {
                int quarter = (r1 - r0) / ROW_TILE;
                for (int i = 0; i < quarter; i++) q6kRows4(m, r0 + i, quarter, x, xOff, out, outOff, scratch);
                for (int r = r0 + ROW_TILE * quarter; r < r1; r++) out[outOff + r] = q6kRow(m, r, x, xOff);
            }
        }
    }

    private static float viaScratch(CpuMatrix m, int r, float[] x, int xOff, float[] scratch) {
        WeightLoads.dequantizeRow(m, r, scratch, 0);
        return dot(scratch, 0, x, xOff, m.cols);
    }

    /**
     * Rows {@code [r0, r1)} for tokens {@code t < n} ({@code x[t * cols ..]}), into
     * {@code out[t * rows + r]}. Rows go in blocks of {@link #ROW_BLOCK}: a block is expanded into
     * scratch once, then every group of four tokens is dotted with its four-row tiles while those
     * tokens are hot in cache; the block stays in L2 across all the tokens. {@code scratch} holds at
     * least {@code ROW_BLOCK * cols} floats.
     */
    static void manyTokens(CpuMatrix m, float[] x, int n, float[] out, int r0, int r1, float[] scratch) {
        int cols = m.cols, rows = m.rows;
        for (int rb = r0; rb < r1; rb += ROW_BLOCK) {
            int blockRows = Math.min(ROW_BLOCK, r1 - rb);
            for (int k = 0; k < blockRows; k++) WeightLoads.dequantizeRow(m, rb + k, scratch, k * cols);
            int fullTiles = cols % L == 0 ? blockRows / ROW_TILE : 0;
            int t = 0;
            for (; t + TOKEN_TILE <= n; t += TOKEN_TILE) {
                for (int tile = 0; tile < fullTiles; tile++) {
                    tile4x4(scratch, tile * ROW_TILE * cols, cols, x, t, out, rows, rb + tile * ROW_TILE);
                }
            }
            // The last one to three tokens: four rows at a time as well (independent accumulator chains).
            int rest = n - t;
            for (int tile = 0; rest > 0 && tile < fullTiles; tile++) {
                int w = tile * ROW_TILE * cols, r = rb + tile * ROW_TILE;
                if (rest >= 2) tile4x2(scratch, w, cols, x, t, out, rows, r);
                if (rest != 2) tile4x1(scratch, w, cols, x, n - 1, out, rows, r);
            }
            // Rows outside full tiles: one dot each, same summation order.
            for (int tok = 0; tok < n; tok++) {
                for (int k = fullTiles * ROW_TILE; k < blockRows; k++) {
                    out[tok * rows + rb + k] = dot(scratch, k * cols, x, tok * cols, cols);
                }
            }
        }
    }

    /** Most tokens {@link #fewTokens} takes: 4 rows x 4 tokens of accumulator chains, all in registers. */
    static final int FEW_TOKENS = 4;

    /**
     * Whether {@link #fewTokens} handles this matrix: a type it dequantizes in registers, whole
     * 32-value blocks per row. Not Q4_0: the same loop over its nibbles ran 3-4x slower than
     * {@link #manyTokens} (measured; the JIT does not keep its vectors in registers there).
     */
    static boolean fewTokensFit(CpuMatrix m) {
        return m.cols % 32 == 0 && 32 % L == 0 && switch (m.type) {
            case F32, F16, BF16, Q8_0 -> true;
            default -> false;
        };
    }

    /**
     * Rows {@code [r0, r1)} for 2 to {@link #FEW_TOKENS} tokens, laid out as in {@link #manyTokens}.
     * Each weight vector is dequantized in registers once and used for every token, so a small
     * decode batch streams the matrix once, as one token does, instead of expanding rows into
     * scratch and reading them back. Four rows a quarter of the range apart go together (as in
     * {@link #q8Rows4}): 16 independent accumulator chains hide the FMA latency that one row's
     * chains would wait on. Each (row, token) sum runs in {@link #dot}'s order.
     */
    static void fewTokens(CpuMatrix m, float[] x, int n, float[] out, int r0, int r1) {
        int quarter = (r1 - r0) / ROW_TILE;
        for (int i = 0; i < quarter; i++) fewTokensRows4(m, r0 + i, quarter, x, n, out);
        // The last rows: each one four times over, the copies' sums dropped.
        for (int r = r0 + ROW_TILE * quarter; r < r1; r++) fewTokensRows4(m, r, 0, x, n, out);
    }

    /**
     * One copy of the 4-row x 4-token kernel per type, each with only its own weight loads: one
     * method switching on the type inside its loop grew past C2's budget and boxed vectors.
     */
    private static void fewTokensRows4(CpuMatrix m, int r, int stride, float[] x, int n, float[] out) {
        switch (m.type) {
            case Q8_0 -> fewTokensRows4Q80(m, r, stride, x, n, out);
            case F16 -> fewTokensRows4F16(m, r, stride, x, n, out);
            case BF16 -> fewTokensRows4BF16(m, r, stride, x, n, out);
            default -> fewTokensRows4F32(m, r, stride, x, n, out);
        }
    }

    private static void fewTokensRows4Q80(CpuMatrix m, int r, int stride, float[] x, int n, float[] out) {
        // Tokens past n repeat the last one; their sums are computed and dropped, which keeps one
        // loop body for 2, 3 and 4 tokens.
        int cols = m.cols, rows = m.rows;
        int x1 = Math.min(1, n - 1) * cols, x2 = Math.min(2, n - 1) * cols, x3 = Math.min(3, n - 1) * cols;
        MemorySegment seg = m.data;
        long step = stride * m.rowBytes;
        long b0 = r * m.rowBytes, b1 = b0 + step, b2 = b1 + step, b3 = b2 + step;
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        for (int blk = 0; blk < cols / 32; blk++) {
            float s0 = WeightLoads.scale(seg, b0 + 34L * blk), s1 = WeightLoads.scale(seg, b1 + 34L * blk);
            float s2 = WeightLoads.scale(seg, b2 + 34L * blk), s3 = WeightLoads.scale(seg, b3 + 34L * blk);
            FloatVector d0 = FloatVector.broadcast(F, s0), d1 = FloatVector.broadcast(F, s1);
            FloatVector d2 = FloatVector.broadcast(F, s2), d3 = FloatVector.broadcast(F, s3);
            for (int p = 0; p < 32; p += L) {
                FloatVector w0, w1, w2, w3;
                long q = 34L * blk + 2 + p;
                w0 = ((FloatVector) ByteVector.fromMemorySegment(WeightLoads.B, seg, b0 + q, WeightLoads.LE)
                        .convertShape(VectorOperators.B2F, F, 0)).mul(d0);
                w1 = ((FloatVector) ByteVector.fromMemorySegment(WeightLoads.B, seg, b1 + q, WeightLoads.LE)
                        .convertShape(VectorOperators.B2F, F, 0)).mul(d1);
                w2 = ((FloatVector) ByteVector.fromMemorySegment(WeightLoads.B, seg, b2 + q, WeightLoads.LE)
                        .convertShape(VectorOperators.B2F, F, 0)).mul(d2);
                w3 = ((FloatVector) ByteVector.fromMemorySegment(WeightLoads.B, seg, b3 + q, WeightLoads.LE)
                        .convertShape(VectorOperators.B2F, F, 0)).mul(d3);

                int i = 32 * blk + p;
                FloatVector v = FloatVector.fromArray(F, x, i);
                a00 = w0.fma(v, a00); a10 = w1.fma(v, a10); a20 = w2.fma(v, a20); a30 = w3.fma(v, a30);
                v = FloatVector.fromArray(F, x, x1 + i);
                a01 = w0.fma(v, a01); a11 = w1.fma(v, a11); a21 = w2.fma(v, a21); a31 = w3.fma(v, a31);
                v = FloatVector.fromArray(F, x, x2 + i);
                a02 = w0.fma(v, a02); a12 = w1.fma(v, a12); a22 = w2.fma(v, a22); a32 = w3.fma(v, a32);
                v = FloatVector.fromArray(F, x, x3 + i);
                a03 = w0.fma(v, a03); a13 = w1.fma(v, a13); a23 = w2.fma(v, a23); a33 = w3.fma(v, a33);
            }
        }
        // Rows r + k * stride; with stride 0 all four are row r and the same sums land four times.
        out[r] = a00.reduceLanes(VectorOperators.ADD);
        out[r + stride] = a10.reduceLanes(VectorOperators.ADD);
        out[r + 2 * stride] = a20.reduceLanes(VectorOperators.ADD);
        out[r + 3 * stride] = a30.reduceLanes(VectorOperators.ADD);
        int o = rows + r;
        out[o] = a01.reduceLanes(VectorOperators.ADD);
        out[o + stride] = a11.reduceLanes(VectorOperators.ADD);
        out[o + 2 * stride] = a21.reduceLanes(VectorOperators.ADD);
        out[o + 3 * stride] = a31.reduceLanes(VectorOperators.ADD);
        if (n > 2) {
            o += rows;
            out[o] = a02.reduceLanes(VectorOperators.ADD);
            out[o + stride] = a12.reduceLanes(VectorOperators.ADD);
            out[o + 2 * stride] = a22.reduceLanes(VectorOperators.ADD);
            out[o + 3 * stride] = a32.reduceLanes(VectorOperators.ADD);
        }
        if (n > 3) {
            o += rows;
            out[o] = a03.reduceLanes(VectorOperators.ADD);
            out[o + stride] = a13.reduceLanes(VectorOperators.ADD);
            out[o + 2 * stride] = a23.reduceLanes(VectorOperators.ADD);
            out[o + 3 * stride] = a33.reduceLanes(VectorOperators.ADD);
        }
    }

    private static void fewTokensRows4F16(CpuMatrix m, int r, int stride, float[] x, int n, float[] out) {
        // Tokens past n repeat the last one; their sums are computed and dropped, which keeps one
        // loop body for 2, 3 and 4 tokens.
        int cols = m.cols, rows = m.rows;
        int x1 = Math.min(1, n - 1) * cols, x2 = Math.min(2, n - 1) * cols, x3 = Math.min(3, n - 1) * cols;
        MemorySegment seg = m.data;
        long step = stride * m.rowBytes;
        long b0 = r * m.rowBytes, b1 = b0 + step, b2 = b1 + step, b3 = b2 + step;
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        for (int blk = 0; blk < cols / 32; blk++) {
            for (int p = 0; p < 32; p += L) {
                FloatVector w0, w1, w2, w3;
                long q = 2L * (32 * blk + p);
                w0 = ((IntVector) ShortVector.fromMemorySegment(WeightLoads.S, seg, b0 + q, WeightLoads.LE)
                        .convertShape(VectorOperators.S2I, WeightLoads.I, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8FFFE000).reinterpretAsFloats().mul(WeightLoads.F16_RESCALE);
                w1 = ((IntVector) ShortVector.fromMemorySegment(WeightLoads.S, seg, b1 + q, WeightLoads.LE)
                        .convertShape(VectorOperators.S2I, WeightLoads.I, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8FFFE000).reinterpretAsFloats().mul(WeightLoads.F16_RESCALE);
                w2 = ((IntVector) ShortVector.fromMemorySegment(WeightLoads.S, seg, b2 + q, WeightLoads.LE)
                        .convertShape(VectorOperators.S2I, WeightLoads.I, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8FFFE000).reinterpretAsFloats().mul(WeightLoads.F16_RESCALE);
                w3 = ((IntVector) ShortVector.fromMemorySegment(WeightLoads.S, seg, b3 + q, WeightLoads.LE)
                        .convertShape(VectorOperators.S2I, WeightLoads.I, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8FFFE000).reinterpretAsFloats().mul(WeightLoads.F16_RESCALE);

                int i = 32 * blk + p;
                FloatVector v = FloatVector.fromArray(F, x, i);
                a00 = w0.fma(v, a00); a10 = w1.fma(v, a10); a20 = w2.fma(v, a20); a30 = w3.fma(v, a30);
                v = FloatVector.fromArray(F, x, x1 + i);
                a01 = w0.fma(v, a01); a11 = w1.fma(v, a11); a21 = w2.fma(v, a21); a31 = w3.fma(v, a31);
                v = FloatVector.fromArray(F, x, x2 + i);
                a02 = w0.fma(v, a02); a12 = w1.fma(v, a12); a22 = w2.fma(v, a22); a32 = w3.fma(v, a32);
                v = FloatVector.fromArray(F, x, x3 + i);
                a03 = w0.fma(v, a03); a13 = w1.fma(v, a13); a23 = w2.fma(v, a23); a33 = w3.fma(v, a33);
            }
        }
        // Rows r + k * stride; with stride 0 all four are row r and the same sums land four times.
        out[r] = a00.reduceLanes(VectorOperators.ADD);
        out[r + stride] = a10.reduceLanes(VectorOperators.ADD);
        out[r + 2 * stride] = a20.reduceLanes(VectorOperators.ADD);
        out[r + 3 * stride] = a30.reduceLanes(VectorOperators.ADD);
        int o = rows + r;
        out[o] = a01.reduceLanes(VectorOperators.ADD);
        out[o + stride] = a11.reduceLanes(VectorOperators.ADD);
        out[o + 2 * stride] = a21.reduceLanes(VectorOperators.ADD);
        out[o + 3 * stride] = a31.reduceLanes(VectorOperators.ADD);
        if (n > 2) {
            o += rows;
            out[o] = a02.reduceLanes(VectorOperators.ADD);
            out[o + stride] = a12.reduceLanes(VectorOperators.ADD);
            out[o + 2 * stride] = a22.reduceLanes(VectorOperators.ADD);
            out[o + 3 * stride] = a32.reduceLanes(VectorOperators.ADD);
        }
        if (n > 3) {
            o += rows;
            out[o] = a03.reduceLanes(VectorOperators.ADD);
            out[o + stride] = a13.reduceLanes(VectorOperators.ADD);
            out[o + 2 * stride] = a23.reduceLanes(VectorOperators.ADD);
            out[o + 3 * stride] = a33.reduceLanes(VectorOperators.ADD);
        }
    }

    private static void fewTokensRows4BF16(CpuMatrix m, int r, int stride, float[] x, int n, float[] out) {
        // Tokens past n repeat the last one; their sums are computed and dropped, which keeps one
        // loop body for 2, 3 and 4 tokens.
        int cols = m.cols, rows = m.rows;
        int x1 = Math.min(1, n - 1) * cols, x2 = Math.min(2, n - 1) * cols, x3 = Math.min(3, n - 1) * cols;
        MemorySegment seg = m.data;
        long step = stride * m.rowBytes;
        long b0 = r * m.rowBytes, b1 = b0 + step, b2 = b1 + step, b3 = b2 + step;
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        for (int blk = 0; blk < cols / 32; blk++) {
            for (int p = 0; p < 32; p += L) {
                FloatVector w0, w1, w2, w3;
                long q = 2L * (32 * blk + p);
                w0 = ((IntVector) ShortVector.fromMemorySegment(WeightLoads.S, seg, b0 + q, WeightLoads.LE)
                        .convertShape(VectorOperators.S2I, WeightLoads.I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                w1 = ((IntVector) ShortVector.fromMemorySegment(WeightLoads.S, seg, b1 + q, WeightLoads.LE)
                        .convertShape(VectorOperators.S2I, WeightLoads.I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                w2 = ((IntVector) ShortVector.fromMemorySegment(WeightLoads.S, seg, b2 + q, WeightLoads.LE)
                        .convertShape(VectorOperators.S2I, WeightLoads.I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                w3 = ((IntVector) ShortVector.fromMemorySegment(WeightLoads.S, seg, b3 + q, WeightLoads.LE)
                        .convertShape(VectorOperators.S2I, WeightLoads.I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();

                int i = 32 * blk + p;
                FloatVector v = FloatVector.fromArray(F, x, i);
                a00 = w0.fma(v, a00); a10 = w1.fma(v, a10); a20 = w2.fma(v, a20); a30 = w3.fma(v, a30);
                v = FloatVector.fromArray(F, x, x1 + i);
                a01 = w0.fma(v, a01); a11 = w1.fma(v, a11); a21 = w2.fma(v, a21); a31 = w3.fma(v, a31);
                v = FloatVector.fromArray(F, x, x2 + i);
                a02 = w0.fma(v, a02); a12 = w1.fma(v, a12); a22 = w2.fma(v, a22); a32 = w3.fma(v, a32);
                v = FloatVector.fromArray(F, x, x3 + i);
                a03 = w0.fma(v, a03); a13 = w1.fma(v, a13); a23 = w2.fma(v, a23); a33 = w3.fma(v, a33);
            }
        }
        // Rows r + k * stride; with stride 0 all four are row r and the same sums land four times.
        out[r] = a00.reduceLanes(VectorOperators.ADD);
        out[r + stride] = a10.reduceLanes(VectorOperators.ADD);
        out[r + 2 * stride] = a20.reduceLanes(VectorOperators.ADD);
        out[r + 3 * stride] = a30.reduceLanes(VectorOperators.ADD);
        int o = rows + r;
        out[o] = a01.reduceLanes(VectorOperators.ADD);
        out[o + stride] = a11.reduceLanes(VectorOperators.ADD);
        out[o + 2 * stride] = a21.reduceLanes(VectorOperators.ADD);
        out[o + 3 * stride] = a31.reduceLanes(VectorOperators.ADD);
        if (n > 2) {
            o += rows;
            out[o] = a02.reduceLanes(VectorOperators.ADD);
            out[o + stride] = a12.reduceLanes(VectorOperators.ADD);
            out[o + 2 * stride] = a22.reduceLanes(VectorOperators.ADD);
            out[o + 3 * stride] = a32.reduceLanes(VectorOperators.ADD);
        }
        if (n > 3) {
            o += rows;
            out[o] = a03.reduceLanes(VectorOperators.ADD);
            out[o + stride] = a13.reduceLanes(VectorOperators.ADD);
            out[o + 2 * stride] = a23.reduceLanes(VectorOperators.ADD);
            out[o + 3 * stride] = a33.reduceLanes(VectorOperators.ADD);
        }
    }

    private static void fewTokensRows4F32(CpuMatrix m, int r, int stride, float[] x, int n, float[] out) {
        // Tokens past n repeat the last one; their sums are computed and dropped, which keeps one
        // loop body for 2, 3 and 4 tokens.
        int cols = m.cols, rows = m.rows;
        int x1 = Math.min(1, n - 1) * cols, x2 = Math.min(2, n - 1) * cols, x3 = Math.min(3, n - 1) * cols;
        MemorySegment seg = m.data;
        long step = stride * m.rowBytes;
        long b0 = r * m.rowBytes, b1 = b0 + step, b2 = b1 + step, b3 = b2 + step;
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        for (int blk = 0; blk < cols / 32; blk++) {
            for (int p = 0; p < 32; p += L) {
                FloatVector w0, w1, w2, w3;
                long q = 4L * (32 * blk + p);
                w0 = FloatVector.fromMemorySegment(F, seg, b0 + q, WeightLoads.LE);
                w1 = FloatVector.fromMemorySegment(F, seg, b1 + q, WeightLoads.LE);
                w2 = FloatVector.fromMemorySegment(F, seg, b2 + q, WeightLoads.LE);
                w3 = FloatVector.fromMemorySegment(F, seg, b3 + q, WeightLoads.LE);

                int i = 32 * blk + p;
                FloatVector v = FloatVector.fromArray(F, x, i);
                a00 = w0.fma(v, a00); a10 = w1.fma(v, a10); a20 = w2.fma(v, a20); a30 = w3.fma(v, a30);
                v = FloatVector.fromArray(F, x, x1 + i);
                a01 = w0.fma(v, a01); a11 = w1.fma(v, a11); a21 = w2.fma(v, a21); a31 = w3.fma(v, a31);
                v = FloatVector.fromArray(F, x, x2 + i);
                a02 = w0.fma(v, a02); a12 = w1.fma(v, a12); a22 = w2.fma(v, a22); a32 = w3.fma(v, a32);
                v = FloatVector.fromArray(F, x, x3 + i);
                a03 = w0.fma(v, a03); a13 = w1.fma(v, a13); a23 = w2.fma(v, a23); a33 = w3.fma(v, a33);
            }
        }
        // Rows r + k * stride; with stride 0 all four are row r and the same sums land four times.
        out[r] = a00.reduceLanes(VectorOperators.ADD);
        out[r + stride] = a10.reduceLanes(VectorOperators.ADD);
        out[r + 2 * stride] = a20.reduceLanes(VectorOperators.ADD);
        out[r + 3 * stride] = a30.reduceLanes(VectorOperators.ADD);
        int o = rows + r;
        out[o] = a01.reduceLanes(VectorOperators.ADD);
        out[o + stride] = a11.reduceLanes(VectorOperators.ADD);
        out[o + 2 * stride] = a21.reduceLanes(VectorOperators.ADD);
        out[o + 3 * stride] = a31.reduceLanes(VectorOperators.ADD);
        if (n > 2) {
            o += rows;
            out[o] = a02.reduceLanes(VectorOperators.ADD);
            out[o + stride] = a12.reduceLanes(VectorOperators.ADD);
            out[o + 2 * stride] = a22.reduceLanes(VectorOperators.ADD);
            out[o + 3 * stride] = a32.reduceLanes(VectorOperators.ADD);
        }
        if (n > 3) {
            o += rows;
            out[o] = a03.reduceLanes(VectorOperators.ADD);
            out[o + stride] = a13.reduceLanes(VectorOperators.ADD);
            out[o + 2 * stride] = a23.reduceLanes(VectorOperators.ADD);
            out[o + 3 * stride] = a33.reduceLanes(VectorOperators.ADD);
        }
    }

    /** The reference dot product every path reproduces exactly. */
    static float dot(float[] w, int wOff, float[] x, int xOff, int cols) {
        int bound = cols - cols % L;
        FloatVector acc = FloatVector.zero(F);
        for (int i = 0; i < bound; i += L) {
            acc = FloatVector.fromArray(F, w, wOff + i).fma(FloatVector.fromArray(F, x, xOff + i), acc);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (int i = bound; i < cols; i++) sum += w[wOff + i] * x[xOff + i];
        return sum;
    }

    private static void tile4x4(float[] w, int wOff, int cols, float[] x, int t, float[] out, int rows, int r) {
        int w0 = wOff, w1 = w0 + cols, w2 = w1 + cols, w3 = w2 + cols;
        int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        for (int i = 0; i < cols; i += L) {
            FloatVector r0 = FloatVector.fromArray(F, w, w0 + i);
            FloatVector r1 = FloatVector.fromArray(F, w, w1 + i);
            FloatVector r2 = FloatVector.fromArray(F, w, w2 + i);
            FloatVector r3 = FloatVector.fromArray(F, w, w3 + i);
            FloatVector v = FloatVector.fromArray(F, x, x0 + i);
            a00 = r0.fma(v, a00); a10 = r1.fma(v, a10); a20 = r2.fma(v, a20); a30 = r3.fma(v, a30);
            v = FloatVector.fromArray(F, x, x1 + i);
            a01 = r0.fma(v, a01); a11 = r1.fma(v, a11); a21 = r2.fma(v, a21); a31 = r3.fma(v, a31);
            v = FloatVector.fromArray(F, x, x2 + i);
            a02 = r0.fma(v, a02); a12 = r1.fma(v, a12); a22 = r2.fma(v, a22); a32 = r3.fma(v, a32);
            v = FloatVector.fromArray(F, x, x3 + i);
            a03 = r0.fma(v, a03); a13 = r1.fma(v, a13); a23 = r2.fma(v, a23); a33 = r3.fma(v, a33);
        }
        int o0 = t * rows + r, o1 = o0 + rows, o2 = o1 + rows, o3 = o2 + rows;
        out[o0] = a00.reduceLanes(VectorOperators.ADD);
        out[o0 + 1] = a10.reduceLanes(VectorOperators.ADD);
        out[o0 + 2] = a20.reduceLanes(VectorOperators.ADD);
        out[o0 + 3] = a30.reduceLanes(VectorOperators.ADD);
        out[o1] = a01.reduceLanes(VectorOperators.ADD);
        out[o1 + 1] = a11.reduceLanes(VectorOperators.ADD);
        out[o1 + 2] = a21.reduceLanes(VectorOperators.ADD);
        out[o1 + 3] = a31.reduceLanes(VectorOperators.ADD);
        out[o2] = a02.reduceLanes(VectorOperators.ADD);
        out[o2 + 1] = a12.reduceLanes(VectorOperators.ADD);
        out[o2 + 2] = a22.reduceLanes(VectorOperators.ADD);
        out[o2 + 3] = a32.reduceLanes(VectorOperators.ADD);
        out[o3] = a03.reduceLanes(VectorOperators.ADD);
        out[o3 + 1] = a13.reduceLanes(VectorOperators.ADD);
        out[o3 + 2] = a23.reduceLanes(VectorOperators.ADD);
        out[o3 + 3] = a33.reduceLanes(VectorOperators.ADD);
    }

    /** Four rows by two tokens ({@code t}, {@code t + 1}). */
    private static void tile4x2(float[] w, int wOff, int cols, float[] x, int t, float[] out, int rows, int r) {
        int w0 = wOff, w1 = w0 + cols, w2 = w1 + cols, w3 = w2 + cols;
        int x0 = t * cols, x1 = x0 + cols;
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a10 = a00, a11 = a00;
        FloatVector a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        for (int i = 0; i < cols; i += L) {
            FloatVector r0 = FloatVector.fromArray(F, w, w0 + i);
            FloatVector r1 = FloatVector.fromArray(F, w, w1 + i);
            FloatVector r2 = FloatVector.fromArray(F, w, w2 + i);
            FloatVector r3 = FloatVector.fromArray(F, w, w3 + i);
            FloatVector v = FloatVector.fromArray(F, x, x0 + i);
            a00 = r0.fma(v, a00); a10 = r1.fma(v, a10); a20 = r2.fma(v, a20); a30 = r3.fma(v, a30);
            v = FloatVector.fromArray(F, x, x1 + i);
            a01 = r0.fma(v, a01); a11 = r1.fma(v, a11); a21 = r2.fma(v, a21); a31 = r3.fma(v, a31);
        }
        int o0 = t * rows + r, o1 = o0 + rows;
        out[o0] = a00.reduceLanes(VectorOperators.ADD);
        out[o0 + 1] = a10.reduceLanes(VectorOperators.ADD);
        out[o0 + 2] = a20.reduceLanes(VectorOperators.ADD);
        out[o0 + 3] = a30.reduceLanes(VectorOperators.ADD);
        out[o1] = a01.reduceLanes(VectorOperators.ADD);
        out[o1 + 1] = a11.reduceLanes(VectorOperators.ADD);
        out[o1 + 2] = a21.reduceLanes(VectorOperators.ADD);
        out[o1 + 3] = a31.reduceLanes(VectorOperators.ADD);
    }

    /** Four rows by one token {@code t}. */
    private static void tile4x1(float[] w, int wOff, int cols, float[] x, int t, float[] out, int rows, int r) {
        int w0 = wOff, w1 = w0 + cols, w2 = w1 + cols, w3 = w2 + cols;
        int x0 = t * cols;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int i = 0; i < cols; i += L) {
            FloatVector v = FloatVector.fromArray(F, x, x0 + i);
            a0 = FloatVector.fromArray(F, w, w0 + i).fma(v, a0);
            a1 = FloatVector.fromArray(F, w, w1 + i).fma(v, a1);
            a2 = FloatVector.fromArray(F, w, w2 + i).fma(v, a2);
            a3 = FloatVector.fromArray(F, w, w3 + i).fma(v, a3);
        }
        int o = t * rows + r;
        out[o] = a0.reduceLanes(VectorOperators.ADD);
        out[o + 1] = a1.reduceLanes(VectorOperators.ADD);
        out[o + 2] = a2.reduceLanes(VectorOperators.ADD);
        out[o + 3] = a3.reduceLanes(VectorOperators.ADD);
    }

    // ---- one token, one row, dequantized in registers (cols a multiple of L) ----
    // One row at a time reads the matrix as a single sequential stream, which the hardware
    // prefetcher follows (interleaving four adjacent rows measured slower on Q8_0: four streams of
    // a few cache lines each defeat it). Q8_0 goes four rows at a time a quarter of the range apart
    // instead: four long sequential streams, and four accumulator chains in flight.

    /** An F32, F16 or BF16 row: the load is the only difference (one loop per type: see {@link WeightLoads}). */
    private static float floatRow(CpuMatrix m, int r, float[] x, int xOff) {
        MemorySegment seg = m.data;
        long base = r * m.rowBytes;
        FloatVector acc = FloatVector.zero(F);
        switch (m.type) {
            case F16 -> {
                for (int i = 0;
                i < m.cols;
                i += L) acc = ((IntVector) ShortVector.fromMemorySegment(WeightLoads.S, seg, base + 2L * i, WeightLoads.LE)
                        .convertShape(VectorOperators.S2I, WeightLoads.I, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8FFFE000).reinterpretAsFloats().mul(WeightLoads.F16_RESCALE)
                        .fma(FloatVector.fromArray(F, x, xOff + i), acc);
            }
            case BF16 -> {
                for (int i = 0;
                i < m.cols;
                i += L) acc = ((IntVector) ShortVector.fromMemorySegment(WeightLoads.S, seg, base + 2L * i, WeightLoads.LE)
                        .convertShape(VectorOperators.S2I, WeightLoads.I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xOff + i), acc);
            }
            default -> {
                for (int i = 0;
                i < m.cols;
                i += L) acc = FloatVector.fromMemorySegment(F, seg, base + 4L * i, WeightLoads.LE).fma(FloatVector.fromArray(F, x, xOff + i), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    private static float q8Row(CpuMatrix m, int r, float[] x, int xOff) {
        MemorySegment seg = m.data;
        long base = r * m.rowBytes;
        FloatVector acc = FloatVector.zero(F);
        for (int blk = 0; blk < m.cols / 32; blk++) {
            long block = base + 34L * blk;
            FloatVector d = FloatVector.broadcast(F, WeightLoads.scale(seg, block));
            for (int p = 0; p < 32; p += L) {
                acc = ((FloatVector) ByteVector.fromMemorySegment(WeightLoads.B, seg, block + 2 + p, WeightLoads.LE)
                        .convertShape(VectorOperators.B2F, F, 0)).mul(d).fma(FloatVector.fromArray(F, x, xOff + 32 * blk + p), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * Rows {@code r + k * stride} for k = 0..3 at once: four independent accumulator chains (one per
     * row, each in {@link #q8Row}'s order, so the sums are bit for bit the same) hide the FMA latency
     * a single chain waits on, and each activation vector is loaded once for the four rows. Rows a
     * quarter of the range apart keep each of the four streams long and sequential (measured on
     * smol135 Q8_0, 2 threads: decode step 10.3 ms one row at a time, 8.5 ms so).
     */
    private static void q8Rows4(CpuMatrix m, int r, int stride, float[] x, int xOff, float[] out, int outOff) {
        MemorySegment seg = m.data;
        long step = stride * m.rowBytes;
        long b0 = r * m.rowBytes, b1 = b0 + step, b2 = b1 + step, b3 = b2 + step;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int blk = 0; blk < m.cols / 32; blk++) {
            long off = 34L * blk;
            FloatVector d0 = FloatVector.broadcast(F, WeightLoads.scale(seg, b0 + off));
            FloatVector d1 = FloatVector.broadcast(F, WeightLoads.scale(seg, b1 + off));
            FloatVector d2 = FloatVector.broadcast(F, WeightLoads.scale(seg, b2 + off));
            FloatVector d3 = FloatVector.broadcast(F, WeightLoads.scale(seg, b3 + off));
            for (int p = 0; p < 32; p += L) {
                FloatVector v = FloatVector.fromArray(F, x, xOff + 32 * blk + p);
                long q = off + 2 + p;
                a0 = ((FloatVector) ByteVector.fromMemorySegment(WeightLoads.B, seg, b0 + q, WeightLoads.LE)
                        .convertShape(VectorOperators.B2F, F, 0)).mul(d0).fma(v, a0);
                a1 = ((FloatVector) ByteVector.fromMemorySegment(WeightLoads.B, seg, b1 + q, WeightLoads.LE)
                        .convertShape(VectorOperators.B2F, F, 0)).mul(d1).fma(v, a1);
                a2 = ((FloatVector) ByteVector.fromMemorySegment(WeightLoads.B, seg, b2 + q, WeightLoads.LE)
                        .convertShape(VectorOperators.B2F, F, 0)).mul(d2).fma(v, a2);
                a3 = ((FloatVector) ByteVector.fromMemorySegment(WeightLoads.B, seg, b3 + q, WeightLoads.LE)
                        .convertShape(VectorOperators.B2F, F, 0)).mul(d3).fma(v, a3);
            }
        }
        int o = outOff + r;
        out[o] = a0.reduceLanes(VectorOperators.ADD);
        out[o + stride] = a1.reduceLanes(VectorOperators.ADD);
        out[o + 2 * stride] = a2.reduceLanes(VectorOperators.ADD);
        out[o + 3 * stride] = a3.reduceLanes(VectorOperators.ADD);
    }

    private static float q4Row(CpuMatrix m, int r, float[] x, int xOff) {
        MemorySegment seg = m.data;
        long base = r * m.rowBytes;
        FloatVector acc = FloatVector.zero(F);
        for (int blk = 0; blk < m.cols / 32; blk++) {
            long block = base + 18L * blk;
            FloatVector d = FloatVector.broadcast(F, WeightLoads.scale(seg, block));
            int xb = xOff + 32 * blk;
            // Low nibbles are values 0..15 of the block, high nibbles 16..31: the low pass first keeps
            // the accumulation order of a row expanded into scratch.
            for (int p = 0; p < 16; p += L) {
                acc = ((FloatVector) ByteVector.fromMemorySegment(WeightLoads.B, seg, block + 2 + p, WeightLoads.LE).and((byte) 0x0F).sub((byte) 8)
                        .convertShape(VectorOperators.B2F, F, 0)).mul(d).fma(FloatVector.fromArray(F, x, xb + p), acc);
            }
            for (int p = 0; p < 16; p += L) {
                acc = ((FloatVector) ByteVector.fromMemorySegment(WeightLoads.B, seg, block + 2 + p, WeightLoads.LE).lanewise(VectorOperators.LSHR, 4).sub((byte) 8)
                        .convertShape(VectorOperators.B2F, F, 0)).mul(d).fma(FloatVector.fromArray(F, x, xb + 16 + p), acc);
            }
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * Q4_K rows {@code r + k * stride} for k = 0..3 at once, as {@link #q8Rows4}: each row's
     * accumulator takes exactly {@link #q4kLanes}'s fused multiply-adds in its order (the same
     * dequantized floats, the same x vectors), so each row's sum is bit for bit the one-row one;
     * the four chains overlap and each activation vector is loaded once for the four rows. The
     * rows' scale and min floats (the same float products as q4kLanes's) are worked out first into
     * {@code scratch}, which keeps the vector loop small enough for C2 to inline whole.
     */
    private static void q4kRows4(CpuMatrix m, int r, int stride, float[] x, int xOff, float[] out, int outOff, float[] scratch) {
        MemorySegment seg = m.data;
        long step = stride * m.rowBytes;
        long b0 = r * m.rowBytes, b1 = b0 + step, b2 = b1 + step, b3 = b2 + step;
        int groups = m.cols / 64, o1 = 4 * groups, o2 = 2 * o1, o3 = 3 * o1;
        q4kScales(seg, b0, groups, scratch, 0);
        q4kScales(seg, b1, groups, scratch, o1);
        q4kScales(seg, b2, groups, scratch, o2);
        q4kScales(seg, b3, groups, scratch, o3);
        // Accumulators in scratch between 64-value groups, one group per call: see q6kRows4.
        int acc = 4 * o1;
        java.util.Arrays.fill(scratch, acc, acc + 4 * L, 0f);
        for (int g = 0; g < groups; g++) q4kGroupRows4(seg, b0, b1, b2, b3, g, x, xOff, scratch, o1, acc);
        int o = outOff + r;
        out[o] = FloatVector.fromArray(F, scratch, acc).reduceLanes(VectorOperators.ADD);
        out[o + stride] = FloatVector.fromArray(F, scratch, acc + L).reduceLanes(VectorOperators.ADD);
        out[o + 2 * stride] = FloatVector.fromArray(F, scratch, acc + 2 * L).reduceLanes(VectorOperators.ADD);
        out[o + 3 * stride] = FloatVector.fromArray(F, scratch, acc + 3 * L).reduceLanes(VectorOperators.ADD);
    }

    /** 64-value group {@code g} of four Q4_K rows, the accumulators read from and written back to {@code scratch[acc ..]}. */
    private static void q4kGroupRows4(MemorySegment seg, long b0, long b1, long b2, long b3, int g, float[] x, int xOff,
                                      float[] scratch, int o1, int acc) {
        int o2 = 2 * o1, o3 = 3 * o1;
        FloatVector a0 = FloatVector.fromArray(F, scratch, acc), a1 = FloatVector.fromArray(F, scratch, acc + L);
        FloatVector a2 = FloatVector.fromArray(F, scratch, acc + 2 * L), a3 = FloatVector.fromArray(F, scratch, acc + 3 * L);
        long qs = WeightLoads.Q4K_BYTES * (g >> 2) + 16 + 32L * (g & 3);
        int xj = xOff + 64 * g, c = 4 * g;
        FloatVector s0 = FloatVector.broadcast(F, scratch[c]), m0 = FloatVector.broadcast(F, scratch[c + 1]);
        FloatVector s1 = FloatVector.broadcast(F, scratch[o1 + c]), m1 = FloatVector.broadcast(F, scratch[o1 + c + 1]);
        FloatVector s2 = FloatVector.broadcast(F, scratch[o2 + c]), m2 = FloatVector.broadcast(F, scratch[o2 + c + 1]);
        FloatVector s3 = FloatVector.broadcast(F, scratch[o3 + c]), m3 = FloatVector.broadcast(F, scratch[o3 + c + 1]);
        ByteVector q0 = ByteVector.fromMemorySegment(B32, seg, b0 + qs, WeightLoads.LE);
        ByteVector q1 = ByteVector.fromMemorySegment(B32, seg, b1 + qs, WeightLoads.LE);
        ByteVector q2 = ByteVector.fromMemorySegment(B32, seg, b2 + qs, WeightLoads.LE);
        ByteVector q3 = ByteVector.fromMemorySegment(B32, seg, b3 + qs, WeightLoads.LE);
        ByteVector l0 = q0.and((byte) 0x0F), l1 = q1.and((byte) 0x0F), l2 = q2.and((byte) 0x0F), l3 = q3.and((byte) 0x0F);
        for (int p = 0; p < 32; p += L) {
            FloatVector v = FloatVector.fromArray(F, x, xj + p);
            int part = p / L;
            a0 = ((FloatVector) l0.convertShape(VectorOperators.B2F, F, part)).mul(s0).sub(m0).fma(v, a0);
            a1 = ((FloatVector) l1.convertShape(VectorOperators.B2F, F, part)).mul(s1).sub(m1).fma(v, a1);
            a2 = ((FloatVector) l2.convertShape(VectorOperators.B2F, F, part)).mul(s2).sub(m2).fma(v, a2);
            a3 = ((FloatVector) l3.convertShape(VectorOperators.B2F, F, part)).mul(s3).sub(m3).fma(v, a3);
        }
        s0 = FloatVector.broadcast(F, scratch[c + 2]); m0 = FloatVector.broadcast(F, scratch[c + 3]);
        s1 = FloatVector.broadcast(F, scratch[o1 + c + 2]); m1 = FloatVector.broadcast(F, scratch[o1 + c + 3]);
        s2 = FloatVector.broadcast(F, scratch[o2 + c + 2]); m2 = FloatVector.broadcast(F, scratch[o2 + c + 3]);
        s3 = FloatVector.broadcast(F, scratch[o3 + c + 2]); m3 = FloatVector.broadcast(F, scratch[o3 + c + 3]);
        l0 = q0.lanewise(VectorOperators.LSHR, 4); l1 = q1.lanewise(VectorOperators.LSHR, 4);
        l2 = q2.lanewise(VectorOperators.LSHR, 4); l3 = q3.lanewise(VectorOperators.LSHR, 4);
        for (int p = 0; p < 32; p += L) {
            FloatVector v = FloatVector.fromArray(F, x, xj + 32 + p);
            int part = p / L;
            a0 = ((FloatVector) l0.convertShape(VectorOperators.B2F, F, part)).mul(s0).sub(m0).fma(v, a0);
            a1 = ((FloatVector) l1.convertShape(VectorOperators.B2F, F, part)).mul(s1).sub(m1).fma(v, a1);
            a2 = ((FloatVector) l2.convertShape(VectorOperators.B2F, F, part)).mul(s2).sub(m2).fma(v, a2);
            a3 = ((FloatVector) l3.convertShape(VectorOperators.B2F, F, part)).mul(s3).sub(m3).fma(v, a3);
        }
        a0.intoArray(scratch, acc);
        a1.intoArray(scratch, acc + L);
        a2.intoArray(scratch, acc + 2 * L);
        a3.intoArray(scratch, acc + 3 * L);
    }

    /**
     * The scale and min floats of a Q4_K row's 64-value groups, four per group into {@code s}
     * from {@code off}: d * scale and dmin * min of the low half, then of the high half, the
     * products {@link #q4kLanes} broadcasts.
     */
    private static void q4kScales(MemorySegment seg, long base, int groups, float[] s, int off) {
        for (int blk = 0; blk < groups / 4; blk++) {
            long block = base + WeightLoads.Q4K_BYTES * blk, lo = WeightLoads.q4kScalesLow(seg, block);
            int hi = WeightLoads.q4kScalesHigh(seg, block);
            float d = WeightLoads.scale(seg, block), dmin = WeightLoads.scale(seg, block + 2);
            for (int j = 0; j < 4; j++) {
                int c = off + 16 * blk + 4 * j;
                s[c] = d * WeightLoads.q4kScale(lo, hi, 2 * j);
                s[c + 1] = dmin * WeightLoads.q4kMin(lo, hi, 2 * j);
                s[c + 2] = d * WeightLoads.q4kScale(lo, hi, 2 * j + 1);
                s[c + 3] = dmin * WeightLoads.q4kMin(lo, hi, 2 * j + 1);
            }
        }
    }

    /**
     * Q6_K rows {@code r + k * stride} for k = 0..3 at once, as {@link #q4kRows4}: each row's
     * accumulator takes exactly {@link #q6kLanes}'s fused multiply-adds in its order (the same
     * dequantized floats: the same byte arithmetic as {@link WeightLoads#q6k}, the same
     * {@code d * scale} products, the same x vectors), so each row's sum is bit for bit the
     * one-row one. Per row and 128-value half, one 32-byte load each for the low and high 32 bytes
     * of {@code ql} and one for {@code qh}, shared by the half's four groups; the scale floats
     * are worked out first into {@code scratch}.
     */
    private static void q6kRows4(CpuMatrix m, int r, int stride, float[] x, int xOff, float[] out, int outOff, float[] scratch) {
        MemorySegment seg = m.data;
        long step = stride * m.rowBytes;
        long b0 = r * m.rowBytes, b1 = b0 + step, b2 = b1 + step, b3 = b2 + step;
        int halves = m.cols / 128, o1 = 8 * halves, o2 = 2 * o1, o3 = 3 * o1;
        q6kScales(seg, b0, halves, scratch, 0);
        q6kScales(seg, b1, halves, scratch, o1);
        q6kScales(seg, b2, halves, scratch, o2);
        q6kScales(seg, b3, halves, scratch, o3);
        // The four accumulators live in scratch between 32-value groups: one group per call keeps
        // each compiled method small enough for C2 to keep every vector in registers (one method
        // for the whole row, or for a 128-value half, ran out of C2's budget and boxed vectors).
        int acc = 4 * o1;
        java.util.Arrays.fill(scratch, acc, acc + 4 * L, 0f);
        for (int hf = 0; hf < halves; hf++) q6kHalfRows4(seg, b0, b1, b2, b3, hf, x, xOff, scratch, o1, acc);
        int o = outOff + r;
        out[o] = FloatVector.fromArray(F, scratch, acc).reduceLanes(VectorOperators.ADD);
        out[o + stride] = FloatVector.fromArray(F, scratch, acc + L).reduceLanes(VectorOperators.ADD);
        out[o + 2 * stride] = FloatVector.fromArray(F, scratch, acc + 2 * L).reduceLanes(VectorOperators.ADD);
        out[o + 3 * stride] = FloatVector.fromArray(F, scratch, acc + 3 * L).reduceLanes(VectorOperators.ADD);
    }

    /**
     * Half {@code hf} (128 values) of four Q6_K rows: its four 32-value groups in row order, one
     * call each (a method for the whole half still outgrew C2's budget now and then and boxed).
     */
    private static void q6kHalfRows4(MemorySegment seg, long b0, long b1, long b2, long b3, int hf, float[] x, int xOff,
                                     float[] scratch, int o1, int acc) {
        long block = WeightLoads.Q6K_BYTES * (hf >> 1), ql = block + 64L * (hf & 1), qh = block + 128 + 32L * (hf & 1);
        int xh = xOff + 128 * hf, sc = 8 * hf;
        q6kGroupRows4(seg, b0, b1, b2, b3, ql, qh, 0, x, xh, scratch, sc, o1, acc);
        q6kGroupRows4(seg, b0, b1, b2, b3, ql + 32, qh, 1, x, xh + 32, scratch, sc + 2, o1, acc);
        q6kGroupRows4(seg, b0, b1, b2, b3, ql, qh, 2, x, xh + 64, scratch, sc + 4, o1, acc);
        q6kGroupRows4(seg, b0, b1, b2, b3, ql + 32, qh, 3, x, xh + 96, scratch, sc + 6, o1, acc);
    }

    /**
     * Group {@code g} (0-3) of a Q6_K half for four rows: low four bits from the bytes at
     * {@code nib} (low nibbles for groups 0 and 1, high for 2 and 3), high two bits from
     * {@code qh} shifted by 2g; scale floats {@code scratch[c], scratch[c + 1]} (per 16 values) and
     * the same a quarter apart for the other rows; accumulators in {@code scratch[acc ..]}.
     */
    private static void q6kGroupRows4(MemorySegment seg, long b0, long b1, long b2, long b3, long nib, long qh, int g,
                                      float[] x, int xg, float[] scratch, int c, int o1, int acc) {
        int o2 = 2 * o1, o3 = 3 * o1, shift = 2 * g;
        boolean high = g >= 2;
        ByteVector n0 = ByteVector.fromMemorySegment(B32, seg, b0 + nib, WeightLoads.LE);
        ByteVector n1 = ByteVector.fromMemorySegment(B32, seg, b1 + nib, WeightLoads.LE);
        ByteVector n2 = ByteVector.fromMemorySegment(B32, seg, b2 + nib, WeightLoads.LE);
        ByteVector n3 = ByteVector.fromMemorySegment(B32, seg, b3 + nib, WeightLoads.LE);
        n0 = high ? n0.lanewise(VectorOperators.LSHR, 4) : n0.and((byte) 0x0F);
        n1 = high ? n1.lanewise(VectorOperators.LSHR, 4) : n1.and((byte) 0x0F);
        n2 = high ? n2.lanewise(VectorOperators.LSHR, 4) : n2.and((byte) 0x0F);
        n3 = high ? n3.lanewise(VectorOperators.LSHR, 4) : n3.and((byte) 0x0F);
        ByteVector q0 = n0.or(ByteVector.fromMemorySegment(B32, seg, b0 + qh, WeightLoads.LE).lanewise(VectorOperators.LSHR, shift)
                .and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32);
        ByteVector q1 = n1.or(ByteVector.fromMemorySegment(B32, seg, b1 + qh, WeightLoads.LE).lanewise(VectorOperators.LSHR, shift)
                .and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32);
        ByteVector q2 = n2.or(ByteVector.fromMemorySegment(B32, seg, b2 + qh, WeightLoads.LE).lanewise(VectorOperators.LSHR, shift)
                .and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32);
        ByteVector q3 = n3.or(ByteVector.fromMemorySegment(B32, seg, b3 + qh, WeightLoads.LE).lanewise(VectorOperators.LSHR, shift)
                .and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32);
        FloatVector a0 = FloatVector.fromArray(F, scratch, acc), a1 = FloatVector.fromArray(F, scratch, acc + L);
        FloatVector a2 = FloatVector.fromArray(F, scratch, acc + 2 * L), a3 = FloatVector.fromArray(F, scratch, acc + 3 * L);
        for (int p = 0; p < 32; p += L) {
            FloatVector v = FloatVector.fromArray(F, x, xg + p);
            int part = p / L, s = c + p / 16;
            a0 = ((FloatVector) q0.convertShape(VectorOperators.B2F, F, part)).mul(FloatVector.broadcast(F, scratch[s])).fma(v, a0);
            a1 = ((FloatVector) q1.convertShape(VectorOperators.B2F, F, part)).mul(FloatVector.broadcast(F, scratch[o1 + s])).fma(v, a1);
            a2 = ((FloatVector) q2.convertShape(VectorOperators.B2F, F, part)).mul(FloatVector.broadcast(F, scratch[o2 + s])).fma(v, a2);
            a3 = ((FloatVector) q3.convertShape(VectorOperators.B2F, F, part)).mul(FloatVector.broadcast(F, scratch[o3 + s])).fma(v, a3);
        }
        a0.intoArray(scratch, acc);
        a1.intoArray(scratch, acc + L);
        a2.intoArray(scratch, acc + 2 * L);
        a3.intoArray(scratch, acc + 3 * L);
    }

    /** The {@code d * scale} floats of a Q6_K row's 16-value groups, eight per half, into {@code s} from {@code off}. */
    private static void q6kScales(MemorySegment seg, long base, int halves, float[] s, int off) {
        for (int blk = 0; blk < halves / 2; blk++) {
            long block = base + WeightLoads.Q6K_BYTES * blk;
            float d = WeightLoads.scale(seg, block + 208);
            for (int half = 0; half < 2; half++) {
                long sc = seg.get(WeightLoads.LONG_LE, block + 192 + 8L * half);
                int c = off + 16 * blk + 8 * half;
                for (int i = 0; i < 8; i++) s[c + i] = d * WeightLoads.q6kScale(sc, i);
            }
        }
    }

    private static float q4kRow(CpuMatrix m, int r, float[] x, int xOff) {
        return q4kLanes(m, r, x, xOff).reduceLanes(VectorOperators.ADD);
    }

    private static float q6kRow(CpuMatrix m, int r, float[] x, int xOff) {
        return q6kLanes(m, r, x, xOff).reduceLanes(VectorOperators.ADD);
    }

    /**
     * Q4_K row {@code r} times {@code x}, before the lane reduction: each 64-value group's low
     * nibbles, then its high nibbles, L values at a time in row order, each dequantized as
     * {@link WeightLoads#dequantizeRow} does. So the accumulator is {@link #dot}'s over the expanded
     * row, lane for lane and bit for bit, without the row going through scratch.
     */
    static FloatVector q4kLanes(CpuMatrix m, int r, float[] x, int xOff) {
        MemorySegment seg = m.data;
        long base = r * m.rowBytes;
        FloatVector acc = FloatVector.zero(F);
        for (int blk = 0; blk < m.cols / WeightLoads.QK_K; blk++) {
            long block = base + WeightLoads.Q4K_BYTES * blk, lo = WeightLoads.q4kScalesLow(seg, block);
            int hi = WeightLoads.q4kScalesHigh(seg, block);
            float d = WeightLoads.scale(seg, block), dmin = WeightLoads.scale(seg, block + 2);
            for (int j = 0; j < 4; j++) {
                long qs = block + 16 + 32L * j;
                int xj = xOff + WeightLoads.QK_K * blk + 64 * j;
                FloatVector d1 = FloatVector.broadcast(F, d * WeightLoads.q4kScale(lo, hi, 2 * j));
                FloatVector m1 = FloatVector.broadcast(F, dmin * WeightLoads.q4kMin(lo, hi, 2 * j));
                FloatVector d2 = FloatVector.broadcast(F, d * WeightLoads.q4kScale(lo, hi, 2 * j + 1));
                FloatVector m2 = FloatVector.broadcast(F, dmin * WeightLoads.q4kMin(lo, hi, 2 * j + 1));
                ByteVector q = ByteVector.fromMemorySegment(B32, seg, qs, WeightLoads.LE);
                ByteVector low = q.and((byte) 0x0F), high = q.lanewise(VectorOperators.LSHR, 4);
                for (int p = 0; p < 32; p += L) {
                    acc = ((FloatVector) low.convertShape(VectorOperators.B2F, F, p / L)).mul(d1).sub(m1)
                            .fma(FloatVector.fromArray(F, x, xj + p), acc);
                }
                for (int p = 0; p < 32; p += L) {
                    acc = ((FloatVector) high.convertShape(VectorOperators.B2F, F, p / L)).mul(d2).sub(m2)
                            .fma(FloatVector.fromArray(F, x, xj + 32 + p), acc);
                }
            }
        }
        return acc;
    }

    /** Q6_K: the four 32-value groups of each 128-value half in row order, as {@link #q4kLanes}. */
    static FloatVector q6kLanes(CpuMatrix m, int r, float[] x, int xOff) {
        MemorySegment seg = m.data;
        long base = r * m.rowBytes;
        FloatVector acc = FloatVector.zero(F);
        for (int blk = 0; blk < m.cols / WeightLoads.QK_K; blk++) {
            long block = base + WeightLoads.Q6K_BYTES * blk;
            float d = WeightLoads.scale(seg, block + 208);
            for (int half = 0; half < 2; half++) {
                long ql = block + 64L * half, qh = block + 128 + 32L * half;
                long sc = seg.get(WeightLoads.LONG_LE, block + 192 + 8L * half); // the half's 8 int8 scales
                int xh = xOff + WeightLoads.QK_K * blk + 128 * half;
                // The four groups spelled out (a loop over the group measured slower).
                ByteVector lo = ByteVector.fromMemorySegment(B32, seg, ql, WeightLoads.LE);
                ByteVector hi = ByteVector.fromMemorySegment(B32, seg, ql + 32, WeightLoads.LE);
                ByteVector h = ByteVector.fromMemorySegment(B32, seg, qh, WeightLoads.LE);
                ByteVector q0 = lo.and((byte) 0x0F).or(h.and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32);
                ByteVector q1 = hi.and((byte) 0x0F).or(h.lanewise(VectorOperators.LSHR, 2).and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32);
                ByteVector q2 = lo.lanewise(VectorOperators.LSHR, 4).or(h.lanewise(VectorOperators.LSHR, 4).and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32);
                ByteVector q3 = hi.lanewise(VectorOperators.LSHR, 4).or(h.lanewise(VectorOperators.LSHR, 6).and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32);
                for (int p = 0; p < 32; p += L) {
                    acc = ((FloatVector) q0.convertShape(VectorOperators.B2F, F, p / L)).mul(d * WeightLoads.q6kScale(sc, p / 16))
                            .fma(FloatVector.fromArray(F, x, xh + p), acc);
                }
                for (int p = 0; p < 32; p += L) {
                    acc = ((FloatVector) q1.convertShape(VectorOperators.B2F, F, p / L)).mul(d * WeightLoads.q6kScale(sc, p / 16 + 2))
                            .fma(FloatVector.fromArray(F, x, xh + 32 + p), acc);
                }
                for (int p = 0; p < 32; p += L) {
                    acc = ((FloatVector) q2.convertShape(VectorOperators.B2F, F, p / L)).mul(d * WeightLoads.q6kScale(sc, p / 16 + 4))
                            .fma(FloatVector.fromArray(F, x, xh + 64 + p), acc);
                }
                for (int p = 0; p < 32; p += L) {
                    acc = ((FloatVector) q3.convertShape(VectorOperators.B2F, F, p / L)).mul(d * WeightLoads.q6kScale(sc, p / 16 + 6))
                            .fma(FloatVector.fromArray(F, x, xh + 96 + p), acc);
                }
            }
        }
        return acc;
    }

    static {
        // The quantized kernels step through the 16-byte halves of 32-value blocks L values at a time.
        if (16 % L != 0) throw new ExceptionInInitializerError("unsupported float vector length " + L);
    }
}
