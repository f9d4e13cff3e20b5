package dev.kvasir.models.cuda;

import dev.kvasir.models.sampling.Sampler;
import dev.kvasir.kernels.cuda.CudaTestSupport;
import dev.kvasir.models.ForwardBatch;
import dev.kvasir.models.LlamaModel;
import dev.kvasir.models.SequenceChunk;

import java.util.List;

/** Shorthand for the model-level GPU tests: one sequence's steps through its block table, and comparisons. */
final class GpuSteps {

    private GpuSteps() {}

    /**
     * Skips the calling test, with the probe's reason, where CUDA cannot run; in the cuda-sim
     * execution fails instead and checks that the device is the simulator (see {@link CudaTestSupport}).
     */
    static void requireGpu() {
        CudaTestSupport.requireCuda();
    }

    /** Slots of positions {@code from .. from + n - 1} under a block table. */
    static int[] slots(int[] blockTable, int blockSize, int from, int n) {
        int[] s = new int[n];
        for (int i = 0; i < n; i++) {
            int pos = from + i;
            s[i] = blockTable[pos / blockSize] * blockSize + pos % blockSize;
        }
        return s;
    }

    static SequenceChunk chunk(long seqId, int[] tokens, int startPos, int[] table, int blockSize) {
        return new SequenceChunk(seqId, tokens, startPos, slots(table, blockSize, startPos, tokens.length), table, true);
    }

    /**
     * Feeds {@code tokens} at {@code startPos..} in one step; a copy of the logits after the last (the
     * model's own row is overwritten by its next step, and tests keep and compare results).
     */
    static float[] run(LlamaModel m, int[] tokens, int startPos, int[] table, int blockSize) {
        return m.forward(new ForwardBatch(List.of(chunk(0, tokens, startPos, table, blockSize))))[0].clone();
    }

    /**
     * Greedy decoding from {@code logits}, the logits after position {@code pos - 1}: {@code steps}
     * tokens, each fed back at the next position.
     */
    static int[] greedyFrom(LlamaModel m, float[] logits, int pos, int steps, int[] table, int blockSize) {
        int[] out = new int[steps];
        for (int s = 0; s < steps; s++) {
            out[s] = Sampler.argmax(logits);
            if (s + 1 < steps) logits = run(m, new int[] {out[s]}, pos + s, table, blockSize);
        }
        return out;
    }

    /** Blocks {@code first, first + 1, ...}. */
    static int[] table(int first, int count) {
        int[] t = new int[count];
        for (int i = 0; i < count; i++) t[i] = first + i;
        return t;
    }

    /** {@code ||a - b|| / ||b||}; NaN anywhere in {@code a} gives NaN, which fails every bound. */
    static double relativeError(float[] a, float[] b) {
        if (a.length != b.length) throw new IllegalArgumentException(a.length + " vs " + b.length + " values");
        double num = 0, den = 0;
        for (int i = 0; i < b.length; i++) {
            double d = (double) a[i] - b[i];
            num += d * d;
            den += (double) b[i] * b[i];
        }
        return Math.sqrt(num / den);
    }
}
