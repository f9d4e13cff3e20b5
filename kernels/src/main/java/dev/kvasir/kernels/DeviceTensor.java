package dev.kvasir.kernels;

/**
 * A float array that lives where its {@link Backend} computes (the heap for the CPU backend, GPU
 * memory for a CUDA one). Opaque to callers: data moves in and out through
 * {@link Backend#upload} and {@link Backend#download}.
 */
public interface DeviceTensor {

    /** Capacity in floats. */
    long size();
}
