package dev.kvasir.memory.search;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Dot products over rows of flat matrices: the dense side's whole cost. Rows are float32, or int8
 * codes with one scale per row (a quarter of the memory traffic for the full scan).
 */
final class VectorMath {
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    /** As many byte lanes as SPECIES has float lanes, so one load of codes widens to one float vector. */
    private static final VectorSpecies<Byte> BYTES = VectorSpecies.of(byte.class, VectorShape.forBitSize(SPECIES.length() * 8));

    private VectorMath() {}

    /** Dot of {@code q} with the row of {@code matrix} starting at {@code offset}. */
    static float dot(float[] matrix, int offset, float[] q) {
        int n = q.length;
        int upper = SPECIES.loopBound(n);
        FloatVector acc = FloatVector.zero(SPECIES);
        int i = 0;
        for (; i < upper; i += SPECIES.length()) {
            acc = FloatVector.fromArray(SPECIES, matrix, offset + i).fma(FloatVector.fromArray(SPECIES, q, i), acc);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) sum += matrix[offset + i] * q[i];
        return sum;
    }

    /** Dot of {@code q} with the int8 row at {@code offset} (without its scale); {@code q.length} a multiple of the lanes. */
    static float dot(byte[] codes, int offset, float[] q) {
        FloatVector acc = FloatVector.zero(SPECIES);
        for (int i = 0; i < q.length; i += SPECIES.length()) {
            FloatVector x = (FloatVector) ByteVector.fromArray(BYTES, codes, offset + i).convertShape(VectorOperators.B2F, SPECIES, 0);
            acc = x.fma(FloatVector.fromArray(SPECIES, q, i), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /**
     * Scores of rows 0..rows-1 of int8 codes (with their scales) against {@code q} into {@code out}.
     * The whole scan sits in this one small method so the JIT compiles it on its own: inlined into
     * a large caller, the vector code compiled late and ran 4x slower in the bench.
     */
    static void scan(byte[] codes, float[] scales, int rows, float[] q, float[] out) {
        int dim = q.length;
        for (int r = 0; r < rows; r++) out[r] = scales[r] * dot(codes, r * dim, q);
    }

    /** Writes {@code v} as int8 codes at {@code offset} (symmetric, max |v| → 127); returns the row's scale. */
    static float quantize(float[] v, byte[] codes, int offset) {
        float max = 0;
        for (float x : v) max = Math.max(max, Math.abs(x));
        float scale = max == 0 ? 1 : max / 127f;
        for (int i = 0; i < v.length; i++) codes[offset + i] = (byte) Math.round(v[i] / scale);
        return scale;
    }
}
