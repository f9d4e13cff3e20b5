package dev.kvasir.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static dev.kvasir.kernels.cpu.WeightLoads.F;
import static dev.kvasir.kernels.cpu.WeightLoads.L;

/**
 * Attention of one query head over one sequence's cached keys and values, read through its block
 * table: position {@code p} lives in slot {@code blockTable[p / blockSize] * blockSize + p % blockSize}.
 * Plain softmax attention in three passes (scores, softmax, weighted sum of values), as llama2.c.
 */
final class PagedAttention {

    private PagedAttention() {}

    /**
     * @param q       query vectors; this head's {@code headDim} values start at {@code qOff}
     * @param kvOff   byte offset of this KV head inside a slot
     * @param context positions attended: {@code 0 .. context - 1}
     * @param scores  scratch of at least {@code context} floats
     */
    static void attendHead(float[] q, int qOff, MemorySegment keys, MemorySegment values, int[] blockTable,
                           int blockSize, long slotBytes, long kvOff, int headDim, int context,
                           float[] scores, float[] out, int outOff) {
        float scale = (float) (1.0 / Math.sqrt(headDim));
        float max = Float.NEGATIVE_INFINITY;
        for (int p = 0; p < context; p++) {
            long at = slotOf(blockTable, blockSize, p) * slotBytes + kvOff;
            float s = dot(q, qOff, keys, at, headDim) * scale;
            scores[p] = s;
            if (s > max) max = s;
        }
        float total = 0;
        for (int p = 0; p < context; p++) {
            float e = (float) Math.exp(scores[p] - max);
            scores[p] = e;
            total += e;
        }
        float inv = 1f / total;
        for (int d = 0; d < headDim; d++) out[outOff + d] = 0;
        int bound = headDim - headDim % L;
        for (int p = 0; p < context; p++) {
            float weight = scores[p] * inv;
            FloatVector w = FloatVector.broadcast(F, weight);
            long at = slotOf(blockTable, blockSize, p) * slotBytes + kvOff;
            int d = 0;
            for (; d < bound; d += L) {
                FloatVector acc = FloatVector.fromArray(F, out, outOff + d);
                FloatVector.fromMemorySegment(F, values, at + 4L * d, ByteOrder.nativeOrder())
                        .fma(w, acc).intoArray(out, outOff + d);
            }
            for (; d < headDim; d++) out[outOff + d] += weight * values.get(CpuKvCache.FLOAT, at + 4L * d);
        }
    }

    static long slotOf(int[] blockTable, int blockSize, int position) {
        return (long) blockTable[position / blockSize] * blockSize + position % blockSize;
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
