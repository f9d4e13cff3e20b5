package dev.kvasir.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import static dev.kvasir.kernels.cpu.WeightLoads.F;
import static dev.kvasir.kernels.cpu.WeightLoads.L;

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
    int cols;

    /** Rows {@code t < n} of {@code x} ({@code cols} values each, a multiple of 32). */
    void quantize(float[] x, int n, int cols) {
        if (q.length < n * cols) {
            q = new short[n * cols];
            d = new float[n * cols / 32];
        }
        this.cols = cols;
        for (int b = 0; b < n * cols / 32; b++) {
            int o = 32 * b;
            FloatVector max = FloatVector.fromArray(F, x, o).abs();
            for (int p = L; p < 32; p += L) max = max.max(FloatVector.fromArray(F, x, o + p).abs());
            float amax = max.reduceLanes(VectorOperators.MAX);
            float id = amax != 0 ? 127f / amax : 0f;
            d[b] = amax / 127f;
            for (int i = o; i < o + 32; i++) q[i] = (short) Math.rint(x[i] * id);
        }
    }

    static {
        if (32 % L != 0) throw new ExceptionInInitializerError("unsupported float vector length " + L);
    }
}
