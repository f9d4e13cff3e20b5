package dev.kvasir.models;

import dev.kvasir.models.sampling.Sampler;

import java.util.List;

/** Test shorthand for driving {@link LlamaModel} one sequence at a time through its block table (any backend). */
public final class Steps {

    private Steps() {}

    /** Slots of positions {@code from .. from + n - 1} under a block table. */
    public static int[] slots(int[] blockTable, int blockSize, int from, int n) {
        int[] s = new int[n];
        for (int i = 0; i < n; i++) {
            int pos = from + i;
            s[i] = blockTable[pos / blockSize] * blockSize + pos % blockSize;
        }
        return s;
    }

    /** Tokens at {@code startPos..} of sequence {@code seqId}, wanting logits. */
    public static SequenceChunk chunk(long seqId, int[] tokens, int startPos, int[] table, int blockSize) {
        return new SequenceChunk(seqId, tokens, startPos, slots(table, blockSize, startPos, tokens.length), table, true);
    }

    /**
     * Feeds {@code tokens} at {@code startPos..} in one step; a copy of the logits after the last (the
     * model's own row is overwritten by its next step, and tests keep and compare results).
     */
    public static float[] run(LlamaModel m, int[] tokens, int startPos, int[] blockTable, int blockSize) {
        return m.forward(new ForwardBatch(List.of(chunk(0, tokens, startPos, blockTable, blockSize))))[0].clone();
    }

    /**
     * Greedy decoding from {@code logits}, the logits after position {@code pos - 1}: {@code steps}
     * tokens, each fed back at the next position.
     */
    public static int[] greedyFrom(LlamaModel m, float[] logits, int pos, int steps, int[] table, int blockSize) {
        int[] out = new int[steps];
        for (int s = 0; s < steps; s++) {
            out[s] = Sampler.argmax(logits);
            if (s + 1 < steps) logits = run(m, new int[] {out[s]}, pos + s, table, blockSize);
        }
        return out;
    }

    /** Blocks {@code first, first + 1, ...}. */
    public static int[] table(int first, int count) {
        int[] t = new int[count];
        for (int i = 0; i < count; i++) t[i] = first + i;
        return t;
    }

    static int[] identity(int n) {
        return table(0, n);
    }

    /** {@code ||a - b|| / ||b||}; NaN anywhere in {@code a} gives NaN, which fails every bound. */
    public static double relativeError(float[] a, double[] b) {
        if (a.length != b.length) throw new IllegalArgumentException(a.length + " vs " + b.length + " values");
        double num = 0, den = 0;
        for (int i = 0; i < b.length; i++) {
            double d = a[i] - b[i];
            num += d * d;
            den += b[i] * b[i];
        }
        return Math.sqrt(num / den);
    }

    public static double relativeError(float[] a, float[] b) {
        double[] d = new double[b.length];
        for (int i = 0; i < b.length; i++) d[i] = b[i];
        return relativeError(a, d);
    }
}
