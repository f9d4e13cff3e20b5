package dev.kvasir.kernels;

/**
 * Shape of a paged KV cache. Per layer, K and V are each {@code [numBlocks][blockSize][numKvHeads][headDim]}
 * floats; token slot {@code s = block * blockSize + offset}. A block is the unit every backend
 * copies whole; inside one, a backend may order the elements for its attention (the CPU backend
 * keeps K dimension-major, {@code [numKvHeads][headDim][blockSize]}).
 */
public record KvLayout(int numLayers, int numBlocks, int blockSize, int numKvHeads, int headDim) {

    public KvLayout {
        if (numLayers <= 0 || numBlocks < 0 || blockSize <= 0 || numKvHeads <= 0 || headDim <= 0) {
            throw new IllegalArgumentException("invalid KV layout: " + numLayers + " layers, " + numBlocks
                    + " blocks of " + blockSize + ", " + numKvHeads + " KV heads of " + headDim);
        }
    }

    /** Floats of one token slot (one of K or V, one layer). */
    public int slotFloats() {
        return numKvHeads * headDim;
    }

    /** Floats of one block (one of K or V, one layer). */
    public long blockFloats() {
        return (long) blockSize * slotFloats();
    }

    /** Bytes one block takes over all layers, K and V, in f32. */
    public long bytesPerBlock() {
        return 2L * numLayers * blockFloats() * Float.BYTES;
    }
}
