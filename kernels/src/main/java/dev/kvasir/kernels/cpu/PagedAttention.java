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
 * passes (scores, softmax, weighted sum of values), as llama2.c, head by head over the group (the
 * group's keys and values stay in cache between its heads).
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
        for (int g = 0; g < heads; g++) {
            int qg = qOff + g * headDim, sg = g * context;
            if (headDim == 4 * L) scores4(q, qg, keys, blockTable, blockSize, slotBytes, kvOff, context, scale, scores, sg);
            else scores(q, qg, keys, blockTable, blockSize, slotBytes, kvOff, headDim, context, scale, scores, sg);
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
        for (int g = 0; g < heads; g++) {
            int og = outOff + g * headDim, sg = g * context;
            if (headDim == 4 * L) values4(values, blockTable, blockSize, slotBytes, kvOff, context, scores, sg, out, og);
            else values(values, blockTable, blockSize, slotBytes, kvOff, headDim, context, scores, sg, out, og);
        }
    }

    private static void values(MemorySegment values, int[] blockTable, int blockSize, long slotBytes, long kvOff,
                               int headDim, int context, float[] weights, int wOff, float[] out, int outOff) {
        for (int d = 0; d < headDim; d++) out[outOff + d] = 0;
        int bound = headDim - headDim % L;
        for (int blk = 0, p = 0; p < context; blk++) {
            long slot = (long) blockTable[blk] * blockSize;
            for (int end = Math.min(context, p + blockSize); p < end; p++, slot++) {
                long at = slot * slotBytes + kvOff;
                float w = weights[wOff + p];
                for (int d = 0; d < bound; d += L) {
                    FloatVector v = FloatVector.fromMemorySegment(F, values, at + 4L * d, ByteOrder.nativeOrder());
                    v.fma(FloatVector.broadcast(F, w), FloatVector.fromArray(F, out, outOff + d)).intoArray(out, outOff + d);
                }
                for (int d = bound; d < headDim; d++) out[outOff + d] += w * values.get(CpuKvCache.FLOAT, at + 4L * d);
            }
        }
    }

    /** Heads of 4 vectors: the output accumulates in registers across positions. */
    private static void values4(MemorySegment values, int[] blockTable, int blockSize, long slotBytes, long kvOff,
                                int context, float[] weights, int wOff, float[] out, int outOff) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        long step = 4L * L;
        for (int blk = 0, p = 0; p < context; blk++) {
            long slot = (long) blockTable[blk] * blockSize;
            for (int end = Math.min(context, p + blockSize); p < end; p++, slot++) {
                long at = slot * slotBytes + kvOff;
                FloatVector w = FloatVector.broadcast(F, weights[wOff + p]);
                a0 = FloatVector.fromMemorySegment(F, values, at, ByteOrder.nativeOrder()).fma(w, a0);
                a1 = FloatVector.fromMemorySegment(F, values, at + step, ByteOrder.nativeOrder()).fma(w, a1);
                a2 = FloatVector.fromMemorySegment(F, values, at + 2 * step, ByteOrder.nativeOrder()).fma(w, a2);
                a3 = FloatVector.fromMemorySegment(F, values, at + 3 * step, ByteOrder.nativeOrder()).fma(w, a3);
            }
        }
        a0.intoArray(out, outOff);
        a1.intoArray(out, outOff + L);
        a2.intoArray(out, outOff + 2 * L);
        a3.intoArray(out, outOff + 3 * L);
    }

    private static void scores(float[] q, int qOff, MemorySegment keys, int[] blockTable, int blockSize, long slotBytes,
                               long kvOff, int headDim, int context, float scale, float[] scores, int sOff) {
        for (int blk = 0, p = 0; p < context; blk++) {
            long slot = (long) blockTable[blk] * blockSize;
            for (int end = Math.min(context, p + blockSize); p < end; p++, slot++) {
                scores[sOff + p] = dot(q, qOff, keys, slot * slotBytes + kvOff, headDim) * scale;
            }
        }
    }

    /**
     * Heads of 4 vectors (64 floats on AVX-512: SmolLM, TinyLlama): the query stays in registers
     * across positions instead of being reloaded for every key.
     */
    private static void scores4(float[] q, int qOff, MemorySegment keys, int[] blockTable, int blockSize, long slotBytes,
                                long kvOff, int context, float scale, float[] scores, int sOff) {
        FloatVector q0 = FloatVector.fromArray(F, q, qOff), q1 = FloatVector.fromArray(F, q, qOff + L);
        FloatVector q2 = FloatVector.fromArray(F, q, qOff + 2 * L), q3 = FloatVector.fromArray(F, q, qOff + 3 * L);
        long step = 4L * L;
        for (int blk = 0, p = 0; p < context; blk++) {
            long slot = (long) blockTable[blk] * blockSize;
            for (int end = Math.min(context, p + blockSize); p < end; p++, slot++) {
                long at = slot * slotBytes + kvOff;
                FloatVector a = q0.mul(FloatVector.fromMemorySegment(F, keys, at, ByteOrder.nativeOrder()));
                FloatVector b = q1.mul(FloatVector.fromMemorySegment(F, keys, at + step, ByteOrder.nativeOrder()));
                a = q2.fma(FloatVector.fromMemorySegment(F, keys, at + 2 * step, ByteOrder.nativeOrder()), a);
                b = q3.fma(FloatVector.fromMemorySegment(F, keys, at + 3 * step, ByteOrder.nativeOrder()), b);
                scores[sOff + p] = a.add(b).reduceLanes(VectorOperators.ADD) * scale;
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
