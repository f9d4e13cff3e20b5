package dev.kvasir.kernels;

/** K and V pages of every layer, allocated by a {@link Backend} (device memory, or host memory for swap). */
public interface KvCache extends AutoCloseable {

    KvLayout layout();

    /** Frees the pages. */
    @Override
    void close();
}
