package dev.kvasir.kernels.cuda;

import dev.kvasir.kernels.AttentionBatch;
import dev.kvasir.kernels.Backend;
import dev.kvasir.kernels.DeviceMatrix;
import dev.kvasir.kernels.DeviceTensor;
import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.KvCache;
import dev.kvasir.kernels.KvLayout;
import dev.kvasir.kernels.MemoryPlan;
import dev.kvasir.kernels.WeightTensor;
import dev.kvasir.kernels.quant.Quant;
import org.bytedeco.cuda.cudart.CUctx_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.ShortPointer;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

/**
 * The CUDA backend: one instance per device rank. Activations are f32 in device memory (the
 * {@link Backend} contract's type, so results compare directly with the CPU reference); weights
 * keep their file type where cuBLAS or our kernels read it (f32, f16, bf16 through cuBLAS; Q8_0
 * and Q4_0 through our dequantising GEMV, or above {@link QuantizedMatmul#DEQUANT_GEMM_ABOVE_TOKENS} tokens
 * dequantised to f16 in bounded row chunks for cuBLAS) and K-quants become f16 at load; K and V
 * are f16 or bf16 pages. Our kernels come from {@code kvasir_kernels.fatbin} (native/).
 *
 * <p>All work goes to one stream. Host to device copies of per-step metadata are synchronous
 * copies from pageable memory, which the driver orders after the stream's earlier work (a
 * blocking stream synchronises with the legacy default stream), so a metadata buffer is never
 * rewritten while a kernel still reads it. Downloads wait for the stream. Called from one thread
 * at a time; the context is made current on whichever thread calls.
 */
public final class CudaBackend implements Backend {

    private static final System.Logger LOG = System.getLogger(CudaBackend.class.getName());

    private final CudaRuntime.DeviceInfo device;
    private final TensorParallel parallel;
    private final KvDtype kvDtype;
    private final CUctx_st context = new CUctx_st();
    private final CUstream_st stream = new CUstream_st();
    private final CudaModule module;
    private final Cublas cublas;
    private final KernelArgs args = new KernelArgs();
    private final CudaMemory memory;
    private final PagedAttentionLauncher attention;
    // Grow-only scratch on the device, reused step after step.
    private final CudaMemory.Scratch x16;
    private final CudaMemory.Scratch ints;
    private final CudaMemory.Scratch pairs;
    private final QuantizedMatmul quantized;
    private boolean closed;

    /** A backend on device 0, f16 KV cache, no tensor parallelism. */
    public CudaBackend() {
        this(TensorParallel.SINGLE, KvDtype.F16);
    }

    /** A backend for {@code parallel.rank()}, which is also its device ordinal. */
    public CudaBackend(TensorParallel parallel, KvDtype kvDtype) {
        this(parallel, kvDtype, QuantizedMatmul.DEQUANT_WORKSPACE_BYTES);
    }

    /** ... with the dequantised weight workspace bounded by {@code dequantChunkBytes} (tests force several chunks). */
    CudaBackend(TensorParallel parallel, KvDtype kvDtype, long dequantChunkBytes) {
        if (dequantChunkBytes < 1) throw new IllegalArgumentException("dequantChunkBytes must be positive");
        if (!CudaRuntime.available()) {
            throw new IllegalStateException("--device cuda: " + CudaRuntime.unavailableReason());
        }
        this.parallel = parallel;
        this.kvDtype = kvDtype;
        this.device = CudaRuntime.describe(parallel.rank());
        int[] dev = new int[1];
        Cuda.check(cudart.cuDeviceGet(dev, parallel.rank()), "cuDeviceGet(" + parallel.rank() + ")");
        Cuda.check(cudart.cuDevicePrimaryCtxRetain(context, dev[0]), "cuDevicePrimaryCtxRetain");
        CudaModule m = null;
        try {
            Cuda.check(cudart.cuCtxSetCurrent(context), "cuCtxSetCurrent");
            Cuda.check(cudart.cuStreamCreate(stream, 0), "cuStreamCreate");
            m = new CudaModule(CudaRuntime.fatbin());
            cublas = new Cublas(stream);
        } catch (RuntimeException e) {
            // Give back what was set up so far; the original failure is what the caller needs to see.
            if (m != null) m.close();
            if (!stream.isNull()) cudart.cuStreamDestroy(stream);
            cudart.cuDevicePrimaryCtxRelease(dev[0]);
            throw e;
        }
        module = m;
        memory = new CudaMemory(device.toString(), stream, kvDtype, this::enter);
        attention = new PagedAttentionLauncher(module, stream, memory, args);
        x16 = memory.scratch("f16 GEMM input");
        ints = memory.scratch("token ids / slots / rows");
        pairs = memory.scratch("block copy pairs");
        quantized = new QuantizedMatmul(module, stream, cublas, args, memory, x16, dequantChunkBytes);
        if (device.simulator()) {
            LOG.log(System.Logger.Level.WARNING, "CUDA backend on {0}: the fake CUDA libraries of the CPU simulator are on the"
                    + " library path; this runs our kernels on the CPU, slowly, for tests, and is not a GPU", device);
        }
        LOG.log(System.Logger.Level.INFO, "CUDA backend on {0} (rank {1} of {2}), KV cache {3}",
                device, parallel.rank(), parallel.worldSize(), kvDtype);
    }

    @Override
    public int kvElementBytes() {
        return kvDtype.bytes();
    }

    @Override
    public String name() {
        return "cuda " + device.name() + " (rank " + parallel.rank() + "/" + parallel.worldSize() + ", kv " + kvDtype + ")";
    }

    public TensorParallel parallel() {
        return parallel;
    }

    /** Makes this backend's context current on the calling thread (NcclAllReduce calls it too). */
    void enter() {
        if (closed) throw new IllegalStateException("CUDA backend used after close");
        Cuda.check(cudart.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    /** The stream all of this backend's work goes to: NCCL's collectives join it. */
    CUstream_st stream() {
        return stream;
    }

    // ---- memory ----

    @Override
    public DeviceTensor allocate(long floats) {
        enter();
        long bytes = floats * Float.BYTES;
        long ptr = memory.alloc(bytes, "an activation tensor of " + floats + " floats");
        memory.countWorkspace(bytes);
        return new CudaTensor(ptr, floats, false);
    }

    @Override
    public void upload(float[] src, int srcOff, DeviceTensor dst, long dstOff, int count) {
        enter();
        CudaTensor t = CudaTensor.of(dst).require(dstOff + count, "upload");
        try (FloatPointer host = new FloatPointer(count)) {
            host.put(src, srcOff, count);
            Cuda.check(cudart.cuMemcpyHtoD(t.at(dstOff), host, (long) count * Float.BYTES), "cuMemcpyHtoD");
        }
    }

    @Override
    public void download(DeviceTensor src, long srcOff, float[] dst, int dstOff, int count) {
        enter();
        CudaTensor t = CudaTensor.of(src).require(srcOff + count, "download");
        try (FloatPointer host = new FloatPointer(count)) {
            Cuda.check(cudart.cuStreamSynchronize(stream), "cuStreamSynchronize (an earlier kernel failed)");
            Cuda.check(cudart.cuMemcpyDtoH(host, t.at(srcOff), (long) count * Float.BYTES), "cuMemcpyDtoH");
            host.get(dst, dstOff, count);
        }
    }

    @Override
    public DeviceMatrix matrix(WeightTensor weight) {
        enter();
        if (weight.shape().length > 2) {
            throw new IllegalArgumentException("tensor " + weight.name() + " is not a matrix");
        }
        GgmlType type = weight.type();
        return switch (type) {
            case F32, F16, BF16, Q8_0, Q4_0 -> {
                long bytes = weight.data().byteSize();
                long ptr = memory.alloc(bytes, weight.toString());
                Cuda.check(cudart.cuMemcpyHtoD(ptr, Cuda.at(weight.data().address(), bytes), bytes),
                        "cuMemcpyHtoD(" + weight.name() + ")");
                memory.countWeights(bytes);
                if (type == GgmlType.Q8_0 || type == GgmlType.Q4_0) {
                    quantized.loaded(weight.rows(), weight.cols());
                }
                yield new CudaMatrix(weight.name(), type, type, weight.rows(), weight.cols(), ptr);
            }
            case Q4_K, Q6_K -> {
                float[] values = Quant.dequantize(weight);
                long bytes = storedType(type).bytesFor(values.length);
                long ptr = memory.alloc(bytes, weight + " as f16");
                try (ShortPointer host = new ShortPointer(values.length)) {
                    for (int i = 0; i < values.length; i++) host.put(i, Float.floatToFloat16(values[i]));
                    Cuda.check(cudart.cuMemcpyHtoD(ptr, host, bytes), "cuMemcpyHtoD(" + weight.name() + ")");
                }
                memory.countWeights(bytes);
                yield new CudaMatrix(weight.name(), type, GgmlType.F16, weight.rows(), weight.cols(), ptr);
            }
        };
    }

    /**
     * How a weight matrix of {@code type} is held on the device: the file's bytes for f32, f16, bf16,
     * Q8_0 and Q4_0; f16 for the K-quants, dequantised at load (the capacity planner counts with it).
     */
    public static GgmlType storedType(GgmlType type) {
        return switch (type) {
            case Q4_K, Q6_K -> GgmlType.F16;
            default -> type;
        };
    }

    /**
     * The device scratch this backend grows for a step, beyond the model's activation tensors (an
     * estimate for the capacity planner; serve measures the real peak with a profiling forward):
     * the f16 copy of a GEMM's input, decode attention's split-K partials at the longest context,
     * and the dequantised Q8_0/Q4_0 weight rows of the largest quantised matrix.
     *
     * @param tokens            tokens of the largest step
     * @param gemmCols          the widest matmul input
     * @param decodeSeqs        sequences of the largest decode step
     * @param heads             query heads (of this rank)
     * @param maxContext        the longest context attended over
     * @param quantizedMatrix   rows and columns of the largest Q8_0/Q4_0 matrix, or null where there is none
     */
    public static long scratchBytes(int tokens, int gemmCols, int decodeSeqs, int heads, int headDim, int maxContext,
                                    int[] quantizedMatrix) {
        long bytes = 2L * tokens * gemmCols;
        int partitions = (maxContext + PagedAttentionLauncher.PARTITION_SIZE - 1) / PagedAttentionLauncher.PARTITION_SIZE;
        if (partitions > 1) bytes += (long) decodeSeqs * heads * partitions * (headDim + 2) * Float.BYTES;
        if (quantizedMatrix != null) {
            bytes += Math.min(2L * quantizedMatrix[0] * quantizedMatrix[1],
                    Math.max(2L * quantizedMatrix[1], QuantizedMatmul.DEQUANT_WORKSPACE_BYTES));
        }
        return bytes;
    }

    /** The slice is gathered into host memory that lives only until it is on the device. */
    @Override
    public DeviceMatrix matrix(WeightTensor weight, int fromCol, int toCol) {
        try (Arena slice = Arena.ofConfined()) {
            return matrix(weight.columns(fromCol, toCol, slice));
        }
    }

    @Override
    public DeviceTensor vector(WeightTensor weight) {
        enter();
        float[] values = Quant.dequantize(weight);
        long bytes = (long) values.length * Float.BYTES;
        long ptr = memory.alloc(bytes, weight.toString());
        try (FloatPointer host = new FloatPointer(values)) {
            Cuda.check(cudart.cuMemcpyHtoD(ptr, host, bytes), "cuMemcpyHtoD(" + weight.name() + ")");
        }
        memory.countWeights(bytes);
        return new CudaTensor(ptr, values.length, true);
    }

    @Override
    public void free(DeviceTensor tensor) {
        enter();
        CudaTensor t = CudaTensor.of(tensor);
        Cuda.check(cudart.cuStreamSynchronize(stream), "cuStreamSynchronize");
        memory.free(t.ptr);
        t.freed = true;
        if (t.weight) {
            memory.countWeights(-t.floats * Float.BYTES);
        } else {
            memory.countWorkspace(-t.floats * Float.BYTES);
        }
    }

    @Override
    public KvCache allocateKvCache(KvLayout layout, boolean host) {
        enter();
        if (layout.headDim() % 8 != 0 || layout.headDim() > PagedAttentionLauncher.MAX_HEAD_DIM) {
            throw new IllegalArgumentException("the CUDA attention kernels need a head size that is a multiple of 8 and at"
                    + " most " + PagedAttentionLauncher.MAX_HEAD_DIM + "; this model's is " + layout.headDim());
        }
        return memory.allocateKvCache(layout, host);
    }

    @Override
    public boolean plansDeviceMemory() {
        return true;
    }

    @Override
    public MemoryPlan planKvCache(int numLayers, int numKvHeads, int headDim, int blockSize, double utilization, int minBlocks) {
        enter();
        // The dequantised weight workspace counts even before its first use (a profile of at most
        // DEQUANT_GEMM_ABOVE_TOKENS tokens never allocates it, while serving may).
        return memory.plan(numLayers, numKvHeads, headDim, blockSize, utilization, minBlocks, quantized.pendingWorkspaceBytes());
    }

    // ---- dense ops ----

    private int threadsFor(int width) {
        return width >= 2048 ? 1024 : width >= 512 ? 256 : 128;
    }

    @Override
    public void embed(DeviceMatrix table, int[] tokens, int n, DeviceTensor out) {
        enter();
        CudaMatrix m = CudaMatrix.of(table);
        CudaTensor o = CudaTensor.of(out).require((long) n * m.cols(), "embed output");
        for (int t = 0; t < n; t++) {
            if (tokens[t] < 0 || tokens[t] >= m.rows()) {
                throw new IllegalArgumentException("token id " + tokens[t] + " is outside the vocabulary of " + m.rows());
            }
        }
        long ids = memory.uploadInts(ints, tokens, n);
        String kernel = "kvasir_embedding_" + storageName(m.stored()) + "_f32";
        module.launch(kernel, n, 1, 1, threadsFor(m.cols()), 0, stream,
                args.reset().ptr(o.ptr).ptr(m.ptr()).ptr(ids).i32(n).i32(m.rows()).i32(m.cols()));
    }

    private static String storageName(GgmlType t) {
        return switch (t) {
            case F32 -> "f32";
            case F16 -> "f16";
            case BF16 -> "bf16";
            case Q8_0 -> "q8_0";
            case Q4_0 -> "q4_0";
            default -> throw new IllegalStateException("no CUDA kernel reads " + t + " directly");
        };
    }

    @Override
    public void matmul(DeviceMatrix w, DeviceTensor x, int n, DeviceTensor out) {
        enter();
        CudaMatrix m = CudaMatrix.of(w);
        CudaTensor xt = CudaTensor.of(x).require((long) n * m.cols(), "matmul input of " + m.name());
        CudaTensor ot = CudaTensor.of(out).require((long) n * m.rows(), "matmul output of " + m.name());
        if (n == 0) return;
        switch (m.stored()) {
            case F32 -> cublas.gemm(m.ptr(), xt.ptr, cudart.CUDA_R_32F, m.rows(), m.cols(), n, ot.ptr);
            case F16, BF16 -> {
                boolean f16 = m.stored() == GgmlType.F16;
                long count = (long) n * m.cols();
                long x16ptr = x16.ensure(count * 2);
                module.launch(f16 ? "kvasir_cast_f32_f16" : "kvasir_cast_f32_bf16", gridFor(count), 1, 1, 256, 0, stream,
                        args.reset().ptr(x16ptr).ptr(xt.ptr).i64(count));
                cublas.gemm(m.ptr(), x16ptr, f16 ? cudart.CUDA_R_16F : cudart.CUDA_R_16BF, m.rows(), m.cols(), n, ot.ptr);
            }
            case Q8_0, Q4_0 -> quantized.run(m, xt.ptr, n, ot.ptr);
            default -> throw new IllegalStateException("matrix " + m + " has no CUDA matmul");
        }
    }

    /** Bytes of the dequantised weight workspace now allocated (tests). */
    long dequantWorkspaceBytes() {
        return quantized.workspaceBytes();
    }

    /** One GEMM per weight: on a GPU each already fills the device, so there is nothing to fuse here. */
    @Override
    public void matmuls(DeviceMatrix[] w, DeviceTensor x, int n, DeviceTensor[] out) {
        if (w.length != out.length) {
            throw new IllegalArgumentException(w.length + " weights but " + out.length + " outputs");
        }
        for (int i = 0; i < w.length; i++) matmul(w[i], x, n, out[i]);
    }

    static int gridFor(long count) {
        return (int) Math.min((count + 255) / 256, 1 << 16);
    }

    @Override
    public void rmsNorm(DeviceTensor x, DeviceTensor weight, int n, int dim, float eps, DeviceTensor out) {
        enter();
        CudaTensor xt = CudaTensor.of(x).require((long) n * dim, "rmsNorm input");
        CudaTensor wt = CudaTensor.of(weight).require(dim, "rmsNorm weight");
        CudaTensor ot = CudaTensor.of(out).require((long) n * dim, "rmsNorm output");
        module.launch("kvasir_rmsnorm_f32", n, 1, 1, threadsFor(dim), 0, stream,
                args.reset().ptr(ot.ptr).ptr(xt.ptr).ptr(wt.ptr).f32(eps).i32(n).i32(dim));
    }

    @Override
    public void rope(DeviceTensor x, int n, int heads, int headDim, DeviceTensor cosSin, boolean neox) {
        enter();
        CudaTensor xt = CudaTensor.of(x).require((long) n * heads * headDim, "rope input");
        CudaTensor cs = CudaTensor.of(cosSin).require((long) n * headDim, "rope cos/sin table");
        module.launch("kvasir_rope_cos_sin_f32", n, 1, 1, 256, 0, stream,
                args.reset().ptr(xt.ptr).ptr(cs.ptr).i32(n).i32(heads).i32(headDim).i32(neox ? 1 : 0));
    }

    @Override
    public void siluMul(DeviceTensor gate, DeviceTensor up, long count) {
        enter();
        CudaTensor g = CudaTensor.of(gate).require(count, "siluMul gate");
        CudaTensor u = CudaTensor.of(up).require(count, "siluMul up");
        int width = Math.toIntExact(count);
        module.launch("kvasir_silu_mul_f32", (width + 255) / 256, 1, 1, 256, 0, stream,
                args.reset().ptr(g.ptr).ptr(g.ptr).ptr(u.ptr).i32(1).i32(width).i32(width).i32(width).i32(width));
    }

    @Override
    public void add(DeviceTensor acc, DeviceTensor x, long count) {
        enter();
        CudaTensor a = CudaTensor.of(acc).require(count, "add accumulator");
        CudaTensor b = CudaTensor.of(x).require(count, "add input");
        module.launch("kvasir_add_f32", gridFor(count), 1, 1, 256, 0, stream, args.reset().ptr(a.ptr).ptr(b.ptr).i64(count));
    }

    @Override
    public void gatherRows(DeviceTensor src, int width, int[] rows, int count, DeviceTensor dst) {
        enter();
        CudaTensor s = CudaTensor.of(src);
        CudaTensor d = CudaTensor.of(dst).require((long) count * width, "gatherRows output");
        long srcRows = s.floats / width;
        for (int i = 0; i < count; i++) {
            if (rows[i] < 0 || rows[i] >= srcRows) {
                throw new IllegalArgumentException("row " + rows[i] + " is outside the " + srcRows + " rows of the source");
            }
        }
        long r = memory.uploadInts(ints, rows, count);
        module.launch("kvasir_gather_rows_f32", count, 1, 1, threadsFor(width), 0, stream,
                args.reset().ptr(d.ptr).ptr(s.ptr).ptr(r).i32(count).i32(width).i32((int) Math.min(srcRows, Integer.MAX_VALUE)));
    }

    // ---- paged KV ----

    @Override
    public void writeKv(KvCache cache, int layer, DeviceTensor k, DeviceTensor v, int[] slots, int n) {
        enter();
        CudaKvCache c = CudaKvCache.of(cache);
        requireDevice(c);
        int width = c.layout.slotFloats();
        CudaTensor kt = CudaTensor.of(k).require((long) n * width, "writeKv keys");
        CudaTensor vt = CudaTensor.of(v).require((long) n * width, "writeKv values");
        long capacity = c.slots();
        for (int t = 0; t < n; t++) {
            if (slots[t] < 0 || slots[t] >= capacity) {
                throw new IllegalArgumentException("KV slot " + slots[t] + " is outside the cache of " + capacity + " slots");
            }
        }
        long s = memory.uploadInts(ints, slots, n);
        module.launch("kvasir_reshape_and_cache_f32_" + c.dtype.kernelSuffix, n, 1, 1, threadsFor(width), 0, stream,
                args.reset().ptr(kt.ptr).ptr(vt.ptr).ptr(c.k[layer]).ptr(c.v[layer]).ptr(s).i32(n)
                        .i32(c.layout.numKvHeads()).i32(c.layout.headDim()).i32(width).i32(width).i64(capacity));
    }

    @Override
    public void attention(DeviceTensor q, KvCache cache, int layer, AttentionBatch batch, int numHeads, DeviceTensor out) {
        enter();
        CudaKvCache c = CudaKvCache.of(cache);
        requireDevice(c);
        long width = (long) numHeads * c.layout.headDim();
        long rows = batch.totalQueries();
        CudaTensor qt = CudaTensor.of(q).require(rows * width, "attention queries");
        CudaTensor ot = CudaTensor.of(out).require(rows * width, "attention output");
        attention.launch(qt.ptr, ot.ptr, c, layer, batch, numHeads);
    }

    @Override
    public void copyBlocks(KvCache cache, int[] src, int[] dst, int count) {
        enter();
        CudaKvCache c = CudaKvCache.of(cache);
        if (count == 0) return;
        if (c.host) {
            copyBlocks(cache, src, cache, dst, count);
            return;
        }
        int[] p = new int[2 * count];
        for (int i = 0; i < count; i++) {
            checkBlock(c, src[i]);
            checkBlock(c, dst[i]);
            p[2 * i] = src[i];
            p[2 * i + 1] = dst[i];
        }
        long pairPtr = memory.uploadInts(pairs, p, p.length);
        int caches2 = 2 * c.layout.numLayers();
        module.launch("kvasir_copy_blocks", caches2, count, 1, 256, 0, stream,
                args.reset().ptr(c.cachePtrs).i32(caches2).ptr(pairPtr).i32(count).i32(c.layout.numBlocks()).i64(c.blockBytes()));
    }

    @Override
    public void copyBlocks(KvCache from, int[] fromBlocks, KvCache to, int[] toBlocks, int count) {
        enter();
        CudaKvCache a = CudaKvCache.of(from), b = CudaKvCache.of(to);
        if (a == b && !a.host) {
            copyBlocks(from, fromBlocks, toBlocks, count);
            return;
        }
        KvLayout x = a.layout, y = b.layout;
        if (x.numLayers() != y.numLayers() || x.blockSize() != y.blockSize() || x.numKvHeads() != y.numKvHeads()
                || x.headDim() != y.headDim() || a.dtype != b.dtype) {
            throw new IllegalArgumentException("KV caches differ in shape: " + x + " " + a.dtype + " vs " + y + " " + b.dtype);
        }
        long bytes = a.blockBytes();
        for (int i = 0; i < count; i++) {
            checkBlock(a, fromBlocks[i]);
            checkBlock(b, toBlocks[i]);
        }
        // Unified addressing: the driver tells device from pinned host memory by the address.
        for (int l = 0; l < x.numLayers(); l++) {
            for (int i = 0; i < count; i++) {
                long s = fromBlocks[i] * bytes, d = toBlocks[i] * bytes;
                Cuda.check(cudart.cuMemcpyAsync(b.k[l] + d, a.k[l] + s, bytes, stream), "cuMemcpyAsync(K block)");
                Cuda.check(cudart.cuMemcpyAsync(b.v[l] + d, a.v[l] + s, bytes, stream), "cuMemcpyAsync(V block)");
            }
        }
        if (a.host || b.host) Cuda.check(cudart.cuStreamSynchronize(stream), "cuStreamSynchronize(swap)");
    }

    private static void checkBlock(CudaKvCache c, int block) {
        if (block < 0 || block >= c.layout.numBlocks()) {
            throw new IllegalArgumentException("block " + block + " is outside the cache of " + c.layout.numBlocks() + " blocks");
        }
    }

    private static void requireDevice(CudaKvCache c) {
        if (c.host) throw new IllegalArgumentException("attention and KV writes need a device cache, not swap space");
    }

    @Override
    public void synchronize() {
        enter();
        Cuda.check(cudart.cuStreamSynchronize(stream), "cuStreamSynchronize (an earlier kernel failed)");
    }

    @Override
    public void close() {
        if (closed) return;
        enter();
        // Every step is attempted even when an earlier one fails (after a kernel fault every call returns
        // the context's sticky error): the primary context must still be released, or the fault would
        // outlive this backend. The first failure is thrown at the end.
        List<RuntimeException> failures = new ArrayList<>();
        attempt(failures, () -> Cuda.check(cudart.cuStreamSynchronize(stream), "cuStreamSynchronize"));
        // Caches, scratch, weights (there is no call to free a matrix) and tensors the caller did not free:
        // they belong to this backend, and another backend may keep the device's primary context, and so them, alive.
        memory.close(failures);
        attempt(failures, cublas::close);
        attempt(failures, module::close);
        attempt(failures, () -> Cuda.check(cudart.cuStreamDestroy(stream), "cuStreamDestroy"));
        args.close();
        closed = true;
        attempt(failures, () -> {
            int[] dev = new int[1];
            Cuda.check(cudart.cuDeviceGet(dev, parallel.rank()), "cuDeviceGet");
            Cuda.check(cudart.cuDevicePrimaryCtxRelease(dev[0]), "cuDevicePrimaryCtxRelease");
        });
        if (!failures.isEmpty()) {
            RuntimeException first = failures.get(0);
            for (int i = 1; i < failures.size(); i++) first.addSuppressed(failures.get(i));
            throw first;
        }
    }

    private static void attempt(List<RuntimeException> failures, Runnable step) {
        CudaMemory.attempt(failures, step);
    }
}
