package dev.kvasir.memory.search;

/**
 * The process's product-quantization codebook ({@code --memory-vectors pq}): one for every user's
 * index (all-MiniLM-L6-v2 vectors share one space), trained once, from the vectors of the first
 * index that reaches {@link #TRAINING_MINIMUM} memories. Until then indexes keep exact floats.
 * Training is synchronous (about a second, once per process), so the same writes in the same order
 * always give the same codebook.
 */
final class SharedCodebook {
    static final int TRAINING_MINIMUM = 1024;
    private static final long SEED = 0x6b76617369724cL;

    private volatile ProductQuantizer codebook;

    ProductQuantizer get() {
        return codebook;
    }

    /** The codebook, trained from rows 0..rows-1 of {@code vectors} when there is none yet. */
    synchronized ProductQuantizer trainIfAbsent(float[] vectors, int rows) {
        if (codebook == null) codebook = ProductQuantizer.train(vectors, rows, SEED);
        return codebook;
    }
}
