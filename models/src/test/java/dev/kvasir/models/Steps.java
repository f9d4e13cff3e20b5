package dev.kvasir.models;

import java.util.List;

/** Test shorthand for driving {@link LlamaModel} one sequence at a time. */
final class Steps {

    private Steps() {}

    /** Slots of positions {@code from .. from + n - 1} under a block table. */
    static int[] slots(int[] blockTable, int blockSize, int from, int n) {
        int[] s = new int[n];
        for (int i = 0; i < n; i++) {
            int pos = from + i;
            s[i] = blockTable[pos / blockSize] * blockSize + pos % blockSize;
        }
        return s;
    }

    /**
     * Feeds {@code tokens} at {@code startPos..} in one step; a copy of the logits after the last (the
     * model's own row is overwritten by its next step, and tests keep and compare results).
     */
    static float[] run(LlamaModel m, int[] tokens, int startPos, int[] blockTable, int blockSize) {
        SequenceChunk c = new SequenceChunk(0, tokens, startPos, slots(blockTable, blockSize, startPos, tokens.length),
                blockTable, true);
        return m.forward(new ForwardBatch(List.of(c)))[0].clone();
    }

    static int[] identity(int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = i;
        return t;
    }

    /** ||a - b|| / ||b||. */
    static double relativeError(float[] a, double[] b) {
        double num = 0, den = 0;
        for (int i = 0; i < b.length; i++) {
            num += (a[i] - b[i]) * (a[i] - b[i]);
            den += b[i] * b[i];
        }
        return Math.sqrt(num / den);
    }

    static double relativeError(float[] a, float[] b) {
        double[] d = new double[b.length];
        for (int i = 0; i < b.length; i++) d[i] = b[i];
        return relativeError(a, d);
    }
}
