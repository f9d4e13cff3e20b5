package dev.kvasir.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static dev.kvasir.kernels.cpu.WeightLoads.F;
import static dev.kvasir.kernels.cpu.WeightLoads.L;

/**
 * Attention of the query heads that share one KV head (a GQA group) over one sequence's cached
 * keys and values, read through its block table: position {@code p} lives in slot
 * {@code blockTable[p / blockSize] * blockSize + p % blockSize}. Plain softmax attention in three
 * passes (scores, softmax, weighted sum of values), as llama2.c; each key and value vector is read
 * once for the whole group.
 */
final class PagedAttention {

    private PagedAttention() {}

    /**
     * @param q       query vectors; head g of the group starts at {@code qOff + g * headDim}
     * @param heads   query heads in the group
     * @param kvOff   byte offset of this KV head inside a slot
     * @param context positions attended: {@code 0 .. context - 1}
     * @param scores  scratch of at least {@code heads * context} floats
     * @param out     results, laid out like {@code q}
     */
    static void attendGroup(float[] q, int qOff, int heads, MemorySegment keys, MemorySegment values, int[] blockTable,
                            int blockSize, long slotBytes, long kvOff, int headDim, int context,
                            float[] scores, float[] out, int outOff) {
        float scale = (float) (1.0 / Math.sqrt(headDim));
        // scores: q · k for every position, walking the block table block by block
        for (int blk = 0, p = 0; p < context; blk++) {
            long slot = (long) blockTable[blk] * blockSize;
            for (int end = Math.min(context, p + blockSize); p < end; p++, slot++) {
                long at = slot * slotBytes + kvOff;
                for (int g = 0; g < heads; g++) {
                    scores[g * context + p] = dot(q, qOff + g * headDim, keys, at, headDim) * scale;
                }
            }
        }
        // softmax per head
        for (int g = 0; g < heads; g++) {
            int s = g * context;
            float max = Float.NEGATIVE_INFINITY;
            for (int p = 0; p < context; p++) max = Math.max(max, scores[s + p]);
            float total = 0;
            for (int p = 0; p < context; p++) {
                float e = (float) Math.exp(scores[s + p] - max);
                scores[s + p] = e;
                total += e;
            }
            float inv = 1f / total;
            for (int p = 0; p < context; p++) scores[s + p] *= inv;
        }
        // weighted sum of the values
        for (int i = 0; i < heads * headDim; i++) out[outOff + i] = 0;
        int bound = headDim - headDim % L;
        for (int blk = 0, p = 0; p < context; blk++) {
            long slot = (long) blockTable[blk] * blockSize;
            for (int end = Math.min(context, p + blockSize); p < end; p++, slot++) {
                long at = slot * slotBytes + kvOff;
                for (int d = 0; d < bound; d += L) {
                    FloatVector v = FloatVector.fromMemorySegment(F, values, at + 4L * d, ByteOrder.nativeOrder());
                    for (int g = 0; g < heads; g++) {
                        int o = outOff + g * headDim + d;
                        v.mul(scores[g * context + p]).add(FloatVector.fromArray(F, out, o)).intoArray(out, o);
                    }
                }
                for (int d = bound; d < headDim; d++) {
                    float v = values.get(CpuKvCache.FLOAT, at + 4L * d);
                    for (int g = 0; g < heads; g++) out[outOff + g * headDim + d] += scores[g * context + p] * v;
                }
            }
        }
    }

    private static float dot(float[] q, int qOff, MemorySegment keys, long at, int headDim) {
        int bound = headDim - headDim % L;
        float sum = 0;
        if (bound > 0) {
            FloatVector acc = FloatVector.zero(F);
            for (int d = 0; d < bound; d += L) {
                acc = FloatVector.fromArray(F, q, qOff + d)
                        .fma(FloatVector.fromMemorySegment(F, keys, at + 4L * d, ByteOrder.nativeOrder()), acc);
            }
            sum = acc.reduceLanes(VectorOperators.ADD);
        }
        for (int d = bound; d < headDim; d++) sum += q[qOff + d] * keys.get(CpuKvCache.FLOAT, at + 4L * d);
        return sum;
    }
}
