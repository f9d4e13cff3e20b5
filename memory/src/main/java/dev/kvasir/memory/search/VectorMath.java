package dev.kvasir.memory.search;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Dot products over rows of a flat float matrix: the dense side's whole cost. */
final class VectorMath {
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;

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
}
