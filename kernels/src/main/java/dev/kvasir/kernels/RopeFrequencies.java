package dev.kvasir.kernels;

/**
 * RoPE rotation angles: {@code angle(pos, i) = pos * invFreq[i]} for pair {@code i < headDim/2},
 * {@code invFreq[i] = theta^(-2i/headDim)}, optionally rescaled the Llama 3.1 way (low
 * frequencies slowed by {@code factor}, high ones kept, a smooth ramp between).
 */
public final class RopeFrequencies {

    private final float[] invFreq;

    private RopeFrequencies(float[] invFreq) {
        this.invFreq = invFreq;
    }

    public static RopeFrequencies of(int headDim, float theta) {
        return new RopeFrequencies(base(headDim, theta));
    }

    /** Llama 3 {@code rope_scaling} ({@code rope_type: llama3}). */
    public static RopeFrequencies llama3(int headDim, float theta, float factor, float lowFreqFactor,
                                         float highFreqFactor, int originalContextLength) {
        float[] f = base(headDim, theta);
        double lowFreqWavelen = originalContextLength / (double) lowFreqFactor;
        double highFreqWavelen = originalContextLength / (double) highFreqFactor;
        for (int i = 0; i < f.length; i++) {
            double wavelen = 2 * Math.PI / f[i];
            if (wavelen < highFreqWavelen) continue;
            if (wavelen > lowFreqWavelen) {
                f[i] = f[i] / factor;
            } else {
                double smooth = (originalContextLength / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                f[i] = (float) ((1 - smooth) * f[i] / factor + smooth * f[i]);
            }
        }
        return new RopeFrequencies(f);
    }

    private static float[] base(int headDim, float theta) {
        float[] f = new float[headDim / 2];
        for (int i = 0; i < f.length; i++) f[i] = (float) (1.0 / Math.pow(theta, (2.0 * i) / headDim));
        return f;
    }

    public int pairs() {
        return invFreq.length;
    }

    public float invFreq(int i) {
        return invFreq[i];
    }

    /**
     * Fills {@code out[t * headDim ..]} for {@code n} positions: first headDim/2 cosines, then
     * headDim/2 sines. The layout {@link Backend#rope} reads.
     */
    public void cosSin(int[] positions, int n, float[] out) {
        int half = invFreq.length;
        for (int t = 0; t < n; t++) {
            int base = t * 2 * half;
            for (int i = 0; i < half; i++) {
                double angle = positions[t] * (double) invFreq[i];
                out[base + i] = (float) Math.cos(angle);
                out[base + half + i] = (float) Math.sin(angle);
            }
        }
    }
}
