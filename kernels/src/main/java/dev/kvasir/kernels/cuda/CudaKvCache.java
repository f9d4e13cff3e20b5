package dev.kvasir.kernels.cuda;

import dev.kvasir.kernels.KvCache;
import dev.kvasir.kernels.KvLayout;

/**
 * K and V pages of every layer: per layer one allocation for K and one for V, each
 * {@code [numBlocks][blockSize][numKvHeads][headDim]} of {@link KvDtype}. A device cache lives in GPU
 * memory; a host cache (swap space) in pinned host memory, which copies reach directly through
 * unified addressing. {@code cachePtrs} is the device array of all 2 x numLayers base addresses
 * (K of layer 0, V of layer 0, K of layer 1, ...) that the copy_blocks kernel walks.
 */
final class CudaKvCache implements KvCache {

    final KvLayout layout;
    final KvDtype dtype;
    final boolean host;
    final long[] k;
    final long[] v;
    final long cachePtrs;
    private final Runnable release;
    private boolean closed;

    CudaKvCache(KvLayout layout, KvDtype dtype, boolean host, long[] k, long[] v, long cachePtrs, Runnable release) {
        this.layout = layout;
        this.dtype = dtype;
        this.host = host;
        this.k = k;
        this.v = v;
        this.cachePtrs = cachePtrs;
        this.release = release;
    }

    @Override
    public KvLayout layout() {
        return layout;
    }

    long slots() {
        return (long) layout.numBlocks() * layout.blockSize();
    }

    long blockBytes() {
        return layout.blockFloats() * dtype.bytes();
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            release.run();
        }
    }

    static CudaKvCache of(dev.kvasir.kernels.KvCache c) {
        if (c instanceof CudaKvCache cuda) {
            if (cuda.closed) throw new IllegalStateException("KV cache used after close");
            return cuda;
        }
        throw new IllegalArgumentException("not a CUDA KV cache: " + c);
    }
}
