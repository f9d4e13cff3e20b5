package dev.kvasir.models;

import java.util.Arrays;

/**
 * The host logits rows of a model, {@code vocabSize} floats each, reused by every step (grown,
 * never shrunk): what {@link LlamaModel#forward} returns. Tensor-parallel ranks share one: each
 * writes its own slice of the vocabulary into the same rows, so the full rows need no gather.
 */
final class LogitRows {

    private final int vocabSize;
    private float[][] rows = new float[0][];
    /** {@code views[m]}: the first m rows, the array a step with m logits rows returns. */
    private float[][][] views = new float[1][][];

    LogitRows(int vocabSize) {
        this.vocabSize = vocabSize;
    }

    /**
     * The reused array of the first {@code m} rows, growing the rows the first time m is reached.
     * Growing is not thread-safe: with several ranks the caller asks for m before they run.
     */
    float[][] view(int m) {
        if (m >= views.length) views = Arrays.copyOf(views, Math.max(m + 1, 2 * views.length));
        float[][] view = views[m];
        if (view != null) return view;
        if (m > rows.length) {
            int old = rows.length;
            rows = Arrays.copyOf(rows, m);
            for (int i = old; i < m; i++) rows[i] = new float[vocabSize];
        }
        view = Arrays.copyOf(rows, m);
        views[m] = view;
        return view;
    }
}
