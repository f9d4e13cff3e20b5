package dev.kvasir.kernels;

/**
 * The operations a Llama forward pass needs, on tensors that live where the backend computes.
 * Activations are row-major {@code [n][width]} float tensors; weights are {@link DeviceMatrix}es
 * prepared once; K/V live in a paged {@link KvCache} (layout in {@link KvLayout}). Host arrays
 * passed in (token ids, positions, slots, block tables) are small per-step metadata that a device
 * backend copies over. Calls come from one thread (the engine's); a backend parallelises inside.
 * Implementations: {@code cpu.CpuBackend} (Vector API); a CUDA one later.
 */
public interface Backend extends AutoCloseable {

    String name();

    // ---- memory ----

    DeviceTensor allocate(long floats);

    void upload(float[] src, int srcOff, DeviceTensor dst, long dstOff, int count);

    void download(DeviceTensor src, long srcOff, float[] dst, int dstOff, int count);

    /** Prepares a weight matrix (no copy on the CPU: the mapped data is read in place). */
    DeviceMatrix matrix(WeightTensor weight);

    /**
     * Columns {@code [fromCol, toCol)} of every row of {@code weight}: a tensor-parallel rank's share
     * of a row-parallel projection (attention output, MLP down), whose input it splits. The CPU
     * reads it in place, a strided view of the mapped file; a device backend uploads a copy of the
     * slice. The range must fall on the type's block boundaries ({@link WeightTensor#requireColumns}).
     */
    DeviceMatrix matrix(WeightTensor weight, int fromCol, int toCol);

    /** A small 1-D weight (norm scales) as floats. */
    DeviceTensor vector(WeightTensor weight);

    /** Frees a tensor this backend allocated (a no-op where the garbage collector does it). */
    void free(DeviceTensor tensor);

    /** A paged K/V cache; {@code host} asks for host memory (swap space) on a device backend. */
    KvCache allocateKvCache(KvLayout layout, boolean host);

    /**
     * Bytes of one K or V element in this backend's caches, device and swap alike: f32 on the CPU
     * (exact against the reference forward), f16 or bf16 on CUDA. Sizes pools from a byte budget.
     */
    default int kvElementBytes() {
        return Float.BYTES;
    }

    /**
     * Whether the KV pool is sized from this backend's device memory ({@link #planKvCache}, after a
     * profiling forward at the largest step) rather than from a host byte budget (the CPU).
     */
    default boolean plansDeviceMemory() {
        return false;
    }

    /**
     * The device memory plan for a KV cache of this shape, to be called after one profiling forward
     * at the largest batch so that the workspace peak is known; fails when fewer than
     * {@code minBlocks} blocks fit. Only where {@link #plansDeviceMemory()}.
     */
    default MemoryPlan planKvCache(int numLayers, int numKvHeads, int headDim, int blockSize, double utilization, int minBlocks) {
        throw new IllegalStateException(name() + " sizes its KV cache from a byte budget, not a device memory plan");
    }

    /** Waits for all queued work; the errors of earlier device work surface here (a no-op on the CPU). */
    default void synchronize() {
    }

    // ---- dense ops ----

    /** {@code out[t] = table row tokens[t]} (dequantized), for t < n. */
    void embed(DeviceMatrix table, int[] tokens, int n, DeviceTensor out);

    /** {@code out[t][r] = dot(w row r, x[t])}: out is {@code [n][w.rows()]}, x is {@code [n][w.cols()]}. */
    void matmul(DeviceMatrix w, DeviceTensor x, int n, DeviceTensor out);

    /**
     * {@code matmul(w[i], x, n, out[i])} for each i: several projections of the same input (q/k/v,
     * gate/up) in one dispatch, so the workers split all their rows at once.
     */
    void matmuls(DeviceMatrix[] w, DeviceTensor x, int n, DeviceTensor[] out);

    /** {@code out[t] = x[t] / rms(x[t]) * weight}, rms over {@code dim} values with epsilon {@code eps}. */
    void rmsNorm(DeviceTensor x, DeviceTensor weight, int n, int dim, float eps, DeviceTensor out);

    /**
     * Rotates {@code x} ({@code [n][heads][headDim]}) in place. {@code cosSin[t]} holds headDim/2
     * cosines then headDim/2 sines for row t ({@link RopeFrequencies#cosSin}). {@code neox}: pairs
     * are (i, i + headDim/2); otherwise adjacent (2i, 2i + 1).
     */
    void rope(DeviceTensor x, int n, int heads, int headDim, DeviceTensor cosSin, boolean neox);

    /** {@code gate[i] = silu(gate[i]) * up[i]} for the first {@code count} values. */
    void siluMul(DeviceTensor gate, DeviceTensor up, long count);

    /** {@code acc[i] += x[i]} for the first {@code count} values. */
    void add(DeviceTensor acc, DeviceTensor x, long count);

    /** {@code dst[i] = src[rows[i]]} for i < count, rows of {@code width} floats. */
    void gatherRows(DeviceTensor src, int width, int[] rows, int count, DeviceTensor dst);

    // ---- paged KV ----

    /** Stores rows t < n of {@code k} and {@code v} ({@code [n][kvHeads * headDim]}) at {@code slots[t]} of a layer. */
    void writeKv(KvCache cache, int layer, DeviceTensor k, DeviceTensor v, int[] slots, int n);

    /**
     * Causal attention of every query row of {@code batch} over its sequence's cached K/V (which
     * already holds this step's keys and values). {@code q} and {@code out} are
     * {@code [rows][numHeads * headDim]}; query head h reads KV head {@code h / (numHeads / numKvHeads)}.
     */
    void attention(DeviceTensor q, KvCache cache, int layer, AttentionBatch batch, int numHeads, DeviceTensor out);

    /** Copies whole blocks {@code src[i] -> dst[i]} inside one cache, every layer (copy-on-write). */
    void copyBlocks(KvCache cache, int[] src, int[] dst, int count);

    /** Copies whole blocks between two caches of the same shape, every layer (swap out and in). */
    void copyBlocks(KvCache from, int[] fromBlocks, KvCache to, int[] toBlocks, int count);

    @Override
    void close();
}
