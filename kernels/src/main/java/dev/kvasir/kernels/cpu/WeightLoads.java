package dev.kvasir.kernels.cpu;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.quant.Quant;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Turning stored weights into float vectors in registers, one method per storage type. Both matmul
 * paths use these, so a value dequantizes to the same float whether a row is dotted straight from
 * the file (one token) or first expanded into scratch (many tokens): results do not depend on how
 * a step is batched.
 * <p>
 * <b>No method of ours takes or returns a vector</b>: every kernel writes its Vector API calls
 * out. C2 stops inlining our methods inside a method that has grown large
 * (NodeCountInliningCutoff: a few dozen vector operations are enough) and never inlines one that
 * it has already compiled on its own into a big method (which happens when C1-compiled warm-up
 * code calls it for real); a vector that crosses such a call is boxed on the heap. That is how a
 * Q4_K_M decode step came to allocate 216 MB. The Vector API's own methods are force-inlined, so
 * spelled-out expressions stay in registers. {@code DecodeAllocationTest} fails when a kernel
 * boxes again. The expressions (the same in {@link Matmul}) are:
 * <ul>
 * <li>f16: the 16-bit values widened to ints with sign extension, shifted left 13 (the half's
 *     sign lands in bit 31, exponent and mantissa in f32 position), the three extra sign copies
 *     masked off ({@code 0x8FFFE000}), leaving a float 2^-112 times the value (subnormals
 *     included), times 2^112. Inf/NaN are not preserved; weights have none.</li>
 * <li>bf16: widened, shifted left 16.</li>
 * <li>Q8_0: bytes to floats, times the block scale. Q4_0: low nibbles (values j) or high nibbles
 *     (j + 16), minus 8, to floats, times the scale.</li>
 * <li>Q4_K: {@code d1 * q - m1}, a multiply then a subtract as in {@code KQuant.dequantizeQ4_K}
 *     (no fused multiply-add), so the floats are its own.</li>
 * <li>Q6_K: {@code (nibble | ((qh >> 2g) & 3) << 4) - 32} for group g (0-3) of a 128-value half
 *     (low nibbles of ql for groups 0 and 1, high for 2 and 3), to floats, times d * sc as one
 *     float: KQuant's {@code d * sc * q} evaluated left to right.</li>
 * </ul>
 */
final class WeightLoads {

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8));
    /** 32 packed bytes in one load: a Q4_K 64-value group, or a 32-byte run of a Q6_K half. */
    static final VectorSpecies<Byte> B32 = ByteVector.SPECIES_256;
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    /** 2^112: rescales f16 bits shifted into f32 position (exponent bias 15 → 127), subnormals included. */
    static final float F16_RESCALE = 0x1p112f;

    private WeightLoads() {}

    // ---- K-quant scales (ggml super-blocks of 256 values) ----

    /** Bytes 0-7 of a Q4_K super-block's 12 scale bytes (at the block + 4), little-endian: see {@link #q4kScale}. */
    static long q4kScalesLow(MemorySegment seg, long block) {
        return seg.get(LONG_LE, block + 4);
    }

    /** Bytes 8-11 of the scale bytes. */
    static int q4kScalesHigh(MemorySegment seg, long block) {
        return seg.get(INT_LE, block + 12);
    }

    /**
     * ggml {@code get_scale_min_k4}, the 6-bit scale of Q4_K sub-block {@code j} (0-7) from the
     * scale bytes read as a long ({@code lo}, bytes 0-7) and an int ({@code hi}, bytes 8-11), two
     * loads a super-block: sub-blocks 0-3 are the low 6 bits of bytes 0-3; 4-7 the low nibble of
     * bytes 8-11 with the top 2 bits of bytes 0-3 above it. The same ints as KQuant's byte reads.
     */
    static int q4kScale(long lo, int hi, int j) {
        return j < 4 ? (int) (lo >>> 8 * j) & 63
                : (hi >>> 8 * (j - 4)) & 0x0F | ((int) (lo >>> 8 * (j - 4) + 6) & 3) << 4;
    }

    /** The 6-bit min of sub-block {@code j}: low 6 bits of bytes 4-7; for 4-7 the high nibble of bytes 8-11 and the top bits of bytes 4-7. */
    static int q4kMin(long lo, int hi, int j) {
        return j < 4 ? (int) (lo >>> 8 * (j + 4)) & 63
                : (hi >>> 8 * (j - 4) + 4) & 0x0F | ((int) (lo >>> 8 * j + 6) & 3) << 4;
    }

    /** Int8 scale {@code i} (0-7) of the eight a Q6_K half holds, read as one little-endian long. */
    static int q6kScale(long scales, int i) {
        return (byte) (scales >>> 8 * i);
    }

    static float scale(MemorySegment seg, long byteOffset) {
        return Float.float16ToFloat(seg.get(SHORT_LE, byteOffset));
    }

    /** Scalar weight {@code i} of a row of an elementwise type (vector tails). */
    static float scalar(GgmlType type, MemorySegment seg, long rowBase, int i) {
        return switch (type) {
            case F32 -> seg.get(FLOAT_LE, rowBase + 4L * i);
            case F16 -> Float.float16ToFloat(seg.get(SHORT_LE, rowBase + 2L * i));
            case BF16 -> Quant.bf16ToF32(seg.get(SHORT_LE, rowBase + 2L * i));
            default -> throw new IllegalStateException(type + " rows have no tails");
        };
    }

    /**
     * Row {@code row} of {@code m} into {@code dst[dstOff .. + cols]}, with exactly the floats the
     * in-register kernels compute. K-quant rows (whole super-blocks: {@link CpuMatrix} checks) give
     * the floats of {@code KQuant}'s scalar dequantization, bit for bit.
     */
    static void dequantizeRow(CpuMatrix m, int row, float[] dst, int dstOff) {
        // One small method per type: a single method with every type's loop grew past C2's inlining
        // budget (NodeCountInliningCutoff) once several types had run through it, its vector helpers
        // stopped inlining, and every vector they returned was boxed on the heap (megabytes a step).
        MemorySegment seg = m.data;
        long base = row * m.rowBytes;
        switch (m.type) {
            case F32 -> MemorySegment.copy(seg, FLOAT_LE, base, dst, dstOff, m.cols);
            case F16, BF16 -> halfRow(m.type, seg, base, m.cols, dst, dstOff);
            case Q8_0 -> q8Row(seg, base, m.cols, dst, dstOff);
            case Q4_0 -> q4Row(seg, base, m.cols, dst, dstOff);
            case Q4_K -> q4kRow(seg, base, m.cols, dst, dstOff);
            case Q6_K -> q6kRow(seg, base, m.cols, dst, dstOff);
        }
    }

    private static void halfRow(GgmlType type, MemorySegment seg, long base, int cols, float[] dst, int dstOff) {
        int bound = cols - cols % L;
        if (type == GgmlType.F16) {
            for (int i = 0; i < bound; i += L) {
                ((IntVector) ShortVector.fromMemorySegment(S, seg, base + 2L * i, LE).convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8FFFE000).reinterpretAsFloats().mul(F16_RESCALE)
                        .intoArray(dst, dstOff + i);
            }
        } else {
            for (int i = 0; i < bound; i += L) {
                ((IntVector) ShortVector.fromMemorySegment(S, seg, base + 2L * i, LE).convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, dstOff + i);
            }
        }
        for (int i = bound; i < cols; i++) dst[dstOff + i] = scalar(type, seg, base, i);
    }

    private static void q8Row(MemorySegment seg, long base, int cols, float[] dst, int dstOff) {
        for (int b = 0; b < cols / 32; b++) {
            long block = base + 34L * b;
            FloatVector d = FloatVector.broadcast(F, scale(seg, block));
            for (int p = 0; p < 32; p += L) {
                ((FloatVector) ByteVector.fromMemorySegment(B, seg, block + 2 + p, LE).convertShape(VectorOperators.B2F, F, 0))
                        .mul(d).intoArray(dst, dstOff + 32 * b + p);
            }
        }
    }

    private static void q4Row(MemorySegment seg, long base, int cols, float[] dst, int dstOff) {
        for (int b = 0; b < cols / 32; b++) {
            long block = base + 18L * b;
            FloatVector d = FloatVector.broadcast(F, scale(seg, block));
            int out = dstOff + 32 * b;
            for (int p = 0; p < 16; p += L) {
                ByteVector q = ByteVector.fromMemorySegment(B, seg, block + 2 + p, LE);
                ((FloatVector) q.and((byte) 0x0F).sub((byte) 8).convertShape(VectorOperators.B2F, F, 0)).mul(d).intoArray(dst, out + p);
                ((FloatVector) q.lanewise(VectorOperators.LSHR, 4).sub((byte) 8).convertShape(VectorOperators.B2F, F, 0)).mul(d)
                        .intoArray(dst, out + 16 + p);
            }
        }
    }

    // The K-quant rows load 32 bytes at a time (B32) and convert them part by part, as the four-row
    // kernels in Matmul do: one byte species for all K-quant code keeps C2's type profiles of the
    // Vector API's shared methods exact (mixing species there let vectors escape to the heap).

    private static void q4kRow(MemorySegment seg, long base, int cols, float[] dst, int dstOff) {
        for (int b = 0; b < cols / QK_K; b++) {
            long block = base + Q4K_BYTES * b, lo = q4kScalesLow(seg, block);
            int hi = q4kScalesHigh(seg, block);
            float d = scale(seg, block), dmin = scale(seg, block + 2);
            for (int j = 0; j < 4; j++) {
                int out = dstOff + QK_K * b + 64 * j;
                FloatVector d1 = FloatVector.broadcast(F, d * q4kScale(lo, hi, 2 * j));
                FloatVector m1 = FloatVector.broadcast(F, dmin * q4kMin(lo, hi, 2 * j));
                FloatVector d2 = FloatVector.broadcast(F, d * q4kScale(lo, hi, 2 * j + 1));
                FloatVector m2 = FloatVector.broadcast(F, dmin * q4kMin(lo, hi, 2 * j + 1));
                ByteVector q = ByteVector.fromMemorySegment(B32, seg, block + 16 + 32L * j, LE);
                ByteVector low = q.and((byte) 0x0F), high = q.lanewise(VectorOperators.LSHR, 4);
                for (int p = 0; p < 32; p += L) {
                    int part = p / L;
                    ((FloatVector) low.convertShape(VectorOperators.B2F, F, part)).mul(d1).sub(m1).intoArray(dst, out + p);
                    ((FloatVector) high.convertShape(VectorOperators.B2F, F, part)).mul(d2).sub(m2).intoArray(dst, out + 32 + p);
                }
            }
        }
    }

    private static void q6kRow(MemorySegment seg, long base, int cols, float[] dst, int dstOff) {
        for (int b = 0; b < cols / QK_K; b++) {
            long block = base + Q6K_BYTES * b;
            float d = scale(seg, block + 208);
            for (int half = 0; half < 2; half++) {
                long ql = block + 64L * half, qh = block + 128 + 32L * half;
                long sc = seg.get(LONG_LE, block + 192 + 8L * half);
                int out = dstOff + QK_K * b + 128 * half;
                ByteVector lo = ByteVector.fromMemorySegment(B32, seg, ql, LE), hi = ByteVector.fromMemorySegment(B32, seg, ql + 32, LE);
                ByteVector h = ByteVector.fromMemorySegment(B32, seg, qh, LE);
                ByteVector q0 = lo.and((byte) 0x0F).or(h.and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32);
                ByteVector q1 = hi.and((byte) 0x0F).or(h.lanewise(VectorOperators.LSHR, 2).and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32);
                ByteVector q2 = lo.lanewise(VectorOperators.LSHR, 4).or(h.lanewise(VectorOperators.LSHR, 4).and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32);
                ByteVector q3 = hi.lanewise(VectorOperators.LSHR, 4).or(h.lanewise(VectorOperators.LSHR, 6).and((byte) 3).lanewise(VectorOperators.LSHL, 4)).sub((byte) 32);
                for (int p = 0; p < 32; p += L) {
                    int part = p / L, is = p / 16;
                    ((FloatVector) q0.convertShape(VectorOperators.B2F, F, part)).mul(d * q6kScale(sc, is)).intoArray(dst, out + p);
                    ((FloatVector) q1.convertShape(VectorOperators.B2F, F, part)).mul(d * q6kScale(sc, is + 2)).intoArray(dst, out + 32 + p);
                    ((FloatVector) q2.convertShape(VectorOperators.B2F, F, part)).mul(d * q6kScale(sc, is + 4)).intoArray(dst, out + 64 + p);
                    ((FloatVector) q3.convertShape(VectorOperators.B2F, F, part)).mul(d * q6kScale(sc, is + 6)).intoArray(dst, out + 96 + p);
                }
            }
        }
    }

    static final int QK_K = 256;
    static final long Q4K_BYTES = 144, Q6K_BYTES = 210;
}
