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
 */
final class WeightLoads {

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8));
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfLong LONG_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
    static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    /** 2^112: rescales f16 bits shifted into f32 position (exponent bias 15 → 127), subnormals included. */
    private static final float F16_RESCALE = 0x1p112f;

    private WeightLoads() {}

    static FloatVector f32(MemorySegment seg, long byteOffset) {
        return FloatVector.fromMemorySegment(F, seg, byteOffset, LE);
    }

    /**
     * L f16 values. No vector f16 conversion in the API, so bits: widened with sign extension, the
     * half's sign lands in bit 31 after a shift by 13 and exponent and mantissa in f32 position;
     * masking the three extra sign copies leaves a float 2^-112 times the value (subnormals
     * included), and one multiply rescales it. Inf/NaN are not preserved; weights have none.
     */
    static FloatVector f16(MemorySegment seg, long byteOffset) {
        IntVector bits = (IntVector) ShortVector.fromMemorySegment(S, seg, byteOffset, LE)
                .convertShape(VectorOperators.S2I, I, 0);
        return bits.lanewise(VectorOperators.LSHL, 13).and(0x8FFFE000).reinterpretAsFloats().mul(F16_RESCALE);
    }

    static FloatVector bf16(MemorySegment seg, long byteOffset) {
        IntVector bits = (IntVector) ShortVector.fromMemorySegment(S, seg, byteOffset, LE)
                .convertShape(VectorOperators.S2I, I, 0);
        return bits.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /** L int8 quants times the block scale. */
    static FloatVector q8(MemorySegment seg, long byteOffset, FloatVector scale) {
        return ((FloatVector) ByteVector.fromMemorySegment(B, seg, byteOffset, LE)
                .convertShape(VectorOperators.B2F, F, 0)).mul(scale);
    }

    /** Low nibbles of L bytes (values j of the block), minus 8, times the scale. */
    static FloatVector q4Low(ByteVector packed, FloatVector scale) {
        return ((FloatVector) packed.and((byte) 0x0F).sub((byte) 8)
                .convertShape(VectorOperators.B2F, F, 0)).mul(scale);
    }

    /** High nibbles of L bytes (values j + 16 of the block), minus 8, times the scale. */
    static FloatVector q4High(ByteVector packed, FloatVector scale) {
        return ((FloatVector) packed.lanewise(VectorOperators.LSHR, 4).sub((byte) 8)
                .convertShape(VectorOperators.B2F, F, 0)).mul(scale);
    }

    // ---- K-quants (ggml super-blocks of 256 values; the float operations of KQuant's scalar code) ----

    /**
     * Q4_K, L low nibbles (values j of a 64-value group): {@code d1 * q - m1}, a multiply then a
     * subtract as in {@code KQuant.dequantizeQ4_K} (no fused multiply-add), so the floats are its own.
     */
    static FloatVector q4kLow(ByteVector packed, FloatVector d1, FloatVector m1) {
        return ((FloatVector) packed.and((byte) 0x0F).convertShape(VectorOperators.B2F, F, 0)).mul(d1).sub(m1);
    }

    /** Q4_K, L high nibbles (values j + 32 of a 64-value group): {@code d2 * q - m2}. */
    static FloatVector q4kHigh(ByteVector packed, FloatVector d2, FloatVector m2) {
        return ((FloatVector) packed.lanewise(VectorOperators.LSHR, 4).convertShape(VectorOperators.B2F, F, 0)).mul(d2).sub(m2);
    }

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

    /**
     * Q6_K, L values of 32-value group {@code g} (0-3) of a 128-value half: {@code ql} holds bytes
     * l of the half's low nibbles (group 0, 2: ql + l; 1, 3: ql + 32 + l, the caller picks), {@code qh}
     * bytes l of its high bits. Six bits {@code (nibble | ((qh >> 2g) & 3) << 4) - 32}, converted, times
     * {@code scale} = d * sc as one float: KQuant's {@code d * sc * q}, evaluated left to right.
     */
    static FloatVector q6k(ByteVector ql, ByteVector qh, int g, FloatVector scale) {
        ByteVector low = g < 2 ? ql.and((byte) 0x0F) : ql.lanewise(VectorOperators.LSHR, 4);
        ByteVector high = qh.lanewise(VectorOperators.LSHR, 2 * g).and((byte) 3).lanewise(VectorOperators.LSHL, 4);
        return ((FloatVector) low.or(high).sub((byte) 32).convertShape(VectorOperators.B2F, F, 0)).mul(scale);
    }

    /** Int8 scale {@code i} (0-7) of the eight a Q6_K half holds, read as one little-endian long. */
    static int q6kScale(long scales, int i) {
        return (byte) (scales >>> 8 * i);
    }

    static ByteVector bytes(MemorySegment seg, long byteOffset) {
        return ByteVector.fromMemorySegment(B, seg, byteOffset, LE);
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
        MemorySegment seg = m.data;
        long base = row * m.rowBytes;
        int cols = m.cols;
        int bound = cols - cols % L;
        switch (m.type) {
            case F32 -> MemorySegment.copy(seg, FLOAT_LE, base, dst, dstOff, cols);
            case F16 -> {
                for (int i = 0; i < bound; i += L) f16(seg, base + 2L * i).intoArray(dst, dstOff + i);
                for (int i = bound; i < cols; i++) dst[dstOff + i] = scalar(m.type, seg, base, i);
            }
            case BF16 -> {
                for (int i = 0; i < bound; i += L) bf16(seg, base + 2L * i).intoArray(dst, dstOff + i);
                for (int i = bound; i < cols; i++) dst[dstOff + i] = scalar(m.type, seg, base, i);
            }
            case Q8_0 -> {
                for (int b = 0; b < cols / 32; b++) {
                    long block = base + 34L * b;
                    FloatVector d = FloatVector.broadcast(F, scale(seg, block));
                    for (int p = 0; p < 32; p += L) q8(seg, block + 2 + p, d).intoArray(dst, dstOff + 32 * b + p);
                }
            }
            case Q4_0 -> {
                for (int b = 0; b < cols / 32; b++) {
                    long block = base + 18L * b;
                    FloatVector d = FloatVector.broadcast(F, scale(seg, block));
                    int out = dstOff + 32 * b;
                    for (int p = 0; p < 16; p += L) q4Low(bytes(seg, block + 2 + p), d).intoArray(dst, out + p);
                    for (int p = 0; p < 16; p += L) q4High(bytes(seg, block + 2 + p), d).intoArray(dst, out + 16 + p);
                }
            }
            case Q4_K -> {
                for (int b = 0; b < cols / QK_K; b++) {
                    long block = base + Q4K_BYTES * b, lo = q4kScalesLow(seg, block);
                    int hi = q4kScalesHigh(seg, block);
                    float d = scale(seg, block), dmin = scale(seg, block + 2);
                    for (int j = 0; j < 4; j++) {
                        long qs = block + 16 + 32L * j;
                        int out = dstOff + QK_K * b + 64 * j;
                        FloatVector d1 = FloatVector.broadcast(F, d * q4kScale(lo, hi, 2 * j));
                        FloatVector m1 = FloatVector.broadcast(F, dmin * q4kMin(lo, hi, 2 * j));
                        FloatVector d2 = FloatVector.broadcast(F, d * q4kScale(lo, hi, 2 * j + 1));
                        FloatVector m2 = FloatVector.broadcast(F, dmin * q4kMin(lo, hi, 2 * j + 1));
                        for (int p = 0; p < 32; p += L) {
                            ByteVector q = bytes(seg, qs + p);
                            q4kLow(q, d1, m1).intoArray(dst, out + p);
                            q4kHigh(q, d2, m2).intoArray(dst, out + 32 + p);
                        }
                    }
                }
            }
            case Q6_K -> {
                for (int b = 0; b < cols / QK_K; b++) {
                    long block = base + Q6K_BYTES * b;
                    float d = scale(seg, block + 208);
                    for (int half = 0; half < 2; half++) {
                        long ql = block + 64L * half, qh = block + 128 + 32L * half;
                        long sc = seg.get(LONG_LE, block + 192 + 8L * half);
                        int out = dstOff + QK_K * b + 128 * half;
                        for (int p = 0; p < 32; p += L) {
                            ByteVector lo = bytes(seg, ql + p), hi = bytes(seg, ql + 32 + p), h = bytes(seg, qh + p);
                            int is = p / 16;
                            q6k(lo, h, 0, FloatVector.broadcast(F, d * q6kScale(sc, is))).intoArray(dst, out + p);
                            q6k(hi, h, 1, FloatVector.broadcast(F, d * q6kScale(sc, is + 2))).intoArray(dst, out + 32 + p);
                            q6k(lo, h, 2, FloatVector.broadcast(F, d * q6kScale(sc, is + 4))).intoArray(dst, out + 64 + p);
                            q6k(hi, h, 3, FloatVector.broadcast(F, d * q6kScale(sc, is + 6))).intoArray(dst, out + 96 + p);
                        }
                    }
                }
            }
        }
    }

    static final int QK_K = 256;
    static final long Q4K_BYTES = 144, Q6K_BYTES = 210;
}
