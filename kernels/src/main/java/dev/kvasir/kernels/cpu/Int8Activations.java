package dev.kvasir.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * A step's activation rows quantized as llama.cpp quantizes them for its Q8_0 dot products: per
 * 32-value block a scale {@code d = max|x| / 127} and integers {@code q = rint(x * 127 / max|x|)}
 * in [-127, 127]. Two differences, both towards accuracy: {@code d} stays a float (llama.cpp rounds
 * it to f16), and rounding is to nearest even as in its AVX2 path ({@code roundf} in its scalar one
 * rounds ties away from zero; ties are rare and either is within half a step).
 * <p>
 * The integers are stored as shorts: {@link Int8Dots} multiplies 16-bit lanes, and storing them
 * widened saves a conversion per use (still half a float's bytes). A row quantizes alike whatever
 * else is in the step, so batching does not change a sequence's logits.
 * Reused across steps: nothing is allocated once the largest step has been seen.
 */
final class Int8Activations {

    /** {@code q[t * cols + i]}: value i of row t. */
    short[] q = new short[0];
    /** {@code d[t * (cols / 32) + b]}: the scale of block b of row t. */
    float[] d = new float[0];
    /** The same integers as floats, each block permuted ({@link #position}), for {@link Int8Tiles}. */
    float[] qf = new float[0];
    int cols;

    /**
     * Rows {@code t < n} of {@code x} ({@code cols} values each, a multiple of 32); {@code floats}:
     * also {@link #qf}.
     */
    void quantize(float[] x, int n, int cols, boolean floats) {
        if (q.length < n * cols) {
            q = new short[n * cols];
            d = new float[n * cols / 32];
        }
        if (floats && qf.length < n * cols) qf = new float[n * cols];
        this.cols = cols;
        for (int b = 0; b < n * cols / 32; b++) block(x, 32 * b, b, floats);
    }

    /**
     * One block, its four 8-float vectors spelled out (a loop carrying a vector maximum was left
     * to the Vector API's Java fallbacks by C2: 80 us and 5.8 KB of boxes for 576 values). Adding
     * and subtracting 1.5 * 2^23 rounds to the nearest integer, ties to even (|x * id| <= 127).
     */
    private void block(float[] x, int o, int b, boolean floats) {
        FloatVector v0 = FloatVector.fromArray(F8, x, o), v1 = FloatVector.fromArray(F8, x, o + 8);
        FloatVector v2 = FloatVector.fromArray(F8, x, o + 16), v3 = FloatVector.fromArray(F8, x, o + 24);
        float amax = v0.abs().max(v1.abs()).max(v2.abs().max(v3.abs())).reduceLanes(VectorOperators.MAX);
        float id = amax != 0 ? 127f / amax : 0f;
        d[b] = amax / 127f;
        v0 = v0.mul(id).add(ROUND).sub(ROUND);
        v1 = v1.mul(id).add(ROUND).sub(ROUND);
        v2 = v2.mul(id).add(ROUND).sub(ROUND);
        v3 = v3.mul(id).add(ROUND).sub(ROUND);
        ((ShortVector) v0.convertShape(VectorOperators.F2S, S8, 0)).intoArray(q, o);
        ((ShortVector) v1.convertShape(VectorOperators.F2S, S8, 0)).intoArray(q, o + 8);
        ((ShortVector) v2.convertShape(VectorOperators.F2S, S8, 0)).intoArray(q, o + 16);
        ((ShortVector) v3.convertShape(VectorOperators.F2S, S8, 0)).intoArray(q, o + 24);
        if (floats) {
            v0.rearrange(EVENS, v1).intoArray(qf, o);
            v0.rearrange(ODDS, v1).intoArray(qf, o + 8);
            v2.rearrange(EVENS, v3).intoArray(qf, o + 16);
            v2.rearrange(ODDS, v3).intoArray(qf, o + 24);
        }
    }

    /** Of two 8-float vectors (positions 0-15), the even positions and the odd ones: {@link #position}'s order. */
    private static final VectorShuffle<Float> EVENS = VectorShuffle.fromValues(FloatVector.SPECIES_256, 0, 2, 4, 6, 8, 10, 12, 14);
    private static final VectorShuffle<Float> ODDS = VectorShuffle.fromValues(FloatVector.SPECIES_256, 1, 3, 5, 7, 9, 11, 13, 15);

    private static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;
    private static final VectorSpecies<Short> S8 = ShortVector.SPECIES_128;
    private static final float ROUND = 0x1.8p23f;

    /**
     * The block position whose value slot {@code s} of a permuted block holds: slots 0-7 the even
     * positions 0-14, 8-15 the odd ones 1-15, 16-23 positions 16-30, 24-31 positions 17-31. Lane j
     * of the four 8-value steps then meets positions 2j, 2j+1, 2j+16, 2j+17: the products
     * {@link Int8Dots} sums into its int lane j.
     */
    static int position(int s) {
        return (s & 16) + 2 * (s & 7) + ((s >> 3) & 1);
    }
}
