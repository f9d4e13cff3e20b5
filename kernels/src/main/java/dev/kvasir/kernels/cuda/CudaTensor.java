package dev.kvasir.kernels.cuda;

import dev.kvasir.kernels.DeviceTensor;

/** f32 values in device memory, allocated by a {@link CudaBackend}. */
final class CudaTensor implements DeviceTensor {

    final long ptr;
    final long floats;
    /** A weight vector (norm scales) rather than an activation: counted as weights in the memory plan. */
    final boolean weight;
    boolean freed;

    CudaTensor(long ptr, long floats, boolean weight) {
        this.ptr = ptr;
        this.floats = floats;
        this.weight = weight;
    }

    @Override
    public long size() {
        return floats;
    }

    /** Device address of element {@code index}. */
    long at(long index) {
        return ptr + index * Float.BYTES;
    }

    static CudaTensor of(DeviceTensor t) {
        if (t instanceof CudaTensor c) {
            if (c.freed) throw new IllegalStateException("CUDA tensor used after it was freed");
            return c;
        }
        throw new IllegalArgumentException("not a CUDA tensor: " + t);
    }

    /** Throws unless the tensor holds at least {@code floats} values (what an op is about to touch). */
    CudaTensor require(long needed, String what) {
        if (needed > floats) {
            throw new IllegalArgumentException(what + " needs " + needed + " floats but the tensor holds " + floats);
        }
        return this;
    }
}
