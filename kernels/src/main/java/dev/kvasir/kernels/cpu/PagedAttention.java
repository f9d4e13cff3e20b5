package dev.kvasir.kernels.cpu;

import dev.kvasir.kernels.quant.Quant;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
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
        softmax(scores, heads, context);
        // weighted sum of the values
        for (int g = 0; g < heads; g++) {
            int og = outOff + g * headDim, sg = g * context;
            if (headDim == 4 * L) values4(values, blockTable, blockSize, slotBytes, kvOff, context, scores, sg, out, og);
            else values(values, blockTable, blockSize, slotBytes, kvOff, headDim, context, scores, sg, out, og);
        }
    }

    /**
     * Softmax of each head's {@code context} scores, in place, a vector at a time: a prompt of n
     * tokens takes n²/2 exponentials per head and layer, and the scalar {@code Math.exp} loop was
     * most of a 500-token prefill on stories260K.
     */
    private static void softmax(float[] scores, int heads, int context) {
        int bound = context - context % L;
        for (int g = 0; g < heads; g++) {
            int s = g * context;
            float max = Float.NEGATIVE_INFINITY;
            if (bound > 0) {
                FloatVector m = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
                for (int p = 0; p < bound; p += L) m = m.max(FloatVector.fromArray(F, scores, s + p));
                max = m.reduceLanes(VectorOperators.MAX);
            }
            for (int p = bound; p < context; p++) max = Math.max(max, scores[s + p]);
            float total = 0;
            if (bound > 0) {
                FloatVector vmax = FloatVector.broadcast(F, max), sum = FloatVector.zero(F);
                for (int p = 0; p < bound; p += L) {
                    FloatVector e = FloatVector.fromArray(F, scores, s + p).sub(vmax).lanewise(VectorOperators.EXP);
                    e.intoArray(scores, s + p);
                    sum = sum.add(e);
                }
                total = sum.reduceLanes(VectorOperators.ADD);
            }
            for (int p = bound; p < context; p++) {
                float e = (float) Math.exp(scores[s + p] - max);
                scores[s + p] = e;
                total += e;
            }
            float inv = 1f / total;
            int p = 0;
            for (; p < bound; p += L) FloatVector.fromArray(F, scores, s + p).mul(inv).intoArray(scores, s + p);
            for (; p < context; p++) scores[s + p] *= inv;
        }
    }

    /**
     * {@link #attendGroup} over 16-bit K and V (f16, or bf16 where {@code bf16}): positions go
     * outermost, so each position's key and value row is converted to floats once (into
     * {@code scratch} after the scores) and used by every head of the group.
     *
     * @param scratch at least {@code heads * context + headDim} floats
     */
    static void attendGroup16(float[] q, int qOff, int heads, MemorySegment keys, MemorySegment values, boolean bf16,
                              int[] blockTable, int blockSize, long slotBytes, long kvOff, int headDim, int context,
                              float[] scratch, float[] out, int outOff) {
        float scale = (float) (1.0 / Math.sqrt(headDim));
        int row = heads * context;
        for (int blk = 0, p = 0; p < context; blk++) {
            long slot = (long) blockTable[blk] * blockSize;
            for (int end = Math.min(context, p + blockSize); p < end; p++, slot++) {
                toFloats(keys, slot * slotBytes + kvOff, headDim, bf16, scratch, row);
                for (int g = 0; g < heads; g++) scratch[g * context + p] = dot(q, qOff + g * headDim, scratch, row, headDim) * scale;
            }
        }
        softmax(scratch, heads, context);
        for (int g = 0; g < heads; g++) java.util.Arrays.fill(out, outOff + g * headDim, outOff + (g + 1) * headDim, 0f);
        int bound = headDim - headDim % L;
        for (int blk = 0, p = 0; p < context; blk++) {
            long slot = (long) blockTable[blk] * blockSize;
            for (int end = Math.min(context, p + blockSize); p < end; p++, slot++) {
                toFloats(values, slot * slotBytes + kvOff, headDim, bf16, scratch, row);
                for (int g = 0; g < heads; g++) {
                    int og = outOff + g * headDim;
                    FloatVector w = FloatVector.broadcast(F, scratch[g * context + p]);
                    for (int d = 0; d < bound; d += L) {
                        FloatVector.fromArray(F, scratch, row + d).fma(w, FloatVector.fromArray(F, out, og + d)).intoArray(out, og + d);
                    }
                    for (int d = bound; d < headDim; d++) out[og + d] += scratch[g * context + p] * scratch[row + d];
                }
            }
        }
    }

    /**
     * {@code n} f16 (or bf16) values at byte {@code at} as floats into {@code dst[dstOff ..]}: the
     * bits widened and shifted into f32 position (f16: masked and rescaled by 2^112, exact for
     * every finite value, as the f16 weights in {@link WeightLoads}).
     */
    private static void toFloats(MemorySegment seg, long at, int n, boolean bf16, float[] dst, int dstOff) {
        int bound = n - n % L;
        if (bf16) {
            for (int d = 0; d < bound; d += L) {
                ((IntVector) ShortVector.fromMemorySegment(WeightLoads.S, seg, at + 2L * d, ByteOrder.nativeOrder())
                        .convertShape(VectorOperators.S2I, WeightLoads.I, 0)).lanewise(VectorOperators.LSHL, 16)
                        .reinterpretAsFloats().intoArray(dst, dstOff + d);
            }
            for (int d = bound; d < n; d++) dst[dstOff + d] = Quant.bf16ToF32(seg.get(CpuKvCache.HALF, at + 2L * d));
        } else {
            for (int d = 0; d < bound; d += L) {
                ((IntVector) ShortVector.fromMemorySegment(WeightLoads.S, seg, at + 2L * d, ByteOrder.nativeOrder())
                        .convertShape(VectorOperators.S2I, WeightLoads.I, 0)).lanewise(VectorOperators.LSHL, 13).and(0x8FFFE000)
                        .reinterpretAsFloats().mul(WeightLoads.F16_RESCALE).intoArray(dst, dstOff + d);
            }
            for (int d = bound; d < n; d++) dst[dstOff + d] = Float.float16ToFloat(seg.get(CpuKvCache.HALF, at + 2L * d));
        }
    }

    /** {@code q[qOff ..] · k[kOff ..]} over n floats, one vector accumulator then the tail. */
    private static float dot(float[] q, int qOff, float[] k, int kOff, int n) {
        int bound = n - n % L;
        FloatVector acc = FloatVector.zero(F);
        for (int d = 0; d < bound; d += L) acc = FloatVector.fromArray(F, q, qOff + d).fma(FloatVector.fromArray(F, k, kOff + d), acc);
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (int d = bound; d < n; d++) sum += q[qOff + d] * k[kOff + d];
        return sum;
    }

    /**
     * Any head size: the head is cut into chunks of up to 4 vectors, and each chunk accumulates in
     * registers across every position before it is stored. Accumulating in {@code out} instead
     * chains a store and a reload through memory per position: 3x the time of the scores on
     * stories260K's 8-float heads, and the path every 64-float head takes on AVX2.
     */
    private static void values(MemorySegment values, int[] blockTable, int blockSize, long slotBytes, long kvOff,
                               int headDim, int context, float[] weights, int wOff, float[] out, int outOff) {
        int bound = headDim - headDim % L;
        int d0 = 0;
        for (; d0 + 4 * L <= bound; d0 += 4 * L) {
            values4(values, blockTable, blockSize, slotBytes, kvOff + 4L * d0, context, weights, wOff, out, outOff + d0);
        }
        for (; d0 < bound; d0 += L) {
            FloatVector acc = FloatVector.zero(F);
            for (int blk = 0, p = 0; p < context; blk++) {
                long slot = (long) blockTable[blk] * blockSize;
                for (int end = Math.min(context, p + blockSize); p < end; p++, slot++) {
                    long at = slot * slotBytes + kvOff + 4L * d0;
                    acc = FloatVector.fromMemorySegment(F, values, at, ByteOrder.nativeOrder()).fma(FloatVector.broadcast(F, weights[wOff + p]), acc);
                }
            }
            acc.intoArray(out, outOff + d0);
        }
        for (int d = bound; d < headDim; d++) {
            float sum = 0;
            for (int blk = 0, p = 0; p < context; blk++) {
                long slot = (long) blockTable[blk] * blockSize;
                for (int end = Math.min(context, p + blockSize); p < end; p++, slot++) {
                    sum += weights[wOff + p] * values.get(CpuKvCache.FLOAT, slot * slotBytes + kvOff + 4L * d);
                }
            }
            out[outOff + d] = sum;
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
