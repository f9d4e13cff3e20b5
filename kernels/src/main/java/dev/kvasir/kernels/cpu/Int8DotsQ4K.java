package dev.kvasir.kernels.cpu;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

/**
 * {@link Int8Dots}'s kernels for Q4_K weights. A Q4_K super-block of 256 values has eight 32-value
 * sub-blocks, each {@code w = (d * sc) * q - (dmin * m)} with 4-bit {@code q} and 6-bit {@code sc},
 * {@code m}. Against int8 activations ({@code x = dx * qx} per 32 values, the same blocks) a
 * sub-block's dot is {@code (d * sc * dx) * sum(q * qx) - (dmin * m) * (dx * sum(qx))}: the first
 * term is {@link Int8Dots}'s Q8_0 form with {@code d * sc} for the block scale, the second needs
 * only the activations' block sums ({@link Int8Activations#xs}, llama.cpp's {@code bsums} trick),
 * so the mins cost one multiply-add per 32 values, outside the vector loop.
 * <p>
 * Each 64-value group's 32 bytes hold sub-block 2j in their low nibbles and 2j + 1 in their high
 * ones; the two 16-byte halves are loaded and widened to shorts once ({@code vpmovsxbw}), and
 * {@code and 15} / {@code >> 4 and 15} give positions 0-15 and 16-31 of both sub-blocks. The
 * products and pair sums are then Q8_0's, so int lane j holds positions 2j, 2j+1, 2j+16, 2j+17
 * ({@link Int8Tiles} reproduces the sums bit for bit), each below 2 * 15 * 127 in a short.
 * <p>
 * Every (row, token) output is {@code reduce(acc) - mins}: the vector accumulator through the
 * blocks in row order with {@code fma(float(isum), (d * sc) * dx, acc)}, its lane reduction, then
 * {@link #mins}; in these kernels and in {@link Int8Tiles} alike.
 * <p>
 * The sub-block scales and mins are worked out first, as floats, into scratch ({@link #scales}):
 * no vector code there, and the vector method stays small enough for C2 (see {@link Matmul}).
 */
final class Int8DotsQ4K {

    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    private static final VectorSpecies<Short> S16 = ShortVector.SPECIES_256;
    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;

    private Int8DotsQ4K() {}

    /** Scratch floats {@link #rows4} needs for rows of {@code cols} values. */
    static int scratchFloats(int cols) {
        return 8 * (cols / 32);
    }

    /**
     * Rows {@code r + k * stride} (k = 0..3) for tokens {@code t0 <= t < t1}: the rows' scales
     * worked out once, then one pass over the rows per token (the rows' bytes stay in L1).
     */
    static void rows4(CpuMatrix m, int r, int stride, Int8Activations a, int t0, int t1, float[] out, float[] scratch) {
        int blocks = m.cols / 32, rows = m.rows;
        long step = stride * m.rowBytes, b0 = r * m.rowBytes;
        for (int k = 0; k < 4; k++) scales(m.data, b0 + k * step, blocks, scratch, 2 * k * blocks, (2 * k + 1) * blocks);
        for (int t = t0; t < t1; t++) {
            int o = t * rows + r;
            dots2(m.data, b0, b0 + step, blocks, a, t, scratch, 0, 2 * blocks, out, o, o + stride);
            dots2(m.data, b0 + 2 * step, b0 + 3 * step, blocks, a, t, scratch, 4 * blocks, 6 * blocks, out, o + 2 * stride, o + 3 * stride);
            // With stride 0 the four rows are one, its output written once.
            for (int k = 0; k < (stride == 0 ? 1 : 4); k++) {
                out[t * rows + r + k * stride] -= mins(scratch, (2 * k + 1) * blocks, a.xs, t * blocks, blocks);
            }
        }
    }

    /**
     * Row {@code base}'s sub-block scales {@code d * sc} into {@code s[off + b]} and mins
     * {@code dmin * m} into {@code s[minOff + b]}, b the 32-value block.
     */
    static void scales(MemorySegment seg, long base, int blocks, float[] s, int off, int minOff) {
        for (int sb = 0; sb < blocks / 8; sb++) {
            long block = base + WeightLoads.Q4K_BYTES * sb, lo = WeightLoads.q4kScalesLow(seg, block);
            int hi = WeightLoads.q4kScalesHigh(seg, block);
            float d = WeightLoads.scale(seg, block), dmin = WeightLoads.scale(seg, block + 2);
            for (int j = 0; j < 8; j++) {
                s[off + 8 * sb + j] = d * WeightLoads.q4kScale(lo, hi, j);
                s[minOff + 8 * sb + j] = dmin * WeightLoads.q4kMin(lo, hi, j);
            }
        }
    }

    /**
     * {@code sum(mins[b] * xs[b])}, what a (row, token) output loses to the row's mins: eight
     * blocks (a super-block) per fused multiply-add, then a lane reduction, the same in every path.
     * (A scalar sum in block order waited on the add's latency: as long as the tiles' work for the
     * same (row, token).)
     */
    static float mins(float[] s, int off, float[] xs, int xOff, int blocks) {
        FloatVector acc = FloatVector.zero(F8);
        for (int b = 0; b < blocks; b += 8) acc = FloatVector.fromArray(F8, s, off + b).fma(FloatVector.fromArray(F8, xs, xOff + b), acc);
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * The scale terms of rows {@code b0}, {@code b1} for token {@code t}, into {@code out[o]},
     * {@code out[o1]}; scales from {@code s} at {@code s0}, {@code s1}. Two rows a call: a four-row
     * method (1.4 KB of bytecode) was compiled well in a microbenchmark but, in a whole model, now
     * and then past C2's budget, boxing its vectors (137 MB a decode step).
     */
    private static void dots2(MemorySegment seg, long b0, long b1, int blocks, Int8Activations a, int t, float[] s, int s0, int s1,
                              float[] out, int o, int o1) {
        short[] q = a.q;
        float[] d = a.d;
        int x0 = t * 32 * blocks, d0 = t * blocks;
        FloatVector a0 = FloatVector.zero(F8), a1 = a0;
        // One 64-value group (two sub-blocks, blk and blk + 1) per step.
        for (int blk = 0; blk < blocks; blk += 2) {
            long g = WeightLoads.Q4K_BYTES * (blk >> 3) + 16 + 16L * (blk & 7);
            int xo = x0 + 32 * blk;
            float dx0 = d[d0 + blk], dx1 = d[d0 + blk + 1];
            ShortVector xa = ShortVector.fromArray(S16, q, xo), xb = ShortVector.fromArray(S16, q, xo + 16);
            ShortVector xc = ShortVector.fromArray(S16, q, xo + 32), xe = ShortVector.fromArray(S16, q, xo + 48);
            IntVector p;
            ShortVector l, h;

            l = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b0 + g, WeightLoads.LE).convertShape(VectorOperators.B2S, S16, 0);
            h = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b0 + g + 16, WeightLoads.LE).convertShape(VectorOperators.B2S, S16, 0);
            p = l.and((short) 15).mul(xa).add(h.and((short) 15).mul(xb)).reinterpretAsInts();
            a0 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s[s0 + blk] * dx0), a0);
            p = l.lanewise(VectorOperators.ASHR, 4).and((short) 15).mul(xc).add(h.lanewise(VectorOperators.ASHR, 4).and((short) 15).mul(xe)).reinterpretAsInts();
            a0 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s[s0 + blk + 1] * dx1), a0);

            l = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b1 + g, WeightLoads.LE).convertShape(VectorOperators.B2S, S16, 0);
            h = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b1 + g + 16, WeightLoads.LE).convertShape(VectorOperators.B2S, S16, 0);
            p = l.and((short) 15).mul(xa).add(h.and((short) 15).mul(xb)).reinterpretAsInts();
            a1 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s[s1 + blk] * dx0), a1);
            p = l.lanewise(VectorOperators.ASHR, 4).and((short) 15).mul(xc).add(h.lanewise(VectorOperators.ASHR, 4).and((short) 15).mul(xe)).reinterpretAsInts();
            a1 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s[s1 + blk + 1] * dx1), a1);
        }
        out[o] = a0.reduceLanes(VectorOperators.ADD);
        out[o1] = a1.reduceLanes(VectorOperators.ADD);
    }
}
