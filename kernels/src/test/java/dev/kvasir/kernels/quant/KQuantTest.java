package dev.kvasir.kernels.quant;

import dev.kvasir.kernels.GgmlType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Hand-packed super-blocks, decoded by the layouts ggml documents in ggml-common.h. */
class KQuantTest {

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Test
    void q4kUnpacksSixBitScalesAndMinsOfAllEightSubBlocks() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment b = arena.allocate(GgmlType.Q4_K.typeSize);
            b.set(I16, 0, Quant.f32ToF16(0.5f));  // d
            b.set(I16, 2, Quant.f32ToF16(0.25f)); // dmin
            // Sub-blocks 0-3: scale j+1, min 2 (low 6 bits of bytes 0-3 and 4-7); top bits of those
            // bytes carry the high 2 bits of sub-blocks 4-7 (here 1 for the scales: +16).
            for (int j = 0; j < 4; j++) {
                b.set(ValueLayout.JAVA_BYTE, 4 + j, (byte) ((j + 1) | 0x40));
                b.set(ValueLayout.JAVA_BYTE, 8 + j, (byte) 2);
                // Sub-blocks 4-7: low nibble scale, high nibble min, from bytes 8-11 of the scales.
                b.set(ValueLayout.JAVA_BYTE, 12 + j, (byte) ((j + 5) | (3 << 4)));
            }
            for (int i = 0; i < 128; i++) b.set(ValueLayout.JAVA_BYTE, 16 + i, (byte) (3 | (7 << 4)));
            float[] y = new float[256];
            KQuant.dequantizeQ4_K(b, 0, y, 0, 256);
            for (int sub = 0; sub < 8; sub++) {
                int scale = sub < 4 ? sub + 1 : (sub + 1) + 16;
                int min = sub < 4 ? 2 : 3;
                int q = sub % 2 == 0 ? 3 : 7; // even sub-blocks are low nibbles, odd ones high
                assertEquals(0.5f * scale * q - 0.25f * min, y[sub * 32 + 5], 1e-6f, "sub-block " + sub);
            }
        }
    }

    @Test
    void q6kCombinesLowNibblesHighBitsAndSignedScales() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment b = arena.allocate(GgmlType.Q6_K.typeSize);
            for (int i = 0; i < 128; i++) b.set(ValueLayout.JAVA_BYTE, i, (byte) (0x5 | (0xA << 4))); // ql
            for (int i = 0; i < 64; i++) b.set(ValueLayout.JAVA_BYTE, 128 + i, (byte) 0b11_10_01_00); // qh: 0,1,2,3
            for (int i = 0; i < 16; i++) b.set(ValueLayout.JAVA_BYTE, 192 + i, (byte) (i % 2 == 0 ? 2 : -3));
            b.set(I16, 208, Quant.f32ToF16(0.5f));
            float[] y = new float[256];
            KQuant.dequantizeQ6_K(b, 0, y, 0, 256);
            // Value l of each 32-group g (of 128) takes the low (g 0, 1) or high (g 2, 3) nibble and qh bits 2g.
            int[] q = {(0x5 | 0 << 4) - 32, (0x5 | 1 << 4) - 32, (0xA | 2 << 4) - 32, (0xA | 3 << 4) - 32};
            for (int g = 0; g < 4; g++) {
                for (int l : new int[] {0, 20}) {
                    int scale = (l / 16 + 2 * g) % 2 == 0 ? 2 : -3;
                    assertEquals(0.5f * scale * q[g], y[g * 32 + l], 1e-6f, "group " + g + " value " + l);
                }
            }
        }
    }

    /** {@code Quant.dequantize} is what the CUDA backend calls to expand K-quant weights to f16 at load. */
    @Test
    void quantDequantizeRoutesKQuantsHere() {
        try (Arena arena = Arena.ofConfined()) {
            for (GgmlType type : new GgmlType[] {GgmlType.Q4_K, GgmlType.Q6_K}) {
                MemorySegment b = arena.allocate(type.typeSize);
                for (int i = 0; i < type.typeSize; i++) b.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 37 + 11));
                b.set(I16, type == GgmlType.Q4_K ? 0 : 208, Quant.f32ToF16(0.5f));
                float[] direct = new float[256], routed = new float[256];
                if (type == GgmlType.Q4_K) KQuant.dequantizeQ4_K(b, 0, direct, 0, 256);
                else KQuant.dequantizeQ6_K(b, 0, direct, 0, 256);
                Quant.dequantize(type, b, 0, routed, 0, 256);
                org.junit.jupiter.api.Assertions.assertArrayEquals(direct, routed, type.toString());
            }
        }
    }
}
