package dev.kvasir.models.loader;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.WeightTensor;
import dev.kvasir.kernels.quant.Quant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class GgufWriterTest {

    @TempDir
    Path dir;

    @Test
    void metadataOfEveryTypeRoundTrips() {
        Path file = dir.resolve("meta.gguf");
        new GgufWriter()
                .put("u8", GgufValueType.UINT8, 200)
                .put("i8", GgufValueType.INT8, -100)
                .put("u16", GgufValueType.UINT16, 60000)
                .put("i16", GgufValueType.INT16, -30000)
                .put("u32", GgufValueType.UINT32, 4294967295L)
                .put("i32", GgufValueType.INT32, -7)
                .put("u64", GgufValueType.UINT64, 1L << 40)
                .put("i64", -5L)
                .put("f32", 0.25f)
                .put("f64", 1e-300)
                .put("bool", true)
                .put("string", "héllo ▁ 🎉")
                .put("strings", new String[] {"a", "", "<|im_end|>"})
                .put("floats", new float[] {1.5f, -2f})
                .put("ints", new int[] {1, -2, 3})
                .putArray("u8s", GgufValueType.UINT8, new int[] {255, 0})
                .putArray("u32s", GgufValueType.UINT32, new int[] {-1})
                .put("longs", new long[] {Long.MIN_VALUE})
                .put("doubles", new double[] {Math.PI})
                .put("bools", new boolean[] {true, false})
                .write(file);
        try (GgufFile gguf = GgufFile.open(file)) {
            Map<String, Object> md = gguf.metadata();
            assertEquals(200L, md.get("u8"));
            assertEquals(-100L, md.get("i8"));
            assertEquals(60000L, md.get("u16"));
            assertEquals(-30000L, md.get("i16"));
            assertEquals(4294967295L, md.get("u32"));
            assertEquals(-7L, md.get("i32"));
            assertEquals(1L << 40, md.get("u64"));
            assertEquals(-5L, md.get("i64"));
            assertEquals(0.25, md.get("f32"));
            assertEquals(1e-300, md.get("f64"));
            assertEquals(true, md.get("bool"));
            assertEquals("héllo ▁ 🎉", md.get("string"));
            assertArrayEquals(new String[] {"a", "", "<|im_end|>"}, (String[]) md.get("strings"));
            assertArrayEquals(new float[] {1.5f, -2f}, (float[]) md.get("floats"));
            assertArrayEquals(new int[] {1, -2, 3}, (int[]) md.get("ints"));
            assertArrayEquals(new int[] {255, 0}, (int[]) md.get("u8s"));
            assertArrayEquals(new int[] {-1}, (int[]) md.get("u32s"));
            assertArrayEquals(new long[] {Long.MIN_VALUE}, (long[]) md.get("longs"));
            assertArrayEquals(new double[] {Math.PI}, (double[]) md.get("doubles"));
            assertArrayEquals(new boolean[] {true, false}, (boolean[]) md.get("bools"));
            assertEquals(0, gguf.tensors().size());
        }
    }

    @Test
    void tensorsOfEveryTypeRoundTripWithinTheTypesError() {
        Random random = new Random(42);
        int cols = 96, rows = 5;
        float[] values = new float[cols * rows];
        for (int i = 0; i < values.length; i++) values[i] = (float) random.nextGaussian() * 0.5f;
        values[7] = 0; // a zero and an all-zero block must survive too
        for (int i = 32; i < 64; i++) values[i] = 0;
        Path file = dir.resolve("tensors.gguf");
        GgufWriter writer = new GgufWriter().put("general.architecture", "llama");
        GgmlType[] types = {GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0};
        for (GgmlType type : types) writer.tensor("t." + type, type, new long[] {cols, rows}, values);
        writer.tensor("odd", GgmlType.F32, new long[] {3}, new float[] {1, 2, 3});
        writer.write(file);

        try (GgufFile gguf = GgufFile.open(file)) {
            for (GgmlType type : types) {
                WeightTensor t = gguf.tensor("t." + type);
                assertEquals(type, t.type());
                assertArrayEquals(new long[] {cols, rows}, t.shape());
                assertEquals(0, (gguf.dataOffset() + gguf.tensors().stream()
                        .filter(i -> i.name().equals(t.name())).findFirst().orElseThrow().offset()) % 32);
                float[] back = Quant.dequantize(t);
                for (int i = 0; i < values.length; i++) {
                    float blockMax = blockAbsMax(values, i);
                    float tolerance = switch (type) {
                        case F32 -> 0;
                        case F16 -> Math.abs(values[i]) * 0x1p-11f + 1e-7f;
                        case BF16 -> Math.abs(values[i]) * 0x1p-8f;
                        case Q8_0 -> blockMax / 127 * 0.5f * 1.01f + blockMax * 0x1p-11f;
                        // Q4_0 maps [-8d, 7d]: values at +|max| clamp to 7d, a whole step off.
                        default -> blockMax / 8 * 1.01f + blockMax * 0x1p-10f;
                    };
                    assertEquals(values[i], back[i], tolerance, type + " value " + i);
                }
            }
            assertArrayEquals(new float[] {1, 2, 3}, Quant.dequantize(gguf.tensor("odd")));
        }
    }

    private static float blockAbsMax(float[] values, int i) {
        int start = i / 32 * 32;
        float max = 0;
        for (int j = start; j < start + 32; j++) max = Math.max(max, Math.abs(values[j]));
        return max;
    }

    /** Hand-checked blocks: ggml's formulas, including roundf's halves away from zero. */
    @Test
    void quantizedBlocksMatchGgmlsFormulas() {
        float[] x = new float[32];
        for (int i = 0; i < 32; i++) x[i] = i - 16; // -16 .. 15
        byte[] q8 = new byte[34];
        Quant.quantize(GgmlType.Q8_0, x, 0, 32, java.lang.foreign.MemorySegment.ofArray(q8), 0);
        float d = 16f / 127f;
        assertEquals(Quant.f32ToF16(d), (short) ((q8[0] & 0xff) | (q8[1] << 8)));
        assertEquals(-127, q8[2]);
        for (int i = 0; i < 32; i++) {
            float v = x[i] * (1f / d);
            assertEquals((int) Math.signum(v) * (int) Math.floor(Math.abs(v) + 0.5), q8[2 + i]);
        }

        byte[] q4 = new byte[18];
        Quant.quantize(GgmlType.Q4_0, x, 0, 32, java.lang.foreign.MemorySegment.ofArray(q4), 0);
        // max = -16 (largest magnitude, signed), d = -16 / -8 = 2: q = x/2 + 8.
        assertEquals(Quant.f32ToF16(2f), (short) ((q4[0] & 0xff) | (q4[1] << 8)));
        for (int j = 0; j < 16; j++) {
            int lo = q4[2 + j] & 0x0f, hi = (q4[2 + j] & 0xff) >>> 4;
            assertEquals(Math.min(15, (int) (x[j] / 2 + 8.5f)), lo, "element " + j);
            assertEquals(Math.min(15, (int) (x[16 + j] / 2 + 8.5f)), hi, "element " + (16 + j));
        }
        assertEquals((short) 0x3f80, Quant.f32ToBf16(1f));
        assertEquals((short) 0x3f80, Quant.f32ToBf16(Float.intBitsToFloat(0x3f808000))); // tie to even
        assertEquals((short) 0x3f82, Quant.f32ToBf16(Float.intBitsToFloat(0x3f818000)));
    }
}
