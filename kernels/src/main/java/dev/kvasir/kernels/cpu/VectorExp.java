package dev.kvasir.kernels.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * {@code exp} for floats from additions, multiplications and fused multiply-adds only (Cephes'
 * {@code expf}: {@code x = n ln 2 + r}, a degree-5 polynomial in {@code r}, then {@code 2^n} in the
 * exponent bits), in a vector form and a scalar form that give the same bits.
 * <p>
 * Why not {@code lanewise(VectorOperators.EXP)}: the JIT's intrinsic and the Vector API's Java
 * fallback (the code that runs before C2 compiles a method) round differently, 145 of 4,096 values
 * apart in a check; so the same step gave other logits cold than warm, and a position's softmax
 * weight depended on whether it fell in a vector or in the scalar tail. Every operation here is
 * exactly rounded IEEE arithmetic, the same in both, and the scalar form repeats it lane for lane.
 * Within 2 ulp of {@link Math#exp}; below {@code -87.33} (where a float's {@code exp} leaves the
 * normal range) it is exactly 0, so a masked logit of {@code -inf} keeps no probability.
 */
public final class VectorExp {

    private static final float LOW = -87.33654f, HIGH = 88.37626f;
    private static final float LOG2E = 1.44269504088896341f;
    /** 1.5 * 2^23: added to a float below 2^22 in magnitude, leaves it rounded to an integer in the low mantissa bits. */
    private static final float ROUNDER = 12582912f;
    private static final int ROUNDER_BITS = Float.floatToRawIntBits(ROUNDER);
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    private static final float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f, P3 = 4.1665795894e-2f,
            P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

    private VectorExp() {}

    /** {@code e^x} lane by lane; the same bits as {@link #exp(float)} gives each lane. */
    public static FloatVector exp(FloatVector x) {
        var species = x.species();
        FloatVector c = x.max(LOW).min(HIGH);
        FloatVector t = c.fma(LOG2E, ROUNDER);
        FloatVector n = t.sub(ROUNDER);
        FloatVector r = n.fma(FloatVector.broadcast(species, -LN2_HI), c);
        r = n.fma(FloatVector.broadcast(species, -LN2_LO), r);
        FloatVector p = r.fma(P0, P1);
        p = p.fma(r, FloatVector.broadcast(species, P2));
        p = p.fma(r, FloatVector.broadcast(species, P3));
        p = p.fma(r, FloatVector.broadcast(species, P4));
        p = p.fma(r, FloatVector.broadcast(species, P5));
        FloatVector y = p.fma(r.mul(r), r).add(1f);
        FloatVector scale = t.reinterpretAsInts().sub(ROUNDER_BITS).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return y.mul(scale).blend(0f, x.lt(LOW));
    }

    /** {@code e^x}, as a lane of {@link #exp(FloatVector)}. */
    public static float exp(float x) {
        if (x < LOW) return 0f;
        float c = Math.min(Math.max(x, LOW), HIGH);
        float t = Math.fma(c, LOG2E, ROUNDER);
        float n = t - ROUNDER;
        float r = Math.fma(n, -LN2_HI, c);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(r, P0, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        float y = Math.fma(p, r * r, r) + 1f;
        float scale = Float.intBitsToFloat((Float.floatToRawIntBits(t) - ROUNDER_BITS + 127) << 23);
        return y * scale;
    }
}
