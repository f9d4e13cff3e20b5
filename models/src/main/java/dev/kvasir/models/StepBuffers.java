package dev.kvasir.models;

import dev.kvasir.kernels.Backend;
import dev.kvasir.kernels.DeviceTensor;

/**
 * Activations of one forward step, sized for {@code capacity} tokens and regrown (rarely) when a
 * step brings more; host-side metadata arrays alongside.
 */
final class StepBuffers {

    private final Backend backend;
    private final LlamaConfig c;
    int capacity;
    /** Residual stream {@code [n][dim]}. */
    DeviceTensor x;
    /** Normalized input of a sub-layer, and a sub-layer's output, {@code [n][dim]}. */
    DeviceTensor xb, xb2;
    DeviceTensor q, k, v, att;
    /** Feed-forward gate and up projections {@code [n][ffnDim]}. */
    DeviceTensor hb, hb2;
    DeviceTensor cosSin;
    /** {q, k, v} and {hb, hb2}: outputs of the fused projections. */
    final DeviceTensor[] qkv = new DeviceTensor[3];
    final DeviceTensor[] gateUp = new DeviceTensor[2];
    int[] tokens, positions, slots;
    float[] cosSinHost;

    StepBuffers(Backend backend, LlamaConfig config) {
        this.backend = backend;
        this.c = config;
    }

    /**
     * Floats of the activation tensors {@link #ensure} allocates for {@code tokens} tokens of a model
     * (or rank) of config {@code c}: what a device's workspace holds for them (the capacity planner
     * counts with it).
     */
    static long floats(LlamaConfig c, int tokens) {
        return (long) tokens * (3L * c.dim() + 2L * c.qDim() + 2L * c.kvDim() + 2L * c.ffnDim() + c.headDim());
    }

    void ensure(int n) {
        if (n <= capacity) return;
        int cap = Math.max(n, Math.min(2 * capacity, n + 1024));
        release();
        x = backend.allocate((long) cap * c.dim());
        xb = backend.allocate((long) cap * c.dim());
        xb2 = backend.allocate((long) cap * c.dim());
        q = backend.allocate((long) cap * c.qDim());
        att = backend.allocate((long) cap * c.qDim());
        k = backend.allocate((long) cap * c.kvDim());
        v = backend.allocate((long) cap * c.kvDim());
        hb = backend.allocate((long) cap * c.ffnDim());
        hb2 = backend.allocate((long) cap * c.ffnDim());
        cosSin = backend.allocate((long) cap * c.headDim());
        tokens = new int[cap];
        positions = new int[cap];
        slots = new int[cap];
        cosSinHost = new float[cap * c.headDim()];
        qkv[0] = q;
        qkv[1] = k;
        qkv[2] = v;
        gateUp[0] = hb;
        gateUp[1] = hb2;
        capacity = cap;
    }

    void release() {
        for (DeviceTensor t : new DeviceTensor[] {x, xb, xb2, q, att, k, v, hb, hb2, cosSin}) {
            if (t != null) backend.free(t);
        }
        capacity = 0;
    }
}
