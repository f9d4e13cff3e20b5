package dev.kvasir.models;

import dev.kvasir.kernels.GgmlType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

/**
 * Random Q4_K and Q6_K super-blocks whose values spread about {@code std}: every nibble, high bit
 * and 6-bit scale/min random, the f16 scales chosen so that the dequantized values have roughly
 * that standard deviation (Kvasir cannot quantize to K-quants; llama.cpp's files are made so).
 */
final class KQuantBlocks {

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private KQuantBlocks() {}

    static void fill(GgmlType type, MemorySegment data, float std, Random r) {
        byte[] bytes = new byte[type.typeSize];
        for (long at = 0; at < data.byteSize(); at += type.typeSize) {
            r.nextBytes(bytes);
            MemorySegment.copy(bytes, 0, data, ValueLayout.JAVA_BYTE, at, bytes.length);
            if (type == GgmlType.Q4_K) {
                // y = d*sc*q - dmin*m with q in 0..15, sc and m in 0..63: dmin = 7.5 d centres it.
                float d = std / (32f * 4.6f);
                data.set(I16, at, Float.floatToFloat16(d));
                data.set(I16, at + 2, Float.floatToFloat16(7.5f * d));
            } else if (type == GgmlType.Q6_K) {
                // y = d*sc*(q - 32) with q in 0..63 and sc a random int8.
                data.set(I16, at + 208, Float.floatToFloat16(std / (74f * 18.5f)));
            } else {
                throw new IllegalArgumentException(type + " is not a K-quant");
            }
        }
    }
}
