package dev.kvasir.models.sampling;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplerTest {

    private static final float[] LOGITS = {1.0f, 3.0f, 2.5f, -1.0f, 0.5f, 2.9f};
    private static final int[] NONE = new int[0];

    private static SamplingParams params(float t, float topP, int topK, float minP, Long seed,
                                         float rep, float presence, float frequency, int logprobs) {
        return new SamplingParams(t, topP, topK, minP, seed, rep, presence, frequency, logprobs);
    }

    private static int[] draw(SamplingParams p, int n) {
        Sampler s = new Sampler(p);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) out[i] = s.sample(LOGITS, NONE, NONE, 0).tokenId();
        return out;
    }

    @Test
    void greedyTakesTheLargestLogit() {
        assertEquals(1, new Sampler(SamplingParams.greedy()).sample(LOGITS, NONE, NONE, 0).tokenId());
    }

    @Test
    void sameSeedSameTokensOtherSeedOtherTokens() {
        int[] a = draw(SamplingParams.temperature(1.5f, 42L), 200);
        assertArrayEquals(a, draw(SamplingParams.temperature(1.5f, 42L), 200));
        assertNotEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(draw(SamplingParams.temperature(1.5f, 43L), 200)));
    }

    @Test
    void temperatureSamplingFollowsTheSoftmax() {
        int n = 40_000;
        int[] counts = new int[LOGITS.length];
        for (int t : draw(SamplingParams.temperature(1f, 7L), n)) counts[t]++;
        double z = 0;
        for (float l : LOGITS) z += Math.exp(l);
        for (int i = 0; i < LOGITS.length; i++) {
            double expected = Math.exp(LOGITS[i]) / z;
            assertEquals(expected, counts[i] / (double) n, 0.01, "token " + i);
        }
    }

    @Test
    void topKKeepsOnlyTheKMostLikely() {
        Set<Integer> seen = new HashSet<>();
        for (int t : draw(params(5f, 1f, 2, 0f, 1L, 1f, 0f, 0f, -1), 500)) seen.add(t);
        assertEquals(Set.of(1, 5), seen);
        assertArrayEquals(new int[] {1, 1, 1}, draw(params(5f, 1f, 1, 0f, 1L, 1f, 0f, 0f, -1), 3));
    }

    @Test
    void topPKeepsTheSmallestSetReachingTheMass() {
        // Probabilities at T=1: token 1 ≈ 0.36, 5 ≈ 0.33, 2 ≈ 0.22: top_p 0.6 keeps {1, 5}.
        Set<Integer> seen = new HashSet<>();
        for (int t : draw(params(1f, 0.6f, -1, 0f, 2L, 1f, 0f, 0f, -1), 2000)) seen.add(t);
        assertEquals(Set.of(1, 5), seen);
    }

    @Test
    void minPDropsTokensFarBelowTheBest() {
        // Relative to token 1: token 5 ≈ 0.90, token 2 ≈ 0.61, token 0 ≈ 0.14.
        Set<Integer> seen = new HashSet<>();
        for (int t : draw(params(1f, 1f, -1, 0.5f, 3L, 1f, 0f, 0f, -1), 2000)) seen.add(t);
        assertEquals(Set.of(1, 2, 5), seen);
    }

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeLogitsOnce() {
        float[] logits = {2f, -1f, 1.9f, 0f};
        // Token 0 appears in prompt and output (penalized once): 2 / 2 = 1 < 1.9.
        Sampler s = new Sampler(params(0f, 1f, -1, 0f, null, 2f, 0f, 0f, -1));
        assertEquals(2, s.sample(logits, new int[] {0}, new int[] {0, 0}, 2).tokenId());
        // Negative logits move further down: token 1 at -2 stays below token 3 at 0.
        float[] neg = {-5f, -1f, -5f, -1.5f};
        assertEquals(3, new Sampler(params(0f, 1f, -1, 0f, null, 2f, 0f, 0f, -1)).sample(neg, new int[] {1}, NONE, 0).tokenId());
        assertArrayEquals(new float[] {2f, -1f, 1.9f, 0f}, logits, "the caller's logits are not modified");
    }

    @Test
    void presenceAndFrequencyPenaltiesCountGeneratedTokensOnly() {
        float[] logits = {3f, 2.5f, 0f};
        // frequency 0.3 x 2 occurrences = 0.6 takes token 0 to 2.4 < 2.5; the prompt does not count.
        Sampler f = new Sampler(params(0f, 1f, -1, 0f, null, 1f, 0f, 0.3f, -1));
        assertEquals(1, f.sample(logits, new int[] {1, 1, 1}, new int[] {0, 0, 2}, 3).tokenId());
        assertEquals(0, f.sample(logits, NONE, new int[] {0}, 1).tokenId());
        Sampler p = new Sampler(params(0f, 1f, -1, 0f, null, 1f, 0.6f, 0f, -1));
        assertEquals(1, p.sample(logits, NONE, new int[] {0}, 1).tokenId());
    }

    @Test
    void logprobsAreTheRawLogSoftmaxWithTopAlternativesInOrder() {
        SampledToken t = new Sampler(params(0f, 1f, -1, 0f, null, 1f, 0f, 0f, 3)).sample(LOGITS, NONE, NONE, 0);
        double z = 0;
        for (float l : LOGITS) z += Math.exp(l);
        assertEquals(LOGITS[1] - Math.log(z), t.logprob(), 1e-5);
        assertArrayEquals(new int[] {1, 5, 2}, t.topIds());
        for (int i = 0; i < 3; i++) assertEquals(LOGITS[t.topIds()[i]] - Math.log(z), t.topLogprobs()[i], 1e-5);
        SampledToken none = new Sampler(SamplingParams.greedy()).sample(LOGITS, NONE, NONE, 0);
        assertTrue(Float.isNaN(none.logprob()));
        assertEquals(0, none.topIds().length);
    }

    /**
     * The draw sorts only the tokens above a threshold; it must pick exactly what sorting the whole
     * vocabulary would (the reference below), on peaked, flat and tied distributions alike.
     */
    @Test
    void thresholdedSortDrawsExactlyWhatAFullSortDraws() {
        Random rnd = new Random(7);
        float[] topPs = {0.05f, 0.5f, 0.9f, 0.99f, 1f};
        int[] topKs = {-1, 1, 3, 40, 1000};
        float[] minPs = {0f, 0f, 0.001f, 0.05f, 0.3f};
        float[] temps = {0.2f, 0.7f, 1f, 1.5f};
        int checked = 0;
        for (int c = 0; c < 3000; c++) {
            int vocab = 1 + rnd.nextInt(c % 10 == 0 ? 40000 : 600);
            float[] logits = new float[vocab];
            float scale = new float[] {0.05f, 1f, 4f, 15f}[rnd.nextInt(4)];
            boolean ties = rnd.nextInt(4) == 0;
            for (int i = 0; i < vocab; i++) {
                logits[i] = (float) rnd.nextGaussian() * scale;
                if (ties) logits[i] = Math.round(logits[i]);
            }
            float topP = topPs[rnd.nextInt(topPs.length)];
            int topK = topKs[rnd.nextInt(topKs.length)];
            float minP = minPs[rnd.nextInt(minPs.length)];
            boolean topKFilters = topK > 0 && topK < vocab;
            if (topP == 1f && !topKFilters && minP == 0f) minP = 0.01f; // the unfiltered path has no sort
            float t = temps[rnd.nextInt(temps.length)];
            long seed = rnd.nextLong();
            SamplingParams p = params(t, topP, topK, minP, seed, 1f, 0f, 0f, -1);
            int got = new Sampler(p).sample(logits, NONE, NONE, 0).tokenId();
            assertEquals(fullSortDraw(logits, p, seed), got, "case " + c + ": vocab " + vocab + ", " + p);
            checked++;
        }
        assertEquals(3000, checked);
    }

    /** The draw with the whole vocabulary sorted: the algorithm before the threshold was added. */
    private static int fullSortDraw(float[] logits, SamplingParams p, long seed) {
        float[] x = logits.clone();
        int vocab = x.length;
        double total = Sampler.softmaxWeights(x, 1f / p.temperature());
        long[] order = new long[vocab];
        for (int i = 0; i < vocab; i++) order[i] = (long) (Integer.MAX_VALUE - Float.floatToRawIntBits(x[i])) << 32 | i;
        Arrays.sort(order);
        int keep = p.topK() > 0 ? Math.min(p.topK(), vocab) : vocab;
        double topMass = 0, cut = p.topP() * total;
        float minProb = p.minP() * x[(int) order[0]];
        int k = 0;
        while (k < keep) {
            float pr = x[(int) order[k]];
            if (k > 0 && pr < minProb) break;
            topMass += pr;
            k++;
            if (topMass >= cut) break;
        }
        double r = new SplittableRandom(seed).nextDouble() * topMass;
        for (int i = 0; i < k; i++) {
            r -= x[(int) order[i]];
            if (r < 0) return (int) order[i];
        }
        return (int) order[k - 1];
    }
}
