package dev.kvasir.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The CPU attention of one GQA group against plain softmax attention written out in scalars, for
 * head sizes on every path: one vector, the four-vector fast path, multiples of four vectors
 * (64 and 128 floats on AVX2), a vector and a tail, and smaller than a vector; through a block
 * table whose blocks are out of order, with a last block partly filled.
 */
class PagedAttentionTest {

    @ParameterizedTest
    @CsvSource({"8, 37", "16, 16", "32, 50", "64, 70", "128, 33", "12, 21", "3, 5", "72, 40"})
    void matchesPlainSoftmaxAttention(int headDim, int context) {
        int heads = 3, kvHeads = 2, kvHead = 1, blockSize = 16;
        int blocks = (context + blockSize - 1) / blockSize;
        Random random = new Random(headDim * 1000L + context);
        int[] blockTable = new int[blocks];
        for (int i = 0; i < blocks; i++) blockTable[i] = blocks - 1 - i; // reversed: the table is really followed
        long slotBytes = (long) kvHeads * headDim * Float.BYTES, blockBytes = blockSize * slotBytes;
        long vOff = (long) kvHead * headDim * Float.BYTES, kOff = (long) kvHead * headDim * blockSize * Float.BYTES;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment keys = arena.allocate(blocks * blockSize * slotBytes);
            MemorySegment values = arena.allocate(blocks * blockSize * slotBytes);
            for (long i = 0; i < keys.byteSize() / 4; i++) {
                keys.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) random.nextGaussian());
                values.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) random.nextGaussian());
            }
            float[] q = new float[heads * headDim + 5];
            for (int i = 0; i < q.length; i++) q[i] = (float) random.nextGaussian();
            int qOff = 5;
            float[] out = new float[heads * headDim + 2];
            java.util.Arrays.fill(out, Float.NaN); // every output element must be written, not accumulated into
            PagedAttention.attendGroup(q, qOff, heads, keys, values, blockTable, blockSize, blockBytes, kOff, slotBytes, vOff,
                    headDim, context, new float[heads * (context + 1)], out, 2);
            for (int g = 0; g < heads; g++) {
                double[] w = new double[context];
                double max = Double.NEGATIVE_INFINITY;
                for (int p = 0; p < context; p++) {
                    // keys are dimension-major inside a block: [kvHead][d][position]
                    long at = blockTable[p / blockSize] * blockBytes + kOff + 4L * (p % blockSize);
                    double dot = 0;
                    for (int d = 0; d < headDim; d++) {
                        dot += q[qOff + g * headDim + d] * keys.get(ValueLayout.JAVA_FLOAT, at + 4L * blockSize * d);
                    }
                    w[p] = dot / Math.sqrt(headDim);
                    max = Math.max(max, w[p]);
                }
                double total = 0;
                for (int p = 0; p < context; p++) total += (w[p] = Math.exp(w[p] - max));
                for (int d = 0; d < headDim; d++) {
                    double expected = 0;
                    for (int p = 0; p < context; p++) {
                        long at = ((long) blockTable[p / blockSize] * blockSize + p % blockSize) * slotBytes + vOff;
                        expected += w[p] / total * values.get(ValueLayout.JAVA_FLOAT, at + 4L * d);
                    }
                    assertEquals(expected, out[2 + g * headDim + d], 1e-4, "head " + g + " dim " + d);
                }
            }
        }
    }

    /**
     * A position's score is computed in a vector lane, in a masked last vector, or by the scalar
     * tail depending on where the block size puts it; all three sum in the same order, so the
     * output is the same to the bit whatever the block size (and so whatever a prompt's length or
     * its chunking puts where).
     */
    @ParameterizedTest
    @CsvSource({"8, 45", "64, 37", "12, 29", "3, 19"})
    void sameBitsWhateverTheBlockSize(int headDim, int context) {
        Random random = new Random(headDim * 31L + context);
        int heads = 2;
        float[][] k = new float[context][headDim], v = new float[context][headDim];
        for (int p = 0; p < context; p++) {
            for (int d = 0; d < headDim; d++) {
                k[p][d] = (float) random.nextGaussian();
                v[p][d] = (float) random.nextGaussian();
            }
        }
        float[] q = new float[heads * headDim];
        for (int i = 0; i < q.length; i++) q[i] = (float) random.nextGaussian();
        float[] first = null;
        for (int blockSize : new int[] {16, 12, 5, 32, 1}) {
            float[] out = attendOneKvHead(q, heads, k, v, blockSize);
            if (first == null) first = out;
            else assertArrayEquals(first, out, "block size " + blockSize);
        }
    }

    /** One KV head, blocks in table order, keys dimension-major inside each block. */
    private static float[] attendOneKvHead(float[] q, int heads, float[][] k, float[][] v, int blockSize) {
        int context = k.length, headDim = k[0].length;
        int blocks = (context + blockSize - 1) / blockSize;
        long blockBytes = (long) blockSize * headDim * Float.BYTES;
        int[] table = new int[blocks];
        for (int i = 0; i < blocks; i++) table[i] = i;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment keys = arena.allocate(blocks * blockBytes), values = arena.allocate(blocks * blockBytes);
            for (int p = 0; p < context; p++) {
                long block = (long) (p / blockSize) * blockBytes;
                for (int d = 0; d < headDim; d++) {
                    keys.set(ValueLayout.JAVA_FLOAT, block + 4L * ((long) d * blockSize + p % blockSize), k[p][d]);
                    values.set(ValueLayout.JAVA_FLOAT, block + 4L * ((long) (p % blockSize) * headDim + d), v[p][d]);
                }
            }
            float[] out = new float[heads * headDim];
            PagedAttention.attendGroup(q, 0, heads, keys, values, table, blockSize, blockBytes, 0, 4L * headDim, 0, headDim, context,
                    new float[heads * (context + 1)], out, 0);
            return out;
        }
    }
}
