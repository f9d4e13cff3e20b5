package dev.kvasir.models.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class Utf8Test {

    private static byte[] bytes(int... values) {
        byte[] out = new byte[values.length];
        for (int i = 0; i < values.length; i++) out[i] = (byte) values[i];
        return out;
    }

    @Test
    void unpairedSurrogatesBecomeReplacementCharacters() {
        assertEquals("a\uFFFDb", Utf8.wellFormed("a\uD800b"));
        assertEquals("\uFFFD\uFFFD", Utf8.wellFormed("\uDC00\uD800"));
        assertEquals("🦙\uFFFD", Utf8.wellFormed("🦙\uD83E"));
        assertEquals("🦙", Utf8.wellFormed("🦙"));
        assertArrayEquals(bytes(0xEF, 0xBF, 0xBD), Utf8.encode("\uDFFF"));
    }

    @Test
    void eachMaximalIllFormedSubpartIsOneReplacement() {
        assertEquals("🦙", Utf8.decode(bytes(0xF0, 0x9F, 0xA6, 0x99)));
        assertEquals("\uFFFDA", Utf8.decode(bytes(0xF0, 0x9F, 0xA6, 0x41))); // truncated 4-byte sequence
        assertEquals("\uFFFD\uFFFD", Utf8.decode(bytes(0xC0, 0xAF))); // overlong lead, then a stray continuation
        assertEquals("\uFFFD\uFFFD\uFFFD", Utf8.decode(bytes(0xED, 0xA0, 0x80))); // an encoded surrogate
        assertEquals("\uFFFD", Utf8.decode(bytes(0xE2, 0x82))); // incomplete at the end
        assertEquals("\uFFFD\uFFFD", Utf8.decode(bytes(0xF5, 0x80)));
    }

    @Test
    void incompleteTailHoldsOnlyWellFormedPrefixes() {
        assertEquals(1, Utf8.incompleteTail(bytes(0x41, 0xE2), 2));
        assertEquals(2, Utf8.incompleteTail(bytes(0x41, 0xE2, 0x82), 3));
        assertEquals(0, Utf8.incompleteTail(bytes(0x41, 0xE2, 0x82, 0xAC), 4));
        assertEquals(3, Utf8.incompleteTail(bytes(0xF0, 0x9F, 0xA6), 3));
        assertEquals(0, Utf8.incompleteTail(bytes(0xED, 0xA0), 2)); // can never complete
        assertEquals(0, Utf8.incompleteTail(bytes(0x80, 0x80, 0x80), 3));
    }

    @Test
    void decodingInPiecesEqualsDecodingAtOnce() {
        Random random = new Random(1);
        int[] interesting = {0x41, 0x80, 0xBF, 0xC2, 0xDF, 0xE0, 0xA0, 0xED, 0x9F, 0xF0, 0x90, 0xF4, 0x8F, 0xFF};
        for (int trial = 0; trial < 5000; trial++) {
            byte[] data = new byte[random.nextInt(12)];
            for (int i = 0; i < data.length; i++) {
                data[i] = (byte) (random.nextBoolean() ? interesting[random.nextInt(interesting.length)] : random.nextInt(256));
            }
            StringBuilder streamed = new StringBuilder();
            int start = 0;
            for (int end = 1; end <= data.length; end++) {
                byte[] window = java.util.Arrays.copyOfRange(data, start, end);
                int ready = end - start - Utf8.incompleteTail(window, window.length);
                streamed.append(Utf8.decode(data, start, start + ready));
                start += ready;
            }
            streamed.append(Utf8.decode(data, start, data.length));
            assertEquals(Utf8.decode(data), streamed.toString(), () -> java.util.HexFormat.of().formatHex(data));
        }
    }
}
