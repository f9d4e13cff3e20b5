package dev.kvasir.kernels.quant;

import dev.kvasir.kernels.GgmlType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Dequantization of ggml's K-quant super-blocks (256 values), as {@code dequantize_row_q4_K} and
 * {@code dequantize_row_q6_K}. The CPU backend expands such rows into float scratch before its
 * dot products; files quantized by llama.cpp mix these with Q8_0/Q4_0.
 */
public final class KQuant {

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int QK_K = 256;

    private KQuant() {}

    /**
     * Q4_K, 144 bytes: f16 d, f16 dmin, 12 bytes packing eight 6-bit (scale, min) pairs, 128 bytes
     * of nibbles. Each 64 values use two pairs: {@code y = d*scale*q - dmin*min}; the low nibbles of
     * 32 bytes are the first 32 values, their high nibbles the next 32.
     */
    public static void dequantizeQ4_K(MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        Quant.requireBlocks(GgmlType.Q4_K, n);
        for (int b = 0; b < n / QK_K; b++) {
            long block = srcOff + (long) b * GgmlType.Q4_K.typeSize;
            float d = Quant.f16ToF32(src.get(I16, block));
            float dmin = Quant.f16ToF32(src.get(I16, block + 2));
            long scales = block + 4;
            long qs = block + 16;
            int out = dstOff + b * QK_K;
            for (int j = 0, sub = 0; j < QK_K; j += 64, sub += 2, qs += 32) {
                float d1 = d * scale(src, scales, sub), m1 = dmin * min(src, scales, sub);
                float d2 = d * scale(src, scales, sub + 1), m2 = dmin * min(src, scales, sub + 1);
                for (int l = 0; l < 32; l++) {
                    int q = u8(src, qs + l);
                    dst[out + j + l] = d1 * (q & 0x0F) - m1;
                    dst[out + j + l + 32] = d2 * (q >>> 4) - m2;
                }
            }
        }
    }

    /** ggml {@code get_scale_min_k4}: pairs 0-3 in the low 6 bits of bytes 0-7; 4-7 split over bytes 8-11 and the top bits. */
    private static int scale(MemorySegment src, long scales, int j) {
        return j < 4 ? u8(src, scales + j) & 63
                : (u8(src, scales + j + 4) & 0x0F) | ((u8(src, scales + j - 4) >>> 6) << 4);
    }

    private static int min(MemorySegment src, long scales, int j) {
        return j < 4 ? u8(src, scales + j + 4) & 63
                : (u8(src, scales + j + 4) >>> 4) | ((u8(src, scales + j) >>> 6) << 4);
    }

    /**
     * Q6_K, 210 bytes: 128 bytes of low nibbles, 64 bytes of 2-bit high parts, 16 int8 scales (one
     * per 16 values), f16 d; {@code y = d * scale * (q - 32)} with q six bits.
     */
    public static void dequantizeQ6_K(MemorySegment src, long srcOff, float[] dst, int dstOff, int n) {
        Quant.requireBlocks(GgmlType.Q6_K, n);
        for (int b = 0; b < n / QK_K; b++) {
            long block = srcOff + (long) b * GgmlType.Q6_K.typeSize;
            long ql = block, qh = block + 128, sc = block + 192;
            float d = Quant.f16ToF32(src.get(I16, block + 208));
            int out = dstOff + b * QK_K;
            for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, out += 128) {
                for (int l = 0; l < 32; l++) {
                    int is = l / 16;
                    int h = u8(src, qh + l);
                    int q1 = ((u8(src, ql + l) & 0x0F) | ((h & 3) << 4)) - 32;
                    int q2 = ((u8(src, ql + l + 32) & 0x0F) | (((h >>> 2) & 3) << 4)) - 32;
                    int q3 = ((u8(src, ql + l) >>> 4) | (((h >>> 4) & 3) << 4)) - 32;
                    int q4 = ((u8(src, ql + l + 32) >>> 4) | (((h >>> 6) & 3) << 4)) - 32;
                    dst[out + l] = d * s8(src, sc + is) * q1;
                    dst[out + l + 32] = d * s8(src, sc + is + 2) * q2;
                    dst[out + l + 64] = d * s8(src, sc + is + 4) * q3;
                    dst[out + l + 96] = d * s8(src, sc + is + 6) * q4;
                }
            }
        }
    }

    private static int u8(MemorySegment src, long offset) {
        return src.get(ValueLayout.JAVA_BYTE, offset) & 0xFF;
    }

    private static int s8(MemorySegment src, long offset) {
        return src.get(ValueLayout.JAVA_BYTE, offset);
    }
}
