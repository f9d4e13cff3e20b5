package dev.kvasir.kernels.cpu;

import dev.kvasir.kernels.GgmlType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * Q8_0 weights times int8 activations ({@link Int8Activations}), llama.cpp's way: per 32-value
 * block an exact integer dot {@code sum(qw * qx)}, then {@code acc += isum * (dw * dx)} in floats.
 * For one to four tokens (decode) this streams the weights with about half the instructions of
 * dequantizing them to floats; the price is the activations' rounding (see the tests for figures).
 * Prefills go to {@link Int8Tiles}, which gets the same sums with float arithmetic.
 * <p>
 * The integer form, measured fastest on AVX2 (a harness of five forms, one row of 576 values:
 * 81 us per 1536 rows against 169 us for the float kernel): the 16 weight bytes of each half block
 * loaded and widened to shorts in one instruction ({@code vpmovsxbw ymm, m128}), multiplied by the
 * activation shorts ({@code vpmullw}), the two halves' products added ({@code vpaddw}: |sum| at
 * most 2 * 128 * 127, a short), then each pair of adjacent shorts summed into an int by shifts
 * within the 32-bit lane ({@code vpslld}, {@code vpsrad} x2, {@code vpaddd}), what {@code vpmaddwd}
 * would do in one. Widening shorts to ints with {@code convertShape(S2I, part 1)} instead crosses
 * the 128-bit halves ({@code vextracti128}) and was 1.6x slower; a 32-byte weight load split with
 * {@code convertShape(B2S, part 1)} compiles to a shuffle-and-blend sequence, 2x slower. The Vector
 * API has no multiply-add of pairs, so {@code vpmaddwd} itself is out of reach. The compiled
 * {@code q8Rows4x1} (-XX:+PrintAssembly with hsdis) is that sequence, plus {@code vcvtph2ps} for
 * the f16 block scales and {@code vcvtdq2ps}, {@code vbroadcastss}, {@code vfmadd231ps} per block.
 * <p>
 * So int lane j of a block holds the products at positions 2j, 2j+1, 2j+16, 2j+17, exactly. Every
 * (row, token) sum then runs the same float operations in the same order in these kernels and in
 * {@link Int8Tiles} (one 8-lane accumulator through the blocks in row order,
 * {@code fma(float(isum), dw * dx, acc)}, then a lane reduction): a sequence's outputs do not
 * depend on what shares its step.
 * <p>
 * As in {@link Matmul}, no method takes or returns a vector, and each kernel reads block scales
 * inline: a call to {@link WeightLoads#scale} left out-of-line in the loop spilled every vector
 * around it and halved the speed.
 */
final class Int8Dots {

    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    private static final VectorSpecies<Short> S16 = ShortVector.SPECIES_256;
    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;

    private Int8Dots() {}

    /** The weight types these kernels take (whole 32-value blocks by construction). */
    static final Set<GgmlType> TYPES = Collections.unmodifiableSet(EnumSet.of(GgmlType.Q8_0, GgmlType.Q4_0));

    /**
     * The types whose matmuls take int8 activations by default: {@code -Dkvasir.cpu.int8Dots=} true
     * (all of {@link #TYPES}), false, or a list such as {@code q8_0,q4_0}. Unset: Q8_0 where the CPU
     * has 256-bit vectors (the kernels are written for them). Not Q4_0: on smol135 its decode gained
     * 1.0-1.2x and its prefill lost 0.6x, where Q8_0's decode gains 1.5-1.8x.
     */
    static Set<GgmlType> typesByDefault() {
        String set = System.getProperty("kvasir.cpu.int8Dots");
        if (set == null) return VectorShape.preferredShape().vectorBitSize() >= 256 ? EnumSet.of(GgmlType.Q8_0) : EnumSet.noneOf(GgmlType.class);
        if (set.equalsIgnoreCase("true")) return EnumSet.copyOf(TYPES);
        EnumSet<GgmlType> types = EnumSet.noneOf(GgmlType.class);
        if (set.equalsIgnoreCase("false") || set.isBlank()) return types;
        for (String name : set.split(",")) {
            GgmlType t = GgmlType.valueOf(name.trim().toUpperCase(Locale.ROOT));
            if (!TYPES.contains(t)) throw new IllegalArgumentException("kvasir.cpu.int8Dots: no int8 kernels for " + t + " (only " + TYPES + ")");
            types.add(t);
        }
        return types;
    }

    /**
     * Rows {@code [r0, r1)} for token 0 of {@code a}, into {@code out[r]}: four rows a quarter of
     * the range apart at a time, as {@link Matmul}'s Q8_0 decode (four long sequential streams).
     */
    static void oneToken(CpuMatrix m, Int8Activations a, float[] out, int r0, int r1) {
        int quarter = (r1 - r0) / 4;
        for (int i = 0; i < quarter; i++) rows4x1(m, r0 + i, quarter, a, 0, out);
        // The last rows: each one four times over (stride 0), the copies landing in the same place.
        for (int r = r0 + 4 * quarter; r < r1; r++) rows4x1(m, r, 0, a, 0, out);
    }

    /**
     * Rows {@code [r0, r1)} for 2 to {@link Matmul#FEW_TOKENS} tokens (a small decode batch), into
     * {@code out[t * rows + r]}: each weight block read once from the file for all of them, rows in
     * blocks of {@link Matmul#ROW_BLOCK}. More tokens go to {@link Int8Tiles}.
     */
    static void fewTokens(CpuMatrix m, Int8Activations a, int n, float[] out, int r0, int r1) {
        for (int rb = r0; rb < r1; rb += Matmul.ROW_BLOCK) {
            int re = Math.min(r1, rb + Matmul.ROW_BLOCK);
            if (n == 2) {
                int quads = rb + (re - rb) / 4 * 4;
                for (int r = rb; r < quads; r += 4) rows4x2(m, r, 1, a, 0, n, out);
                for (int r = quads; r < re; r++) rows4x2(m, r, 0, a, 0, n, out);
            } else {
                int pairs = rb + (re - rb) / 2 * 2;
                for (int r = rb; r < pairs; r += 2) rows2x4(m, r, 1, a, 0, n, out);
                if (pairs < re) rows2x4(m, pairs, 0, a, 0, n, out);
            }
        }
    }

    // One kernel per weight type and tile, each with only its own loads (see Int8DotsQ4).

    private static void rows4x1(CpuMatrix m, int r, int stride, Int8Activations a, int t, float[] out) {
        if (m.type == GgmlType.Q4_0) Int8DotsQ4.rows4x1(m, r, stride, a, t, out);
        else q8Rows4x1(m, r, stride, a, t, out);
    }

    private static void rows2x4(CpuMatrix m, int r, int stride, Int8Activations a, int t, int n, float[] out) {
        if (m.type == GgmlType.Q4_0) Int8DotsQ4.rows2x4(m, r, stride, a, t, n, out);
        else q8Rows2x4(m, r, stride, a, t, n, out);
    }

    private static void rows4x2(CpuMatrix m, int r, int stride, Int8Activations a, int t, int n, float[] out) {
        if (m.type == GgmlType.Q4_0) Int8DotsQ4.rows4x2(m, r, stride, a, t, n, out);
        else q8Rows4x2(m, r, stride, a, t, n, out);
    }

    /** Rows {@code r + k * stride} (k = 0..3) for token {@code t}. */
    private static void q8Rows4x1(CpuMatrix m, int r, int stride, Int8Activations a, int t, float[] out) {
        MemorySegment seg = m.data;
        short[] q = a.q;
        float[] d = a.d;
        int cols = m.cols, blocks = cols / 32, rows = m.rows;
        long step = stride * m.rowBytes;
        long b0 = r * m.rowBytes, b1 = b0 + step, b2 = b1 + step, b3 = b2 + step;
        int x0 = t * cols, d0 = t * blocks;
        FloatVector a00 = FloatVector.zero(F8), a10 = a00, a20 = a00, a30 = a00;
        for (int blk = 0; blk < blocks; blk++) {
            long off = 34L * blk;
            int xo = 32 * blk;
            IntVector p;
            ShortVector xlo = ShortVector.fromArray(S16, q, x0 + xo), xhi = ShortVector.fromArray(S16, q, x0 + xo + 16);
            float s0 = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, b0 + off));
            ShortVector w0lo = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b0 + off + 2, WeightLoads.LE)
                    .convertShape(VectorOperators.B2S, S16, 0);
            ShortVector w0hi = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b0 + off + 18, WeightLoads.LE)
                    .convertShape(VectorOperators.B2S, S16, 0);
            p = w0lo.mul(xlo).add(w0hi.mul(xhi)).reinterpretAsInts();
            a00 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s0 * d[d0 + blk]), a00);
            float s1 = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, b1 + off));
            ShortVector w1lo = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b1 + off + 2, WeightLoads.LE)
                    .convertShape(VectorOperators.B2S, S16, 0);
            ShortVector w1hi = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b1 + off + 18, WeightLoads.LE)
                    .convertShape(VectorOperators.B2S, S16, 0);
            p = w1lo.mul(xlo).add(w1hi.mul(xhi)).reinterpretAsInts();
            a10 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s1 * d[d0 + blk]), a10);
            float s2 = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, b2 + off));
            ShortVector w2lo = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b2 + off + 2, WeightLoads.LE)
                    .convertShape(VectorOperators.B2S, S16, 0);
            ShortVector w2hi = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b2 + off + 18, WeightLoads.LE)
                    .convertShape(VectorOperators.B2S, S16, 0);
            p = w2lo.mul(xlo).add(w2hi.mul(xhi)).reinterpretAsInts();
            a20 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s2 * d[d0 + blk]), a20);
            float s3 = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, b3 + off));
            ShortVector w3lo = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b3 + off + 2, WeightLoads.LE)
                    .convertShape(VectorOperators.B2S, S16, 0);
            ShortVector w3hi = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b3 + off + 18, WeightLoads.LE)
                    .convertShape(VectorOperators.B2S, S16, 0);
            p = w3lo.mul(xlo).add(w3hi.mul(xhi)).reinterpretAsInts();
            a30 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s3 * d[d0 + blk]), a30);
        }
        out[t * rows + r] = a00.reduceLanes(VectorOperators.ADD);
        out[t * rows + r + stride] = a10.reduceLanes(VectorOperators.ADD);
        out[t * rows + r + 2 * stride] = a20.reduceLanes(VectorOperators.ADD);
        out[t * rows + r + 3 * stride] = a30.reduceLanes(VectorOperators.ADD);
    }

    /**
     * Rows {@code r}, {@code r + stride} for tokens {@code t .. t + 3}: eight accumulators, which with
     * the four weight vectors stay in AVX2's sixteen registers (a 4x4 tile spilled and ran 100x slower).
     */
    private static void q8Rows2x4(CpuMatrix m, int r, int stride, Int8Activations a, int t, int n, float[] out) {
        MemorySegment seg = m.data;
        short[] q = a.q;
        float[] d = a.d;
        int cols = m.cols, blocks = cols / 32, rows = m.rows;
        long step = stride * m.rowBytes;
        long b0 = r * m.rowBytes, b1 = b0 + step;
        // Tokens past n repeat the last one; their sums are computed and dropped.
        int t0 = Math.min(t, n - 1), t1 = Math.min(t + 1, n - 1), t2 = Math.min(t + 2, n - 1), t3 = Math.min(t + 3, n - 1);
        int x0 = t0 * cols, d0 = t0 * blocks, x1 = t1 * cols, d1 = t1 * blocks, x2 = t2 * cols, d2 = t2 * blocks, x3 = t3 * cols, d3 = t3 * blocks;
        FloatVector a00 = FloatVector.zero(F8), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        for (int blk = 0; blk < blocks; blk++) {
            long off = 34L * blk;
            int xo = 32 * blk;
            IntVector p;
            float s0 = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, b0 + off));
            ShortVector w0lo = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b0 + off + 2, WeightLoads.LE)
                    .convertShape(VectorOperators.B2S, S16, 0);
            ShortVector w0hi = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b0 + off + 18, WeightLoads.LE)
                    .convertShape(VectorOperators.B2S, S16, 0);
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
            ShortVector w1lo = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b1 + off + 2, WeightLoads.LE)
                    .convertShape(VectorOperators.B2S, S16, 0);
            ShortVector w1hi = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b1 + off + 18, WeightLoads.LE)
                    .convertShape(VectorOperators.B2S, S16, 0);
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
    private static void q8Rows4x2(CpuMatrix m, int r, int stride, Int8Activations a, int t, int n, float[] out) {
        MemorySegment seg = m.data;
        short[] q = a.q;
        float[] d = a.d;
        int cols = m.cols, blocks = cols / 32, rows = m.rows;
        long step = stride * m.rowBytes;
        long b0 = r * m.rowBytes, b1 = b0 + step, b2 = b1 + step, b3 = b2 + step;
        // Tokens past n repeat the last one; their sums are computed and dropped.
        int t0 = Math.min(t, n - 1), t1 = Math.min(t + 1, n - 1);
        int x0 = t0 * cols, d0 = t0 * blocks, x1 = t1 * cols, d1 = t1 * blocks;
        FloatVector a00 = FloatVector.zero(F8), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        for (int blk = 0; blk < blocks; blk++) {
            long off = 34L * blk;
            int xo = 32 * blk;
            IntVector p;
            float s0 = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, b0 + off));
            ShortVector w0lo = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b0 + off + 2, WeightLoads.LE)
                    .convertShape(VectorOperators.B2S, S16, 0);
            ShortVector w0hi = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b0 + off + 18, WeightLoads.LE)
                    .convertShape(VectorOperators.B2S, S16, 0);
            p = w0lo.mul(ShortVector.fromArray(S16, q, x0 + xo)).add(w0hi.mul(ShortVector.fromArray(S16, q, x0 + xo + 16))).reinterpretAsInts();
            a00 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s0 * d[d0 + blk]), a00);
            p = w0lo.mul(ShortVector.fromArray(S16, q, x1 + xo)).add(w0hi.mul(ShortVector.fromArray(S16, q, x1 + xo + 16))).reinterpretAsInts();
            a01 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s0 * d[d1 + blk]), a01);
            float s1 = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, b1 + off));
            ShortVector w1lo = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b1 + off + 2, WeightLoads.LE)
                    .convertShape(VectorOperators.B2S, S16, 0);
            ShortVector w1hi = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b1 + off + 18, WeightLoads.LE)
                    .convertShape(VectorOperators.B2S, S16, 0);
            p = w1lo.mul(ShortVector.fromArray(S16, q, x0 + xo)).add(w1hi.mul(ShortVector.fromArray(S16, q, x0 + xo + 16))).reinterpretAsInts();
            a10 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s1 * d[d0 + blk]), a10);
            p = w1lo.mul(ShortVector.fromArray(S16, q, x1 + xo)).add(w1hi.mul(ShortVector.fromArray(S16, q, x1 + xo + 16))).reinterpretAsInts();
            a11 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s1 * d[d1 + blk]), a11);
            float s2 = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, b2 + off));
            ShortVector w2lo = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b2 + off + 2, WeightLoads.LE)
                    .convertShape(VectorOperators.B2S, S16, 0);
            ShortVector w2hi = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b2 + off + 18, WeightLoads.LE)
                    .convertShape(VectorOperators.B2S, S16, 0);
            p = w2lo.mul(ShortVector.fromArray(S16, q, x0 + xo)).add(w2hi.mul(ShortVector.fromArray(S16, q, x0 + xo + 16))).reinterpretAsInts();
            a20 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s2 * d[d0 + blk]), a20);
            p = w2lo.mul(ShortVector.fromArray(S16, q, x1 + xo)).add(w2hi.mul(ShortVector.fromArray(S16, q, x1 + xo + 16))).reinterpretAsInts();
            a21 = ((FloatVector) p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(p.lanewise(VectorOperators.ASHR, 16))
                    .convertShape(VectorOperators.I2F, F8, 0)).fma(FloatVector.broadcast(F8, s2 * d[d1 + blk]), a21);
            float s3 = Float.float16ToFloat(seg.get(WeightLoads.SHORT_LE, b3 + off));
            ShortVector w3lo = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b3 + off + 2, WeightLoads.LE)
                    .convertShape(VectorOperators.B2S, S16, 0);
            ShortVector w3hi = (ShortVector) ByteVector.fromMemorySegment(B16, seg, b3 + off + 18, WeightLoads.LE)
                    .convertShape(VectorOperators.B2S, S16, 0);
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
