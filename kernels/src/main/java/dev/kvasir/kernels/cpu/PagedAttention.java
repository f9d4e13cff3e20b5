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
 * keys and values, read through its block table: position {@code p} lives in block
 * {@code blockTable[p / blockSize]} at offset {@code p % blockSize}. Plain softmax attention, as
 * llama2.c, head by head over the group (its keys and values stay in cache between its heads): the
 * scores and their maximum, the exponentials, then the weighted sum of the values scaled by one over
 * the exponentials' sum (f32 KV; the 16-bit path normalizes the weights in place first).
 * <p>
 * Keys are stored dimension-major inside a block ({@link CpuKvCache}): element {@code d} of the
 * block's positions is one contiguous row, so a vector holds one dimension of {@link WeightLoads#L}
 * positions, and the scores of those positions come out of fused multiply-adds with no horizontal
 * sum. The per-position horizontal sum of the position-major layout was ~9 ns per (head,
 * position) at stories260K's 8-float heads: most of a long prefill (vLLM's kernels split keys the
 * same way). Every score sums {@code q[d] * k[d]} in four chains by {@code d % 4}, added as
 * {@code (c0 + c1) + (c2 + c3)}, whether a vector lane or the scalar tail computes it, so a
 * position's score does not depend on where it falls in a block or on the prompt's length.
 */
final class PagedAttention {

    private PagedAttention() {}

    /**
     * @param q         query vectors; head g of the group starts at {@code qOff + g * headDim}
     * @param heads     query heads in the group
     * @param blockBytes bytes of one block (one layer, K or V)
     * @param kOff      byte offset of this KV head's first key row inside a block
     * @param slotBytes bytes of one position's values (all KV heads)
     * @param vOff      byte offset of this KV head inside a position's values
     * @param context   positions attended: {@code 0 .. context - 1}
     * @param scores    scratch of at least {@code heads * (context + 1)} floats
     * @param out       results, laid out like {@code q}
     */
    static void attendGroup(float[] q, int qOff, int heads, MemorySegment keys, MemorySegment values, int[] blockTable,
                            int blockSize, long blockBytes, long kOff, long slotBytes, long vOff, int headDim, int context,
                            float[] scores, float[] out, int outOff) {
        // per head: scores and their maximum, then the exponentials; the weights stay unnormalized
        // and each head's output is scaled by 1 / (sum of its weights) instead: one pass over the
        // scores fewer than a softmax in place
        int inv = heads * context;
        for (int g = 0; g < heads; g++) {
            float max = keyScoresF32(q, qOff + g * headDim, keys, blockTable, blockSize, blockBytes, kOff, headDim, context,
                    scores, g * context);
            scores[inv + g] = 1f / exponentiate(scores, g * context, context, max);
        }
        if (headDim == L) {
            for (int g = 0; g < heads; g += 2) {
                int h = Math.min(g + 1, heads - 1); // an odd group's last head goes as its own pair
                valuesPair(values, blockTable, blockSize, slotBytes, vOff, context, scores, g * context, h * context,
                        scores[inv + g], scores[inv + h], out, outOff + g * headDim, outOff + h * headDim);
            }
            return;
        }
        for (int g = 0; g < heads; g++) {
            int og = outOff + g * headDim, sg = g * context;
            float scale = scores[inv + g];
            if (headDim == 4 * L) values4(values, blockTable, blockSize, slotBytes, vOff, context, scores, sg, scale, out, og);
            else values(values, blockTable, blockSize, slotBytes, vOff, headDim, context, scores, sg, scale, out, og);
        }
    }

    /**
     * Heads of one vector (stories260K's 8 floats on AVX2), two heads of the group at a time: each
     * position's value row is loaded once for both, and each head sums in four chains by
     * {@code p % 4}, added as {@code (c0 + c1) + (c2 + c3)}. One head with one chain per parity
     * waited on the FMA latency every position: the largest part of a 500-token prefill's attention.
     * Which chain a position joins depends only on the position, not on the block size.
     */
    private static void valuesPair(MemorySegment values, int[] blockTable, int blockSize, long slotBytes, long kvOff, int context,
                                   float[] weights, int wOffA, int wOffB, float scaleA, float scaleB, float[] out, int outA,
                                   int outB) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (int blk = 0, p = 0; p < context; blk++) {
            long at = (long) blockTable[blk] * blockSize * slotBytes + kvOff;
            int end = Math.min(context, p + blockSize);
            // four positions at a time from a multiple of 4 (every block where the block size is one)
            int fours = (p & 3) == 0 ? (end - p) & ~3 : 0;
            for (int stop = p + fours; p < stop; p += 4, at += 4 * slotBytes) {
                FloatVector v0 = FloatVector.fromMemorySegment(F, values, at, ByteOrder.nativeOrder());
                FloatVector v1 = FloatVector.fromMemorySegment(F, values, at + slotBytes, ByteOrder.nativeOrder());
                FloatVector v2 = FloatVector.fromMemorySegment(F, values, at + 2 * slotBytes, ByteOrder.nativeOrder());
                FloatVector v3 = FloatVector.fromMemorySegment(F, values, at + 3 * slotBytes, ByteOrder.nativeOrder());
                a0 = v0.fma(FloatVector.broadcast(F, weights[wOffA + p]), a0);
                b0 = v0.fma(FloatVector.broadcast(F, weights[wOffB + p]), b0);
                a1 = v1.fma(FloatVector.broadcast(F, weights[wOffA + p + 1]), a1);
                b1 = v1.fma(FloatVector.broadcast(F, weights[wOffB + p + 1]), b1);
                a2 = v2.fma(FloatVector.broadcast(F, weights[wOffA + p + 2]), a2);
                b2 = v2.fma(FloatVector.broadcast(F, weights[wOffB + p + 2]), b2);
                a3 = v3.fma(FloatVector.broadcast(F, weights[wOffA + p + 3]), a3);
                b3 = v3.fma(FloatVector.broadcast(F, weights[wOffB + p + 3]), b3);
            }
            for (; p < end; p++, at += slotBytes) {
                FloatVector v = FloatVector.fromMemorySegment(F, values, at, ByteOrder.nativeOrder());
                FloatVector wa = FloatVector.broadcast(F, weights[wOffA + p]), wb = FloatVector.broadcast(F, weights[wOffB + p]);
                switch (p & 3) {
                    case 0 -> { a0 = v.fma(wa, a0); b0 = v.fma(wb, b0); }
                    case 1 -> { a1 = v.fma(wa, a1); b1 = v.fma(wb, b1); }
                    case 2 -> { a2 = v.fma(wa, a2); b2 = v.fma(wb, b2); }
                    default -> { a3 = v.fma(wa, a3); b3 = v.fma(wb, b3); }
                }
            }
        }
        a0.add(a1).add(a2.add(a3)).mul(scaleA).intoArray(out, outA);
        b0.add(b1).add(b2.add(b3)).mul(scaleB).intoArray(out, outB);
    }

    private static final int KEYS_F32 = 0, KEYS_F16 = 1, KEYS_BF16 = 2;

    /** {@code scores[g * context + p] = q_g · k_p / sqrt(headDim)} for every head of the group and position, 16-bit keys. */
    private static void keyScores16(float[] q, int qOff, int heads, MemorySegment keys, boolean bf16, int[] blockTable,
                                    int blockSize, long blockBytes, long kOff, int headDim, int context, float[] scores) {
        float scale = (float) (1.0 / Math.sqrt(headDim));
        long rowBytes = 2L * blockSize;
        for (int blk = 0, p0 = 0; p0 < context; blk++, p0 += blockSize) {
            long base = blockTable[blk] * blockBytes + kOff;
            int n = Math.min(blockSize, context - p0);
            for (int g = 0; g < heads; g++) {
                int qg = qOff + g * headDim, sg = g * context + p0;
                int c = 0;
                for (; c < n && c + L <= blockSize; c += L) {
                    scoreLanes16(q, qg, keys, bf16, base + 2L * c, rowBytes, headDim, scale, scores, sg + c, Math.min(L, n - c));
                }
                for (; c < n; c++) {
                    scores[sg + c] = scoreOne(q, qg, keys, bf16 ? KEYS_BF16 : KEYS_F16, base + 2L * c, rowBytes, headDim) * scale;
                }
            }
        }
    }

    /**
     * {@code scores[sOff + p] = q · k_p / sqrt(headDim)} for one head and every position, f32 keys;
     * returns their maximum, taken as the scores are stored rather than in a pass of its own. A
     * vector of positions two at a time where they fit (each broadcast of {@code q[d]} feeds two
     * fused multiply-adds), then one (masked where the context ends inside it), then a scalar tail.
     * The kernels are written out in this one method: they are past C2's inlining size, and a call
     * per block cost more than the loads. (Reading through a slice of each block instead of the
     * pool gained nothing measurable in a harness, and in the server, whose pool is a mapped
     * segment, the slices were allocated.)
     */
    private static float keyScoresF32(float[] q, int qg, MemorySegment keys, int[] blockTable, int blockSize, long blockBytes,
                                      long kOff, int headDim, int context, float[] scores, int sOff) {
        float scale = (float) (1.0 / Math.sqrt(headDim));
        long rowBytes = 4L * blockSize, half = 4L * L;
        FloatVector max = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        float tailMax = Float.NEGATIVE_INFINITY;
        for (int blk = 0, p0 = 0; p0 < context; blk++, p0 += blockSize) {
            long base = blockTable[blk] * blockBytes + kOff;
            int n = Math.min(blockSize, context - p0), sg = sOff + p0;
            int c = 0;
            for (; n - c > L && c + 2 * L <= blockSize; c += 2 * L) {
                FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0, e0 = c0, e1 = c0, e2 = c0, e3 = c0;
                long at = base + 4L * c;
                int d = 0;
                for (; d + 4 <= headDim; d += 4, at += 4 * rowBytes) {
                    FloatVector q0 = FloatVector.broadcast(F, q[qg + d]), q1 = FloatVector.broadcast(F, q[qg + d + 1]);
                    FloatVector q2 = FloatVector.broadcast(F, q[qg + d + 2]), q3 = FloatVector.broadcast(F, q[qg + d + 3]);
                    c0 = FloatVector.fromMemorySegment(F, keys, at, ByteOrder.nativeOrder()).fma(q0, c0);
                    e0 = FloatVector.fromMemorySegment(F, keys, at + half, ByteOrder.nativeOrder()).fma(q0, e0);
                    c1 = FloatVector.fromMemorySegment(F, keys, at + rowBytes, ByteOrder.nativeOrder()).fma(q1, c1);
                    e1 = FloatVector.fromMemorySegment(F, keys, at + rowBytes + half, ByteOrder.nativeOrder()).fma(q1, e1);
                    c2 = FloatVector.fromMemorySegment(F, keys, at + 2 * rowBytes, ByteOrder.nativeOrder()).fma(q2, c2);
                    e2 = FloatVector.fromMemorySegment(F, keys, at + 2 * rowBytes + half, ByteOrder.nativeOrder()).fma(q2, e2);
                    c3 = FloatVector.fromMemorySegment(F, keys, at + 3 * rowBytes, ByteOrder.nativeOrder()).fma(q3, c3);
                    e3 = FloatVector.fromMemorySegment(F, keys, at + 3 * rowBytes + half, ByteOrder.nativeOrder()).fma(q3, e3);
                }
                for (; d < headDim; d++, at += rowBytes) {
                    FloatVector qd = FloatVector.broadcast(F, q[qg + d]);
                    c0 = FloatVector.fromMemorySegment(F, keys, at, ByteOrder.nativeOrder()).fma(qd, c0);
                    e0 = FloatVector.fromMemorySegment(F, keys, at + half, ByteOrder.nativeOrder()).fma(qd, e0);
                }
                FloatVector first = c0.add(c1).add(c2.add(c3)).mul(scale);
                first.intoArray(scores, sg + c);
                max = max.max(first);
                int valid = Math.min(L, n - c - L);
                FloatVector s = e0.add(e1).add(e2.add(e3)).mul(scale);
                if (valid == L) {
                    s.intoArray(scores, sg + c + L);
                    max = max.max(s);
                } else {
                    var in = F.indexInRange(0, valid);
                    s.intoArray(scores, sg + c + L, in);
                    max = max.lanewise(VectorOperators.MAX, s, in);
                }
            }
            for (; c < n && c + L <= blockSize; c += L) {
                FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
                long at = base + 4L * c;
                int d = 0;
                for (; d + 4 <= headDim; d += 4, at += 4 * rowBytes) {
                    c0 = FloatVector.fromMemorySegment(F, keys, at, ByteOrder.nativeOrder()).fma(FloatVector.broadcast(F, q[qg + d]), c0);
                    c1 = FloatVector.fromMemorySegment(F, keys, at + rowBytes, ByteOrder.nativeOrder()).fma(FloatVector.broadcast(F, q[qg + d + 1]), c1);
                    c2 = FloatVector.fromMemorySegment(F, keys, at + 2 * rowBytes, ByteOrder.nativeOrder()).fma(FloatVector.broadcast(F, q[qg + d + 2]), c2);
                    c3 = FloatVector.fromMemorySegment(F, keys, at + 3 * rowBytes, ByteOrder.nativeOrder()).fma(FloatVector.broadcast(F, q[qg + d + 3]), c3);
                }
                for (; d < headDim; d++, at += rowBytes) {
                    c0 = FloatVector.fromMemorySegment(F, keys, at, ByteOrder.nativeOrder()).fma(FloatVector.broadcast(F, q[qg + d]), c0);
                }
                int valid = Math.min(L, n - c);
                FloatVector s = c0.add(c1).add(c2.add(c3)).mul(scale);
                if (valid == L) {
                    s.intoArray(scores, sg + c);
                    max = max.max(s);
                } else {
                    var in = F.indexInRange(0, valid);
                    s.intoArray(scores, sg + c, in);
                    max = max.lanewise(VectorOperators.MAX, s, in);
                }
            }
            for (; c < n; c++) {
                float v = scoreOne(q, qg, keys, KEYS_F32, base + 4L * c, rowBytes, headDim) * scale;
                scores[sg + c] = v;
                tailMax = Math.max(tailMax, v);
            }
        }
        return Math.max(max.reduceLanes(VectorOperators.MAX), tailMax);
    }

    /** Scores of {@code L} consecutive positions of a block over f16 or bf16 keys, each row widened to floats as {@link #toFloats} does. */
    private static void scoreLanes16(float[] q, int qOff, MemorySegment keys, boolean bf16, long at, long rowBytes, int headDim,
                                     float scale, float[] scores, int sOff, int valid) {
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        int whole = headDim - headDim % 4;
        for (int d = 0; d < headDim; d++, at += rowBytes) {
            IntVector bits = (IntVector) ShortVector.fromMemorySegment(WeightLoads.S, keys, at, ByteOrder.nativeOrder())
                    .convertShape(VectorOperators.S2I, WeightLoads.I, 0);
            FloatVector k = bf16 ? bits.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats()
                    : bits.lanewise(VectorOperators.LSHL, 13).and(0x8FFFE000).reinterpretAsFloats().mul(WeightLoads.F16_RESCALE);
            FloatVector qd = FloatVector.broadcast(F, q[qOff + d]);
            switch (d < whole ? d & 3 : 0) {
                case 0 -> c0 = k.fma(qd, c0);
                case 1 -> c1 = k.fma(qd, c1);
                case 2 -> c2 = k.fma(qd, c2);
                default -> c3 = k.fma(qd, c3);
            }
        }
        FloatVector s = c0.add(c1).add(c2.add(c3)).mul(scale);
        if (valid == L) s.intoArray(scores, sOff);
        else s.intoArray(scores, sOff, F.indexInRange(0, valid));
    }

    /** One position's unscaled score, in the order of {@link #keyScoresF32}'s lanes (four chains by {@code d % 4}, the rest on chain 0). */
    private static float scoreOne(float[] q, int qOff, MemorySegment keys, int kind, long at, long rowBytes, int headDim) {
        float c0 = 0, c1 = 0, c2 = 0, c3 = 0;
        int whole = headDim - headDim % 4;
        for (int d = 0; d < headDim; d++, at += rowBytes) {
            float k = switch (kind) {
                case KEYS_F32 -> keys.get(CpuKvCache.FLOAT, at);
                case KEYS_F16 -> Float.float16ToFloat(keys.get(CpuKvCache.HALF, at));
                default -> Quant.bf16ToF32(keys.get(CpuKvCache.HALF, at));
            };
            float qd = q[qOff + d];
            switch (d < whole ? d & 3 : 0) {
                case 0 -> c0 = Math.fma(k, qd, c0);
                case 1 -> c1 = Math.fma(k, qd, c1);
                case 2 -> c2 = Math.fma(k, qd, c2);
                default -> c3 = Math.fma(k, qd, c3);
            }
        }
        return (c0 + c1) + (c2 + c3);
    }

    /**
     * Softmax of each head's {@code context} scores, in place, a vector at a time: a prompt of n
     * tokens takes n²/2 exponentials per head and layer, and the scalar {@code Math.exp} loop was
     * most of a 500-token prefill on stories260K. {@link VectorExp}, lanes and tail alike, so a
     * weight does not depend on where the context's length puts its position, nor on the JIT.
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
            float inv = 1f / exponentiate(scores, s, context, max);
            int p = 0;
            for (; p < bound; p += L) FloatVector.fromArray(F, scores, s + p).mul(inv).intoArray(scores, s + p);
            for (; p < context; p++) scores[s + p] *= inv;
        }
    }

    /** {@code scores[s + p] = e^(scores[s + p] - max)} for {@code p < context}; returns their sum (lanes added in lane order). */
    private static float exponentiate(float[] scores, int s, int context, float max) {
        int bound = context - context % L;
        float total = 0;
        if (bound > 0) {
            FloatVector vmax = FloatVector.broadcast(F, max), sum = FloatVector.zero(F);
            for (int p = 0; p < bound; p += L) {
                FloatVector e = VectorExp.exp(FloatVector.fromArray(F, scores, s + p).sub(vmax));
                e.intoArray(scores, s + p);
                sum = sum.add(e);
            }
            for (int l = 0; l < L; l++) total += sum.lane(l); // in lane order: reduceLanes' order differs cold and compiled
        }
        for (int p = bound; p < context; p++) {
            float e = VectorExp.exp(scores[s + p] - max);
            scores[s + p] = e;
            total += e;
        }
        return total;
    }

    /**
     * {@link #attendGroup} over 16-bit K and V (f16, or bf16 where {@code bf16}): keys are widened
     * a row of positions at a time inside the score loop; for the values, positions go outermost,
     * so each position's value row is converted to floats once (into {@code scratch} after the
     * scores) and used by every head of the group.
     *
     * @param scratch at least {@code heads * context + headDim} floats
     */
    static void attendGroup16(float[] q, int qOff, int heads, MemorySegment keys, MemorySegment values, boolean bf16,
                              int[] blockTable, int blockSize, long blockBytes, long kOff, long slotBytes, long vOff, int headDim,
                              int context, float[] scratch, float[] out, int outOff) {
        int row = heads * context;
        keyScores16(q, qOff, heads, keys, bf16, blockTable, blockSize, blockBytes, kOff, headDim, context, scratch);
        softmax(scratch, heads, context);
        for (int g = 0; g < heads; g++) java.util.Arrays.fill(out, outOff + g * headDim, outOff + (g + 1) * headDim, 0f);
        int bound = headDim - headDim % L;
        for (int blk = 0, p = 0; p < context; blk++) {
            long slot = (long) blockTable[blk] * blockSize;
            for (int end = Math.min(context, p + blockSize); p < end; p++, slot++) {
                toFloats(values, slot * slotBytes + vOff, headDim, bf16, scratch, row);
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

    /**
     * Any head size: the head is cut into chunks of up to 4 vectors, and each chunk accumulates in
     * registers across every position before it is stored. Accumulating in {@code out} instead
     * chains a store and a reload through memory per position: 3x the time of the scores on
     * stories260K's 8-float heads, and the path every 64-float head takes on AVX2.
     */
    private static void values(MemorySegment values, int[] blockTable, int blockSize, long slotBytes, long kvOff,
                               int headDim, int context, float[] weights, int wOff, float scale, float[] out, int outOff) {
        int bound = headDim - headDim % L;
        int d0 = 0;
        for (; d0 + 4 * L <= bound; d0 += 4 * L) {
            values4(values, blockTable, blockSize, slotBytes, kvOff + 4L * d0, context, weights, wOff, scale, out, outOff + d0);
        }
        for (; d0 < bound; d0 += L) {
            FloatVector even = FloatVector.zero(F), odd = even;
            for (int blk = 0, p = 0; p < context; blk++) {
                long slot = (long) blockTable[blk] * blockSize;
                for (int end = Math.min(context, p + blockSize); p < end; ) {
                    long at = slot * slotBytes + kvOff + 4L * d0;
                    FloatVector v = FloatVector.fromMemorySegment(F, values, at, ByteOrder.nativeOrder());
                    if ((p & 1) == 0 && p + 1 < end) {
                        even = v.fma(FloatVector.broadcast(F, weights[wOff + p]), even);
                        odd = FloatVector.fromMemorySegment(F, values, at + slotBytes, ByteOrder.nativeOrder())
                                .fma(FloatVector.broadcast(F, weights[wOff + p + 1]), odd);
                        p += 2;
                        slot += 2;
                    } else {
                        if ((p & 1) == 0) even = v.fma(FloatVector.broadcast(F, weights[wOff + p]), even);
                        else odd = v.fma(FloatVector.broadcast(F, weights[wOff + p]), odd);
                        p++;
                        slot++;
                    }
                }
            }
            even.add(odd).mul(scale).intoArray(out, outOff + d0);
        }
        for (int d = bound; d < headDim; d++) {
            float sum = 0;
            for (int blk = 0, p = 0; p < context; blk++) {
                long slot = (long) blockTable[blk] * blockSize;
                for (int end = Math.min(context, p + blockSize); p < end; p++, slot++) {
                    sum += weights[wOff + p] * values.get(CpuKvCache.FLOAT, slot * slotBytes + kvOff + 4L * d);
                }
            }
            out[outOff + d] = sum * scale;
        }
    }

    /**
     * Heads of 4 vectors: the output accumulates in registers across positions, even and odd
     * positions in separate chains (one chain per vector waits on the FMA latency every position),
     * added at the end; {@link #values} splits its one-vector chunks the same way.
     */
    private static void values4(MemorySegment values, int[] blockTable, int blockSize, long slotBytes, long kvOff,
                                int context, float[] weights, int wOff, float scale, float[] out, int outOff) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        long step = 4L * L;
        for (int blk = 0, p = 0; p < context; blk++) {
            long slot = (long) blockTable[blk] * blockSize;
            for (int end = Math.min(context, p + blockSize); p < end; ) {
                long at = slot * slotBytes + kvOff;
                if ((p & 1) == 0 && p + 1 < end) {
                    FloatVector w = FloatVector.broadcast(F, weights[wOff + p]);
                    a0 = FloatVector.fromMemorySegment(F, values, at, ByteOrder.nativeOrder()).fma(w, a0);
                    a1 = FloatVector.fromMemorySegment(F, values, at + step, ByteOrder.nativeOrder()).fma(w, a1);
                    a2 = FloatVector.fromMemorySegment(F, values, at + 2 * step, ByteOrder.nativeOrder()).fma(w, a2);
                    a3 = FloatVector.fromMemorySegment(F, values, at + 3 * step, ByteOrder.nativeOrder()).fma(w, a3);
                    FloatVector u = FloatVector.broadcast(F, weights[wOff + p + 1]);
                    long next = at + slotBytes;
                    b0 = FloatVector.fromMemorySegment(F, values, next, ByteOrder.nativeOrder()).fma(u, b0);
                    b1 = FloatVector.fromMemorySegment(F, values, next + step, ByteOrder.nativeOrder()).fma(u, b1);
                    b2 = FloatVector.fromMemorySegment(F, values, next + 2 * step, ByteOrder.nativeOrder()).fma(u, b2);
                    b3 = FloatVector.fromMemorySegment(F, values, next + 3 * step, ByteOrder.nativeOrder()).fma(u, b3);
                    p += 2;
                    slot += 2;
                } else {
                    FloatVector w = FloatVector.broadcast(F, weights[wOff + p]);
                    FloatVector v0 = FloatVector.fromMemorySegment(F, values, at, ByteOrder.nativeOrder());
                    FloatVector v1 = FloatVector.fromMemorySegment(F, values, at + step, ByteOrder.nativeOrder());
                    FloatVector v2 = FloatVector.fromMemorySegment(F, values, at + 2 * step, ByteOrder.nativeOrder());
                    FloatVector v3 = FloatVector.fromMemorySegment(F, values, at + 3 * step, ByteOrder.nativeOrder());
                    if ((p & 1) == 0) {
                        a0 = v0.fma(w, a0);
                        a1 = v1.fma(w, a1);
                        a2 = v2.fma(w, a2);
                        a3 = v3.fma(w, a3);
                    } else {
                        b0 = v0.fma(w, b0);
                        b1 = v1.fma(w, b1);
                        b2 = v2.fma(w, b2);
                        b3 = v3.fma(w, b3);
                    }
                    p++;
                    slot++;
                }
            }
        }
        a0.add(b0).mul(scale).intoArray(out, outOff);
        a1.add(b1).mul(scale).intoArray(out, outOff + L);
        a2.add(b2).mul(scale).intoArray(out, outOff + 2 * L);
        a3.add(b3).mul(scale).intoArray(out, outOff + 3 * L);
    }
}
