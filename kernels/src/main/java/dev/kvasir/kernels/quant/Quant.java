package dev.kvasir.kernels.quant;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.WeightTensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Reference (scalar) conversions between f32 and the stored weight types, bit-exact with ggml's
 * {@code quantize_row_*_ref} / {@code dequantize_row_*} (K-quants: read only, through {@link KQuant}). Writers and tests use these; fast kernels
 * are checked against them.
 *
 * <p>Block formats (little-endian): Q8_0 = f16 scale d, then 32 int8 q; x = d·q. Q4_0 = f16 scale d,
 * then 16 bytes whose low nibbles hold elements 0..15 and high nibbles elements 16..31; x = d·(q − 8).
 */
public final class Quant {

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final int QK = 32;

    private Quant() {}

    /** IEEE half precision, rounding to nearest even (as the F16C instructions ggml uses). */
    public static short f32ToF16(float x) {
        return Float.floatToFloat16(x);
    }

    public static float f16ToF32(short h) {
        return Float.float16ToFloat(h);
    }

    /** bfloat16 with round-to-nearest-even; NaN stays a quiet NaN (ggml_compute_fp32_to_bf16). */
    public static short f32ToBf16(float x) {
        int u = Float.floatToRawIntBits(x);
        if ((u & 0x7fffffff) > 0x7f800000) return (short) ((u >>> 16) | 64);
        return (short) ((u + (0x7fff + ((u >>> 16) & 1))) >>> 16);
    }

    public static float bf16ToF32(short b) {
        return Float.intBitsToFloat((b & 0xffff) << 16);
    }

    /** C's roundf: halves away from zero (Math.round rounds -2.5 to -2; roundf gives -3). */
    private static int roundf(float v) {
        double r = Math.floor(Math.abs((double) v) + 0.5);
        return (int) (v < 0 ? -r : r);
    }

    /** Writes {@code n} values of {@code src} from {@code srcOffset} to {@code dst} at byte {@code dstOffset} as {@code type}. */
    public static void quantize(GgmlType type, float[] src, int srcOffset, int n, MemorySegment dst, long dstOffset) {
        requireBlocks(type, n);
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) dst.set(F32, dstOffset + 4L * i, src[srcOffset + i]);
            }
            case F16 -> {
                for (int i = 0; i < n; i++) dst.set(I16, dstOffset + 2L * i, f32ToF16(src[srcOffset + i]));
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) dst.set(I16, dstOffset + 2L * i, f32ToBf16(src[srcOffset + i]));
            }
            case Q8_0 -> {
                for (int b = 0; b < n / QK; b++) quantizeBlockQ8_0(src, srcOffset + b * QK, dst, dstOffset + (long) b * type.typeSize);
            }
            case Q4_0 -> {
                for (int b = 0; b < n / QK; b++) quantizeBlockQ4_0(src, srcOffset + b * QK, dst, dstOffset + (long) b * type.typeSize);
            }
            case Q4_K, Q6_K -> throw new UnsupportedOperationException("cannot quantize to " + type
                    + ": Kvasir writes F32, F16, BF16, Q8_0 and Q4_0 (K-quants are read only)");
        }
    }

    /** ggml quantize_row_q8_0_ref for one block: d = amax/127, q = roundf(x/d). */
    private static void quantizeBlockQ8_0(float[] x, int off, MemorySegment dst, long at) {
        float amax = 0;
        for (int j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[off + j]));
        float d = amax / 127f;
        float id = d != 0 ? 1f / d : 0f;
        dst.set(I16, at, f32ToF16(d));
        for (int j = 0; j < QK; j++) {
            dst.set(ValueLayout.JAVA_BYTE, at + 2 + j, (byte) roundf(x[off + j] * id));
        }
    }

    /** ggml quantize_row_q4_0_ref for one block: d = max/-8 (max = the signed value of largest magnitude). */
    private static void quantizeBlockQ4_0(float[] x, int off, MemorySegment dst, long at) {
        float amax = 0, max = 0;
        for (int j = 0; j < QK; j++) {
            float v = x[off + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        float d = max / -8f;
        float id = d != 0 ? 1f / d : 0f;
        dst.set(I16, at, f32ToF16(d));
        for (int j = 0; j < QK / 2; j++) {
            float x0 = x[off + j] * id;
            float x1 = x[off + QK / 2 + j] * id;
            // (int8_t) truncates toward zero, as in ggml; the values are >= 0.5 here.
            int q0 = Math.min(15, (byte) (int) (x0 + 8.5f));
            int q1 = Math.min(15, (byte) (int) (x1 + 8.5f));
            dst.set(ValueLayout.JAVA_BYTE, at + 2 + j, (byte) (q0 | (q1 << 4)));
        }
    }

    /** Reads {@code n} values of {@code type} from {@code src} at byte {@code srcOffset} into {@code dst}. */
    public static void dequantize(GgmlType type, MemorySegment src, long srcOffset, float[] dst, int dstOffset, int n) {
        requireBlocks(type, n);
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) dst[dstOffset + i] = src.get(F32, srcOffset + 4L * i);
            }
            case F16 -> {
                for (int i = 0; i < n; i++) dst[dstOffset + i] = f16ToF32(src.get(I16, srcOffset + 2L * i));
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) dst[dstOffset + i] = bf16ToF32(src.get(I16, srcOffset + 2L * i));
            }
            case Q8_0 -> {
                for (int b = 0; b < n / QK; b++) {
                    long at = srcOffset + (long) b * type.typeSize;
                    float d = f16ToF32(src.get(I16, at));
                    for (int j = 0; j < QK; j++) {
                        dst[dstOffset + b * QK + j] = d * src.get(ValueLayout.JAVA_BYTE, at + 2 + j);
                    }
                }
            }
            case Q4_0 -> {
                for (int b = 0; b < n / QK; b++) {
                    long at = srcOffset + (long) b * type.typeSize;
                    float d = f16ToF32(src.get(I16, at));
                    int base = dstOffset + b * QK;
                    for (int j = 0; j < QK / 2; j++) {
                        int q = src.get(ValueLayout.JAVA_BYTE, at + 2 + j) & 0xff;
                        dst[base + j] = d * ((q & 0x0f) - 8);
                        dst[base + QK / 2 + j] = d * ((q >>> 4) - 8);
                    }
                }
            }
            case Q4_K -> KQuant.dequantizeQ4_K(src, srcOffset, dst, dstOffset, n);
            case Q6_K -> KQuant.dequantizeQ6_K(src, srcOffset, dst, dstOffset, n);
        }
    }

    /** All values of a tensor as f32 (tests and small tensors: allocates the whole tensor). */
    public static float[] dequantize(WeightTensor t) {
        float[] out = new float[Math.toIntExact(t.elements())];
        dequantize(t.type(), t.data(), 0, out, 0, out.length);
        return out;
    }

    static void requireBlocks(GgmlType type, int n) {
        if (n % type.blockSize != 0) {
            throw new IllegalArgumentException(type + " needs a multiple of " + type.blockSize + " values, got " + n);
        }
    }
}
