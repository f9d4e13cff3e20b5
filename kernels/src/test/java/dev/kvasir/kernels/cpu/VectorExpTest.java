package dev.kvasir.kernels.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/** The exp of softmax, SiLU and sampling: vector lanes and the scalar form agree to the bit, and both are close to Math.exp. */
class VectorExpTest {

    @Test
    void lanesAndScalarAgreeToTheBitAndStayWithinTwoUlp() {
        Random random = new Random(5);
        int n = 1 << 16, lanes = WeightLoads.L;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (random.nextDouble() * 200 - 110);
        float[] special = {0f, -0f, 1f, -1f, 88.3f, 88.37626f, 89f, 1000f, -87.3f, -87.34f, -100f, Float.NEGATIVE_INFINITY, 1e-8f,
                -1e-8f, 0.6931472f, -0.6931472f};
        System.arraycopy(special, 0, x, 0, special.length);
        float[] lanesOut = new float[n];
        for (int i = 0; i < n; i += lanes) VectorExp.exp(FloatVector.fromArray(WeightLoads.F, x, i)).intoArray(lanesOut, i);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            float scalar = VectorExp.exp(x[i]);
            assertEquals(Float.floatToRawIntBits(scalar), Float.floatToRawIntBits(lanesOut[i]), "exp(" + x[i] + ")");
            double exact = Math.exp(Math.min(x[i], 88.37626f)); // above the range: clamped
            if (x[i] < -87.33654f) {
                assertEquals(0f, scalar, "below the normal range: exactly 0 (a masked logit keeps no probability)");
            } else {
                double ulps = Math.abs(scalar - exact) / Math.ulp((float) exact);
                assertTrue(ulps <= 2, "exp(" + x[i] + ") is " + ulps + " ulp off");
                worst = Math.max(worst, ulps);
            }
        }
        assertTrue(worst <= 2, "worst error " + worst + " ulp");
        assertEquals(1f, VectorExp.exp(0f));
    }
}
