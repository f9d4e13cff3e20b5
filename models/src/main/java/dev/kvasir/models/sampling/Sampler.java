package dev.kvasir.models.sampling;

import dev.kvasir.kernels.cpu.VectorExp;
import dev.kvasir.models.sampling.constraint.ConstraintState;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks next tokens for one request. Order of operations (vLLM's): a constraint's token mask
 * (structured outputs: disallowed tokens get -inf), penalties on the raw logits, then greedy
 * argmax, or temperature, top-k, top-p and min-p filtering and a draw from the request's own
 * seeded generator. Keeps its work arrays between calls; one instance per request, used from one
 * thread.
 */
public final class Sampler {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Vectors summed in float lanes before the partial sum moves into the double total. */
    private static final int SUM_SPAN = 64 * F.length();
    private static final int[] NO_IDS = new int[0];
    private static final float[] NO_LOGPROBS = new float[0];

    private final SamplingParams p;
    private final SplittableRandom random;
    private float[] work = new float[0];
    private long[] order = new long[0];
    private int[] counts = new int[0];
    /** Tokens already penalized in this call, one bit each (cleared word by word afterwards). */
    private long[] seen = new long[0];

    public Sampler(SamplingParams params) {
        this.p = params;
        this.random = params.seed() != null ? new SplittableRandom(params.seed()) : new SplittableRandom();
    }

    public SamplingParams params() {
        return p;
    }

    /**
     * @param logits          the model's logits for the next position (not modified)
     * @param promptTokens    the prompt, for the repetition penalty
     * @param generatedTokens tokens generated so far (first {@code numGenerated} valid)
     */
    public SampledToken sample(float[] logits, int[] promptTokens, int[] generatedTokens, int numGenerated) {
        return sample(logits, promptTokens, generatedTokens, numGenerated, null);
    }

    /**
     * As {@link #sample(float[], int[], int[], int)}, restricted to the tokens {@code constraint}
     * allows next (all tokens when null). The caller advances the constraint with the chosen token
     * ({@link ConstraintState#accept}); the sampler only reads it. Logprobs stay those of the raw
     * distribution.
     */
    public SampledToken sample(float[] logits, int[] promptTokens, int[] generatedTokens, int numGenerated,
                               ConstraintState constraint) {
        int vocab = logits.length;
        if (work.length != vocab) {
            work = new float[vocab];
            counts = new int[vocab];
            seen = new long[(vocab + 63) >>> 6];
        }
        float[] x = work;
        System.arraycopy(logits, 0, x, 0, vocab);
        if (constraint != null) applyMask(x, constraint.allowedTokens());
        applyPenalties(x, promptTokens, generatedTokens, numGenerated);
        int chosen = p.isGreedy() ? argmax(x) : draw(x);
        return withLogprobs(logits, chosen);
    }

    /**
     * Disallowed tokens (clear bits, and ids beyond the mask, such as padded output rows) to -inf.
     * Whole words at a time where a word is all allowed or all disallowed. Public for batched
     * samplers and benchmarks; throws when nothing is allowed.
     */
    public static void applyMask(float[] x, long[] allowed) {
        int vocab = x.length;
        boolean any = false;
        for (int w = 0; w < allowed.length && (w << 6) < vocab; w++) {
            int base = w << 6, end = Math.min(base + 64, vocab);
            long bits = end - base == 64 ? allowed[w] : allowed[w] & ((1L << (end - base)) - 1);
            if (bits == -1L) {
                any = true;
            } else if (bits == 0) {
                Arrays.fill(x, base, end, Float.NEGATIVE_INFINITY);
            } else {
                any = true;
                for (long off = ~bits; off != 0; off &= off - 1) {
                    int i = base + Long.numberOfTrailingZeros(off);
                    if (i < end) x[i] = Float.NEGATIVE_INFINITY;
                }
            }
        }
        int covered = Math.min(vocab, allowed.length << 6);
        if (covered < vocab) Arrays.fill(x, covered, vocab, Float.NEGATIVE_INFINITY);
        if (!any) throw new IllegalStateException("the constraint allows no token of the model's " + vocab + " here");
    }

    private void applyPenalties(float[] x, int[] prompt, int[] generated, int numGenerated) {
        if (p.repetitionPenalty() != 1f) {
            // Once per distinct token of prompt and output together.
            if (prompt != null) for (int t : prompt) penalizeOnce(x, t);
            for (int i = 0; i < numGenerated; i++) penalizeOnce(x, generated[i]);
            if (prompt != null) for (int t : prompt) seen[t >>> 6] = 0;
            for (int i = 0; i < numGenerated; i++) seen[generated[i] >>> 6] = 0;
        }
        if (p.presencePenalty() != 0f || p.frequencyPenalty() != 0f) {
            for (int i = 0; i < numGenerated; i++) counts[generated[i]]++;
            for (int i = 0; i < numGenerated; i++) {
                int t = generated[i];
                if (counts[t] > 0) {
                    x[t] -= p.frequencyPenalty() * counts[t] + p.presencePenalty();
                    counts[t] = 0; // applied; also leaves counts all zero for the next call
                }
            }
        }
    }

    private void penalizeOnce(float[] x, int t) {
        long bit = 1L << t;
        if ((seen[t >>> 6] & bit) != 0) return;
        seen[t >>> 6] |= bit;
        penalize(x, t, p.repetitionPenalty());
    }

    private static void penalize(float[] x, int t, float rp) {
        x[t] = x[t] > 0 ? x[t] / rp : x[t] * rp;
    }

    /** The index of the largest value, the first on ties: greedy decoding, the one argmax everything uses. */
    public static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    /**
     * Temperature, then top-k / top-p / min-p over the tokens sorted by probability, then one draw.
     *
     * <p>Only tokens at or above a threshold are sorted: those above any threshold are a prefix of
     * the whole vocabulary's sorted order, so when the walk that applies the filters stops inside
     * that prefix, the draw is exactly the one a full sort would give. The threshold starts at
     * 1/16 of the top probability (or at min-p's cut-off, below which nothing is kept) and drops
     * 16-fold until the walk stops inside; a peaked distribution sorts a few dozen tokens instead
     * of the whole vocabulary.
     */
    private int draw(float[] x) {
        int vocab = x.length;
        double total = softmaxWeights(x, 1f / p.temperature());
        boolean filtered = (p.topK() > 0 && p.topK() < vocab) || p.topP() < 1f || p.minP() > 0f;
        if (!filtered) return drawFrom(x, total);
        if (order.length != vocab) order = new long[vocab];
        int keep = p.topK() > 0 ? Math.min(p.topK(), vocab) : vocab;
        double cut = p.topP() * total;
        float minProb = p.minP(); // times the top probability, which softmaxWeights made exp(0) = 1
        float threshold = Math.max(1f / 16, minProb);
        double topMass;
        int k;
        while (true) {
            int n = 0;
            for (int i = 0; i < vocab; i++) {
                // Probabilities are non-negative, so their bit patterns order like the values;
                // ties go by token id so the order is reproducible.
                if (x[i] >= threshold) order[n++] = (long) (Integer.MAX_VALUE - Float.floatToRawIntBits(x[i])) << 32 | i;
            }
            Arrays.sort(order, 0, n);
            topMass = 0;
            k = 0;
            boolean stopped = false;
            while (k < Math.min(keep, n)) {
                float pr = x[id(order[k])];
                if (k > 0 && pr < minProb) {
                    stopped = true;
                    break;
                }
                topMass += pr;
                k++;
                if (topMass >= cut) {
                    stopped = true;
                    break;
                }
            }
            // Everything below the threshold is also below min-p's cut-off: nothing more can be kept.
            if (stopped || k == keep || n == vocab || threshold <= minProb) break;
            threshold = threshold / 16 > 1e-30f ? Math.max(threshold / 16, minProb) : minProb;
        }
        double r = random.nextDouble() * topMass;
        for (int i = 0; i < k; i++) {
            r -= x[id(order[i])];
            if (r < 0) return id(order[i]);
        }
        return id(order[k - 1]);
    }

    /**
     * {@code x[i] = exp((x[i] - max) * invT)}, the unnormalized probabilities, and their sum. On the
     * whole vocabulary every step, so in vectors: the max, the exponentials and the sum (float lanes
     * over short spans, then into a double total). {@link VectorExp} gives the same bits whether the
     * JIT has compiled this yet or not, so a seeded sample does not depend on the server's age.
     */
    static double softmaxWeights(float[] x, float invT) {
        int n = x.length, bound = F.loopBound(n);
        FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        for (int i = 0; i < bound; i += F.length()) mv = mv.max(FloatVector.fromArray(F, x, i));
        float max = mv.reduceLanes(VectorOperators.MAX);
        for (int i = bound; i < n; i++) max = Math.max(max, x[i]);
        FloatVector vmax = FloatVector.broadcast(F, max);
        double total = 0;
        for (int span = 0; span < bound; span += SUM_SPAN) {
            int end = Math.min(bound, span + SUM_SPAN);
            FloatVector acc = FloatVector.zero(F);
            for (int i = span; i < end; i += F.length()) {
                FloatVector e = VectorExp.exp(FloatVector.fromArray(F, x, i).sub(vmax).mul(invT));
                e.intoArray(x, i);
                acc = acc.add(e);
            }
            for (int l = 0; l < F.length(); l++) total += acc.lane(l); // in lane order: reduceLanes' order differs cold and compiled
        }
        for (int i = bound; i < n; i++) {
            float e = VectorExp.exp((x[i] - max) * invT);
            x[i] = e;
            total += e;
        }
        return total;
    }

    private int drawFrom(float[] probs, double total) {
        double r = random.nextDouble() * total;
        int last = 0;
        for (int i = 0; i < probs.length; i++) {
            if (probs[i] <= 0) continue;
            last = i;
            r -= probs[i];
            if (r < 0) return i;
        }
        return last;
    }

    private static int id(long packed) {
        return (int) packed;
    }

    /** Log-softmax of the raw logits for the chosen token and the top alternatives. */
    private SampledToken withLogprobs(float[] logits, int chosen) {
        int k = p.topLogprobs();
        if (k < 0) return new SampledToken(chosen, Float.NaN, NO_IDS, NO_LOGPROBS);
        float max = Float.NEGATIVE_INFINITY;
        for (float v : logits) max = Math.max(max, v);
        double sum = 0;
        for (float v : logits) sum += Math.exp(v - max);
        float logZ = (float) (max + Math.log(sum));
        k = Math.min(k, logits.length);
        int[] ids = new int[k];
        float[] lps = new float[k];
        // Selection of the k largest: k is small (OpenAI allows up to 20).
        int filled = 0;
        for (int i = 0; i < logits.length; i++) {
            float v = logits[i];
            if (filled == k && (k == 0 || v <= logits[ids[k - 1]])) continue;
            int j = filled < k ? filled++ : k - 1;
            while (j > 0 && logits[ids[j - 1]] < v) {
                ids[j] = ids[j - 1];
                j--;
            }
            ids[j] = i;
        }
        for (int i = 0; i < k; i++) lps[i] = logits[ids[i]] - logZ;
        return new SampledToken(chosen, logits[chosen] - logZ, ids, lps);
    }
}
