package dev.kvasir.kernels.cpu;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

/**
 * {@link Int8Dots}'s kernels for Q4_0 weights: each 18-byte block's 16 bytes loaded once, the low
 * nibbles minus 8 (positions 0-15) and the high nibbles minus 8 (positions 16-31) widened to
 * shorts, then the same multiply, pair sum and {@code fma(float(isum), dw * dx, acc)} as Q8_0, so
 * the int lanes hold the same positions and {@link Int8Tiles} reproduces the sums bit for bit.
 * One file of its own: with the Q8_0 loads in the same methods C2's budget would run out.
 */
final class Int8DotsQ4 {

    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    private static final VectorSpecies<Short> S16 = ShortVector.SPECIES_256;
    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;

    private Int8DotsQ4() {}

    /** Rows {@code r + k * stride} (k = 0..3) for token {@code t}. */
    static void rows4x1(CpuMatrix m, int r, int stride, Int8Activations a, int t, float[] out) {
        MemorySegment seg = m.data;
        short[] q = a.q;
        float[] d = a.d;
        int cols = m.cols, blocks = cols / 32, rows = m.rows;
        long step = stride * m.rowBytes;
        long b0 = r * m.rowBytes, b1 = b0 + step, b2 = b1 + step, b3 = b2 + step;
        int x0 = t * cols, d0 = t * blocks;
        FloatVector a00 = FloatVector.zero(F8), a10 = a00, a20 = a00, a30 = a00;
        for (int blk = 0; blk < blocks; blk++) {
            long off = 18L * blk;
            int xo = 32 * blk;
            IntVector p;
            ShortVector xlo = ShortVector.fromArray(S16, q, x0 + xo), xhi = ShortVector.fromArray(S16, q, x0 + xo + 16);
            float s0 = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, b0 + off));
            ByteVector n0 = ByteVector.fromMemorySegment(B16, seg, b0 + off + 2, WeightLoads.LE);
            ShortVector w0lo = (ShortVector) n0.and((byte) 0x0F).sub((byte) 8).convertShape(VectorOperators.B2S, S16, 0);
            ShortVector w0hi = (ShortVector) n0.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2S, S16, 0);
            p = w0lo.mul(xlo).add(w0hi.mul(xhi)).reinterpretAsInts();
            a00 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s0 * d[d0 + blk]), a00);
            float s1 = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, b1 + off));
            ByteVector n1 = ByteVector.fromMemorySegment(B16, seg, b1 + off + 2, WeightLoads.LE);
            ShortVector w1lo = (ShortVector) n1.and((byte) 0x0F).sub((byte) 8).convertShape(VectorOperators.B2S, S16, 0);
            ShortVector w1hi = (ShortVector) n1.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2S, S16, 0);
            p = w1lo.mul(xlo).add(w1hi.mul(xhi)).reinterpretAsInts();
            a10 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s1 * d[d0 + blk]), a10);
            float s2 = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, b2 + off));
            ByteVector n2 = ByteVector.fromMemorySegment(B16, seg, b2 + off + 2, WeightLoads.LE);
            ShortVector w2lo = (ShortVector) n2.and((byte) 0x0F).sub((byte) 8).convertShape(VectorOperators.B2S, S16, 0);
            ShortVector w2hi = (ShortVector) n2.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2S, S16, 0);
            p = w2lo.mul(xlo).add(w2hi.mul(xhi)).reinterpretAsInts();
            a20 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s2 * d[d0 + blk]), a20);
            float s3 = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, b3 + off));
            ByteVector n3 = ByteVector.fromMemorySegment(B16, seg, b3 + off + 2, WeightLoads.LE);
            ShortVector w3lo = (ShortVector) n3.and((byte) 0x0F).sub((byte) 8).convertShape(VectorOperators.B2S, S16, 0);
            ShortVector w3hi = (ShortVector) n3.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2S, S16, 0);
            p = w3lo.mul(xlo).add(w3hi.mul(xhi)).reinterpretAsInts();
            a30 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s3 * d[d0 + blk]), a30);
        }
        out[t * rows + r] = a00.reduceLanes(VectorOperators.ADD);
        out[t * rows + r + stride] = a10.reduceLanes(VectorOperators.ADD);
        out[t * rows + r + 2 * stride] = a20.reduceLanes(VectorOperators.ADD);
        out[t * rows + r + 3 * stride] = a30.reduceLanes(VectorOperators.ADD);
    }

    /** Rows {@code r}, {@code r + stride} for tokens {@code t .. t + 3}. */
    static void rows2x4(CpuMatrix m, int r, int stride, Int8Activations a, int t, int n, float[] out) {
        MemorySegment seg = m.data;
        short[] q = a.q;
        float[] d = a.d;
        int cols = m.cols, blocks = cols / 32, rows = m.rows;
        long step = stride * m.rowBytes;
        long b0 = r * m.rowBytes, b1 = b0 + step;
        // Tokens past n repeat the last one; their sums are computed and dropped.
        int t0 = t, t1 = Math.min(t + 1, n - 1), t2 = Math.min(t + 2, n - 1), t3 = Math.min(t + 3, n - 1);
        int x0 = t0 * cols, d0 = t0 * blocks, x1 = t1 * cols, d1 = t1 * blocks, x2 = t2 * cols, d2 = t2 * blocks, x3 = t3 * cols, d3 = t3 * blocks;
        FloatVector a00 = FloatVector.zero(F8), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        for (int blk = 0; blk < blocks; blk++) {
            long off = 18L * blk;
            int xo = 32 * blk;
            IntVector p;
            float s0 = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, b0 + off));
            ByteVector n0 = ByteVector.fromMemorySegment(B16, seg, b0 + off + 2, WeightLoads.LE);
            ShortVector w0lo = (ShortVector) n0.and((byte) 0x0F).sub((byte) 8).convertShape(VectorOperators.B2S, S16, 0);
            ShortVector w0hi = (ShortVector) n0.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2S, S16, 0);
            p = w0lo.mul(ShortVector.fromArray(S16, q, x0 + xo)).add(w0hi.mul(ShortVector.fromArray(S16, q, x0 + xo + 16))).reinterpretAsInts();
            a00 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s0 * d[d0 + blk]), a00);
            p = w0lo.mul(ShortVector.fromArray(S16, q, x1 + xo)).add(w0hi.mul(ShortVector.fromArray(S16, q, x1 + xo + 16))).reinterpretAsInts();
            a01 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s0 * d[d1 + blk]), a01);
            p = w0lo.mul(ShortVector.fromArray(S16, q, x2 + xo)).add(w0hi.mul(ShortVector.fromArray(S16, q, x2 + xo + 16))).reinterpretAsInts();
            a02 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s0 * d[d2 + blk]), a02);
            p = w0lo.mul(ShortVector.fromArray(S16, q, x3 + xo)).add(w0hi.mul(ShortVector.fromArray(S16, q, x3 + xo + 16))).reinterpretAsInts();
            a03 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s0 * d[d3 + blk]), a03);
            float s1 = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, b1 + off));
            ByteVector n1 = ByteVector.fromMemorySegment(B16, seg, b1 + off + 2, WeightLoads.LE);
            ShortVector w1lo = (ShortVector) n1.and((byte) 0x0F).sub((byte) 8).convertShape(VectorOperators.B2S, S16, 0);
            ShortVector w1hi = (ShortVector) n1.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2S, S16, 0);
            p = w1lo.mul(ShortVector.fromArray(S16, q, x0 + xo)).add(w1hi.mul(ShortVector.fromArray(S16, q, x0 + xo + 16))).reinterpretAsInts();
            a10 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s1 * d[d0 + blk]), a10);
            p = w1lo.mul(ShortVector.fromArray(S16, q, x1 + xo)).add(w1hi.mul(ShortVector.fromArray(S16, q, x1 + xo + 16))).reinterpretAsInts();
            a11 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s1 * d[d1 + blk]), a11);
            p = w1lo.mul(ShortVector.fromArray(S16, q, x2 + xo)).add(w1hi.mul(ShortVector.fromArray(S16, q, x2 + xo + 16))).reinterpretAsInts();
            a12 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s1 * d[d2 + blk]), a12);
            p = w1lo.mul(ShortVector.fromArray(S16, q, x3 + xo)).add(w1hi.mul(ShortVector.fromArray(S16, q, x3 + xo + 16))).reinterpretAsInts();
            a13 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s1 * d[d3 + blk]), a13);
        }
        out[t0 * rows + r] = a00.reduceLanes(VectorOperators.ADD);
        out[t0 * rows + r + stride] = a10.reduceLanes(VectorOperators.ADD);
        if (n > t + 1) {
            out[t1 * rows + r] = a01.reduceLanes(VectorOperators.ADD);
            out[t1 * rows + r + stride] = a11.reduceLanes(VectorOperators.ADD);
        }
        if (n > t + 2) {
            out[t2 * rows + r] = a02.reduceLanes(VectorOperators.ADD);
            out[t2 * rows + r + stride] = a12.reduceLanes(VectorOperators.ADD);
        }
        if (n > t + 3) {
            out[t3 * rows + r] = a03.reduceLanes(VectorOperators.ADD);
            out[t3 * rows + r + stride] = a13.reduceLanes(VectorOperators.ADD);
        }
    }

    /** Rows {@code r + k * stride} (k = 0..3) for tokens {@code t}, {@code t + 1}. */
    static void rows4x2(CpuMatrix m, int r, int stride, Int8Activations a, int t, int n, float[] out) {
        MemorySegment seg = m.data;
        short[] q = a.q;
        float[] d = a.d;
        int cols = m.cols, blocks = cols / 32, rows = m.rows;
        long step = stride * m.rowBytes;
        long b0 = r * m.rowBytes, b1 = b0 + step, b2 = b1 + step, b3 = b2 + step;
        // Tokens past n repeat the last one; their sums are computed and dropped.
        int t0 = t, t1 = Math.min(t + 1, n - 1);
        int x0 = t0 * cols, d0 = t0 * blocks, x1 = t1 * cols, d1 = t1 * blocks;
        FloatVector a00 = FloatVector.zero(F8), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        for (int blk = 0; blk < blocks; blk++) {
            long off = 18L * blk;
            int xo = 32 * blk;
            IntVector p;
            float s0 = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, b0 + off));
            ByteVector n0 = ByteVector.fromMemorySegment(B16, seg, b0 + off + 2, WeightLoads.LE);
            ShortVector w0lo = (ShortVector) n0.and((byte) 0x0F).sub((byte) 8).convertShape(VectorOperators.B2S, S16, 0);
            ShortVector w0hi = (ShortVector) n0.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2S, S16, 0);
            p = w0lo.mul(ShortVector.fromArray(S16, q, x0 + xo)).add(w0hi.mul(ShortVector.fromArray(S16, q, x0 + xo + 16))).reinterpretAsInts();
            a00 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s0 * d[d0 + blk]), a00);
            p = w0lo.mul(ShortVector.fromArray(S16, q, x1 + xo)).add(w0hi.mul(ShortVector.fromArray(S16, q, x1 + xo + 16))).reinterpretAsInts();
            a01 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s0 * d[d1 + blk]), a01);
            float s1 = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, b1 + off));
            ByteVector n1 = ByteVector.fromMemorySegment(B16, seg, b1 + off + 2, WeightLoads.LE);
            ShortVector w1lo = (ShortVector) n1.and((byte) 0x0F).sub((byte) 8).convertShape(VectorOperators.B2S, S16, 0);
            ShortVector w1hi = (ShortVector) n1.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2S, S16, 0);
            p = w1lo.mul(ShortVector.fromArray(S16, q, x0 + xo)).add(w1hi.mul(ShortVector.fromArray(S16, q, x0 + xo + 16))).reinterpretAsInts();
            a10 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s1 * d[d0 + blk]), a10);
            p = w1lo.mul(ShortVector.fromArray(S16, q, x1 + xo)).add(w1hi.mul(ShortVector.fromArray(S16, q, x1 + xo + 16))).reinterpretAsInts();
            a11 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s1 * d[d1 + blk]), a11);
            float s2 = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, b2 + off));
            ByteVector n2 = ByteVector.fromMemorySegment(B16, seg, b2 + off + 2, WeightLoads.LE);
            ShortVector w2lo = (ShortVector) n2.and((byte) 0x0F).sub((byte) 8).convertShape(VectorOperators.B2S, S16, 0);
            ShortVector w2hi = (ShortVector) n2.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2S, S16, 0);
            p = w2lo.mul(ShortVector.fromArray(S16, q, x0 + xo)).add(w2hi.mul(ShortVector.fromArray(S16, q, x0 + xo + 16))).reinterpretAsInts();
            a20 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s2 * d[d0 + blk]), a20);
            p = w2lo.mul(ShortVector.fromArray(S16, q, x1 + xo)).add(w2hi.mul(ShortVector.fromArray(S16, q, x1 + xo + 16))).reinterpretAsInts();
            a21 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s2 * d[d1 + blk]), a21);
            float s3 = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, b3 + off));
            ByteVector n3 = ByteVector.fromMemorySegment(B16, seg, b3 + off + 2, WeightLoads.LE);
            ShortVector w3lo = (ShortVector) n3.and((byte) 0x0F).sub((byte) 8).convertShape(VectorOperators.B2S, S16, 0);
            ShortVector w3hi = (ShortVector) n3.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2S, S16, 0);
            p = w3lo.mul(ShortVector.fromArray(S16, q, x0 + xo)).add(w3hi.mul(ShortVector.fromArray(S16, q, x0 + xo + 16))).reinterpretAsInts();
            a30 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s3 * d[d0 + blk]), a30);
            p = w3lo.mul(ShortVector.fromArray(S16, q, x1 + xo)).add(w3hi.mul(ShortVector.fromArray(S16, q, x1 + xo + 16))).reinterpretAsInts();
            a31 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s3 * d[d1 + blk]), a31);
        }
        out[t0 * rows + r] = a00.reduceLanes(VectorOperators.ADD);
        out[t0 * rows + r + stride] = a10.reduceLanes(VectorOperators.ADD);
        out[t0 * rows + r + 2 * stride] = a20.reduceLanes(VectorOperators.ADD);
        out[t0 * rows + r + 3 * stride] = a30.reduceLanes(VectorOperators.ADD);
        if (n > t + 1) {
            out[t1 * rows + r] = a01.reduceLanes(VectorOperators.ADD);
            out[t1 * rows + r + stride] = a11.reduceLanes(VectorOperators.ADD);
            out[t1 * rows + r + 2 * stride] = a21.reduceLanes(VectorOperators.ADD);
            out[t1 * rows + r + 3 * stride] = a31.reduceLanes(VectorOperators.ADD);
        }
    }
}
