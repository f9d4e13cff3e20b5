package dev.kvasir.kernels.cpu;

import dev.kvasir.kernels.GgmlType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

/**
 * Q8_0 and Q4_0 weights times int8 activations for a prefill's many tokens, with {@link Int8Dots}'s results
 * bit for bit but float arithmetic: the integers of both sides as floats, block-permuted the way
 * {@link Int8Activations#position} says, so that four contiguous 8-float loads put in lane j the four
 * positions whose products {@link Int8Dots}'s int lane j sums. Their products and sums are integers
 * below 2^24, exact in floats, so each block yields the same eight sums as the integer kernels,
 * which then go through the same {@code fma(sum, dw * dx, acc)}.
 * <p>
 * Why not the integer kernels: on AVX2 they spend about ten instructions per 32 products and
 * (row, token) (two short multiplies, an add, the pair sum by shifts, a conversion), where four
 * fused multiply-adds do it here once the rows are expanded, which a prefill amortizes over its
 * tokens (smol135 Q8_0, 64-token prompt: the integer tiles ran at 122 tok/s, float activations 164).
 * These still take 1.4-1.6x the float tiles' time: five FMA-unit operations per (row, token) and 32
 * values against four, plus the scale's multiply and broadcast, and the 2x4 tile's accumulators
 * spill a little (seen in -XX:+PrintAssembly); prompt speed with int8 on was 0.56-0.85x.
 * <p>
 * Rows go in blocks of {@link #ROWS}: expanded into scratch (integers, then the block scales), then
 * every group of four tokens passes over them two rows at a time.
 */
final class Int8Tiles {

    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;
    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    /** Sixteen bytes reordered as {@link Int8Activations#position} orders each half block. */
    private static final VectorShuffle<Byte> EVENS_ODDS = VectorShuffle.fromOp(B16, i -> Int8Activations.position(i));
    static final int ROWS = Matmul.ROW_BLOCK;

    private Int8Tiles() {}

    /** Scratch floats {@link #manyTokens} needs for rows of {@code cols} values. */
    static int scratchFloats(int cols) {
        return ROWS * cols + ROWS * (cols / 32);
    }

    /**
     * Rows {@code [r0, r1)} for tokens {@code t < n} of {@code a} (quantized with its float
     * layout), into {@code out[t * rows + r]}.
     */
    static void manyTokens(CpuMatrix m, Int8Activations a, int n, float[] out, int r0, int r1, float[] scratch) {
        int cols = m.cols, rows = m.rows;
        for (int rb = r0; rb < r1; rb += ROWS) {
            int count = Math.min(ROWS, r1 - rb);
            for (int k = 0; k < count; k++) expand(m, rb + k, scratch, k);
            for (int t = 0; t < n; t += 4) {
                for (int k = 0; k < count; k += 2) tile2x4(scratch, k, Math.min(k + 1, count - 1), cols, a, t, n, out, rows, rb + k, r1);
            }
        }
    }

    /** Row {@code r}'s integers as floats, permuted, into row {@code k} of scratch; its scales after all the rows. */
    private static void expand(CpuMatrix m, int r, float[] scratch, int k) {
        if (m.type == GgmlType.Q4_0) expandQ4(m, r, scratch, k);
        else expandQ8(m, r, scratch, k);
    }

    private static void expandQ8(CpuMatrix m, int r, float[] scratch, int k) {
        MemorySegment seg = m.data;
        long base = r * m.rowBytes;
        int cols = m.cols, blocks = cols / 32, w = k * cols, s = ROWS * cols + k * blocks;
        for (int b = 0; b < blocks; b++) {
            long block = base + 34L * b;
            int o = w + 32 * b;
            scratch[s + b] = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, block));
            // Each 16-byte half: evens then odds (one in-lane byte shuffle), widened to floats.
            ByteVector lo = ByteVector.fromMemorySegment(B16, seg, block + 2, WeightLoads.LE).rearrange(EVENS_ODDS);
            ByteVector hi = ByteVector.fromMemorySegment(B16, seg, block + 18, WeightLoads.LE).rearrange(EVENS_ODDS);
            ((FloatVector) lo.convertShape(VectorOperators.B2F, F8, 0)).intoArray(scratch, o);
            ((FloatVector) lo.convertShape(VectorOperators.B2F, F8, 1)).intoArray(scratch, o + 8);
            ((FloatVector) hi.convertShape(VectorOperators.B2F, F8, 0)).intoArray(scratch, o + 16);
            ((FloatVector) hi.convertShape(VectorOperators.B2F, F8, 1)).intoArray(scratch, o + 24);
        }
    }

    /** Q4_0: the 16 bytes shuffled once; low nibbles are positions 0-15, high nibbles 16-31. */
    private static void expandQ4(CpuMatrix m, int r, float[] scratch, int k) {
        MemorySegment seg = m.data;
        long base = r * m.rowBytes;
        int cols = m.cols, blocks = cols / 32, w = k * cols, s = ROWS * cols + k * blocks;
        for (int b = 0; b < blocks; b++) {
            long block = base + 18L * b;
            int o = w + 32 * b;
            scratch[s + b] = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, block));
            ByteVector q = ByteVector.fromMemorySegment(B16, seg, block + 2, WeightLoads.LE).rearrange(EVENS_ODDS);
            ByteVector lo = q.and((byte) 0x0F).sub((byte) 8), hi = q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8);
            ((FloatVector) lo.convertShape(VectorOperators.B2F, F8, 0)).intoArray(scratch, o);
            ((FloatVector) lo.convertShape(VectorOperators.B2F, F8, 1)).intoArray(scratch, o + 8);
            ((FloatVector) hi.convertShape(VectorOperators.B2F, F8, 0)).intoArray(scratch, o + 16);
            ((FloatVector) hi.convertShape(VectorOperators.B2F, F8, 1)).intoArray(scratch, o + 24);
        }
    }

    /**
     * Rows {@code k0}, {@code k0 + 1} of the block in scratch (rows {@code r}, {@code r + 1}) for tokens
     * {@code t .. t + 3}; tokens past n repeat the last one, their sums dropped. Per block and
     * (row, token): the four 8-value steps' products summed (exactly: integers below 2^24), then one fused multiply-add
     * by {@code dw * dx}, as {@link Int8Dots} does with the same integers.
     */
    private static void tile2x4(float[] w, int k0, int k1, int cols, Int8Activations a, int t, int n, float[] out, int rows, int r, int r1) {
        float[] x = a.qf, d = a.d;
        int blocks = cols / 32;
        int w0 = k0 * cols, w1 = k1 * cols, s0 = ROWS * cols + k0 * blocks, s1 = ROWS * cols + k1 * blocks;
        int t0 = t, t1 = Math.min(t + 1, n - 1), t2 = Math.min(t + 2, n - 1), t3 = Math.min(t + 3, n - 1);
        int x0 = t0 * cols, d0 = t0 * blocks, x1 = t1 * cols, d1 = t1 * blocks, x2 = t2 * cols, d2 = t2 * blocks, x3 = t3 * cols, d3 = t3 * blocks;
        FloatVector a00 = FloatVector.zero(F8), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        for (int blk = 0; blk < blocks; blk++) {
            int o = 32 * blk;
            FloatVector p;
            float c0 = w[s0 + blk];
            FloatVector v00 = FloatVector.fromArray(F8, w, w0 + o), v01 = FloatVector.fromArray(F8, w, w0 + o + 8);
            FloatVector v02 = FloatVector.fromArray(F8, w, w0 + o + 16), v03 = FloatVector.fromArray(F8, w, w0 + o + 24);
            p = v00.mul(FloatVector.fromArray(F8, x, x0 + o));
            p = v01.fma(FloatVector.fromArray(F8, x, x0 + o + 8), p);
            p = v02.fma(FloatVector.fromArray(F8, x, x0 + o + 16), p);
            p = v03.fma(FloatVector.fromArray(F8, x, x0 + o + 24), p);
            a00 = p.fma(FloatVector.broadcast(F8, c0 * d[d0 + blk]), a00);
            p = v00.mul(FloatVector.fromArray(F8, x, x1 + o));
            p = v01.fma(FloatVector.fromArray(F8, x, x1 + o + 8), p);
            p = v02.fma(FloatVector.fromArray(F8, x, x1 + o + 16), p);
            p = v03.fma(FloatVector.fromArray(F8, x, x1 + o + 24), p);
            a01 = p.fma(FloatVector.broadcast(F8, c0 * d[d1 + blk]), a01);
            p = v00.mul(FloatVector.fromArray(F8, x, x2 + o));
            p = v01.fma(FloatVector.fromArray(F8, x, x2 + o + 8), p);
            p = v02.fma(FloatVector.fromArray(F8, x, x2 + o + 16), p);
            p = v03.fma(FloatVector.fromArray(F8, x, x2 + o + 24), p);
            a02 = p.fma(FloatVector.broadcast(F8, c0 * d[d2 + blk]), a02);
            p = v00.mul(FloatVector.fromArray(F8, x, x3 + o));
            p = v01.fma(FloatVector.fromArray(F8, x, x3 + o + 8), p);
            p = v02.fma(FloatVector.fromArray(F8, x, x3 + o + 16), p);
            p = v03.fma(FloatVector.fromArray(F8, x, x3 + o + 24), p);
            a03 = p.fma(FloatVector.broadcast(F8, c0 * d[d3 + blk]), a03);
            float c1 = w[s1 + blk];
            FloatVector v10 = FloatVector.fromArray(F8, w, w1 + o), v11 = FloatVector.fromArray(F8, w, w1 + o + 8);
            FloatVector v12 = FloatVector.fromArray(F8, w, w1 + o + 16), v13 = FloatVector.fromArray(F8, w, w1 + o + 24);
            p = v10.mul(FloatVector.fromArray(F8, x, x0 + o));
            p = v11.fma(FloatVector.fromArray(F8, x, x0 + o + 8), p);
            p = v12.fma(FloatVector.fromArray(F8, x, x0 + o + 16), p);
            p = v13.fma(FloatVector.fromArray(F8, x, x0 + o + 24), p);
            a10 = p.fma(FloatVector.broadcast(F8, c1 * d[d0 + blk]), a10);
            p = v10.mul(FloatVector.fromArray(F8, x, x1 + o));
            p = v11.fma(FloatVector.fromArray(F8, x, x1 + o + 8), p);
            p = v12.fma(FloatVector.fromArray(F8, x, x1 + o + 16), p);
            p = v13.fma(FloatVector.fromArray(F8, x, x1 + o + 24), p);
            a11 = p.fma(FloatVector.broadcast(F8, c1 * d[d1 + blk]), a11);
            p = v10.mul(FloatVector.fromArray(F8, x, x2 + o));
            p = v11.fma(FloatVector.fromArray(F8, x, x2 + o + 8), p);
            p = v12.fma(FloatVector.fromArray(F8, x, x2 + o + 16), p);
            p = v13.fma(FloatVector.fromArray(F8, x, x2 + o + 24), p);
            a12 = p.fma(FloatVector.broadcast(F8, c1 * d[d2 + blk]), a12);
            p = v10.mul(FloatVector.fromArray(F8, x, x3 + o));
            p = v11.fma(FloatVector.fromArray(F8, x, x3 + o + 8), p);
            p = v12.fma(FloatVector.fromArray(F8, x, x3 + o + 16), p);
            p = v13.fma(FloatVector.fromArray(F8, x, x3 + o + 24), p);
            a13 = p.fma(FloatVector.broadcast(F8, c1 * d[d3 + blk]), a13);
        }
        out[t0 * rows + r] = a00.reduceLanes(VectorOperators.ADD);
        if (r + 1 < r1) out[t0 * rows + r + 1] = a10.reduceLanes(VectorOperators.ADD);
        if (n > t + 1) {
            out[t1 * rows + r] = a01.reduceLanes(VectorOperators.ADD);
            if (r + 1 < r1) out[t1 * rows + r + 1] = a11.reduceLanes(VectorOperators.ADD);
        }
        if (n > t + 2) {
            out[t2 * rows + r] = a02.reduceLanes(VectorOperators.ADD);
            if (r + 1 < r1) out[t2 * rows + r + 1] = a12.reduceLanes(VectorOperators.ADD);
        }
        if (n > t + 3) {
            out[t3 * rows + r] = a03.reduceLanes(VectorOperators.ADD);
            if (r + 1 < r1) out[t3 * rows + r + 1] = a13.reduceLanes(VectorOperators.ADD);
        }
    }
}
