package dev.kvasir.kernels.cpu;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.quant.KQuant;
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
     * in-register kernels compute.
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
            case Q4_K -> KQuant.dequantizeQ4_K(seg, base, dst, dstOff, cols);
            case Q6_K -> KQuant.dequantizeQ6_K(seg, base, dst, dstOff, cols);
        }
    }
}
