package dev.kvasir.kernels.cuda;

import dev.kvasir.kernels.KvLayout;
import dev.kvasir.kernels.MemoryPlan;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.javacpp.SizeTPointer;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One CUDA backend's device memory: every allocation and what it is for (weights, activation
 * workspace, KV cache, grow-only scratch), the live set that {@link #close} frees, host staging for
 * per-step metadata uploads, and the memory plan that sizes the KV cache from what is left. The
 * caller makes the backend's context current before calling.
 */
final class CudaMemory {

    private static final System.Logger LOG = System.getLogger(CudaMemory.class.getName());

    private final String device;
    private final CUstream_st stream;
    /** Makes the owning backend's context current (a KV cache may be closed from any thread). */
    private final Runnable enter;
    private final KvDtype kvDtype;
    /** Every device allocation not yet freed: close() frees what callers left (weights above all). */
    private final Set<Long> live = new HashSet<>();
    private final List<Scratch> scratches = new ArrayList<>();
    private final List<CudaKvCache> caches = new ArrayList<>();
    /** Host staging for metadata uploads (pageable: the copies are synchronous, ordered after earlier work). */
    private IntPointer hostInts = new IntPointer(1024);

    private long weightBytes;
    private long workspaceBytes;
    private long peakWorkspaceBytes;
    private long kvBytes;

    CudaMemory(String device, CUstream_st stream, KvDtype kvDtype, Runnable enter) {
        this.device = device;
        this.stream = stream;
        this.kvDtype = kvDtype;
        this.enter = enter;
    }

    /** Device memory for {@code what}; only CUDA_ERROR_OUT_OF_MEMORY is reported as a lack of memory. */
    long alloc(long bytes, String what) {
        long[] ptr = new long[1];
        int status = cudart.cuMemAlloc(ptr, Math.max(bytes, 1));
        if (status != cudart.CUDA_SUCCESS) {
            // Anything else (an earlier kernel's sticky error, a lost context) must not send the user
            // off to lower --gpu-memory-utilization.
            String why = status == cudart.CUDA_ERROR_OUT_OF_MEMORY ? "out of GPU memory allocating " : "cuMemAlloc failed allocating ";
            throw new CudaException(why + bytes + " bytes for " + what + " on " + device
                    + " (weights " + weightBytes + ", workspace " + workspaceBytes + ", KV " + kvBytes + " bytes): "
                    + Cuda.errorName(status));
        }
        live.add(ptr[0]);
        return ptr[0];
    }

    void free(long ptr) {
        live.remove(ptr);
        Cuda.check(cudart.cuMemFree(ptr), "cuMemFree");
    }

    /** Weights uploaded (positive) or freed (negative). */
    void countWeights(long delta) {
        weightBytes += delta;
    }

    /** Activation tensors allocated (positive) or freed (negative); the peak is what the plan reserves. */
    void countWorkspace(long delta) {
        workspaceBytes += delta;
        peakWorkspaceBytes = Math.max(peakWorkspaceBytes, workspaceBytes);
    }

    /** A grow-only scratch buffer, freed on close. */
    Scratch scratch(String what) {
        Scratch s = new Scratch(what);
        scratches.add(s);
        return s;
    }

    /** Copies {@code count} ints to a scratch buffer and returns its device address. */
    long uploadInts(Scratch target, int[] values, int count) {
        long ptr = target.ensure(Math.max(4L, count * 4L));
        if (count == 0) return ptr;
        if (hostInts.capacity() < count) {
            hostInts.close();
            hostInts = new IntPointer(Math.max(count, hostInts.capacity() * 2));
        }
        hostInts.put(values, 0, count);
        Cuda.check(cudart.cuMemcpyHtoD(ptr, hostInts, count * 4L), "cuMemcpyHtoD(" + target.what + ")");
        return ptr;
    }

    /**
     * A paged K/V cache: per layer a K and a V array of {@code layout.numBlocks()} blocks, on the
     * device (with a device table of the layer pointers, for the block-copy kernel) or in pinned
     * host memory (swap space).
     */
    CudaKvCache allocateKvCache(KvLayout layout, boolean host) {
        int layers = layout.numLayers();
        long[] k = new long[layers], v = new long[layers];
        List<Pointer> pinned = new ArrayList<>();
        long layerBytes = layout.numBlocks() * layout.blockFloats() * kvDtype.bytes();
        for (int l = 0; l < layers; l++) {
            if (host) {
                k[l] = pinnedAlloc(layerBytes, pinned);
                v[l] = pinnedAlloc(layerBytes, pinned);
            } else {
                k[l] = alloc(layerBytes, "K cache of layer " + l);
                v[l] = alloc(layerBytes, "V cache of layer " + l);
            }
        }
        long ptrs = 0;
        long total = 2 * layers * layerBytes;
        if (!host) {
            long[] all = new long[2 * layers];
            for (int l = 0; l < layers; l++) {
                all[2 * l] = k[l];
                all[2 * l + 1] = v[l];
            }
            ptrs = alloc(all.length * 8L, "KV cache pointer table");
            try (LongPointer hp = new LongPointer(all)) {
                Cuda.check(cudart.cuMemcpyHtoD(ptrs, hp, all.length * 8L), "cuMemcpyHtoD(KV pointers)");
            }
            kvBytes += total;
        }
        long ptrTable = ptrs;
        CudaKvCache[] self = new CudaKvCache[1];
        Runnable release = () -> {
            enter.run();
            Cuda.check(cudart.cuStreamSynchronize(stream), "cuStreamSynchronize");
            if (host) {
                for (Pointer p : pinned) Cuda.check(cudart.cuMemFreeHost(p), "cuMemFreeHost");
            } else {
                for (int l = 0; l < layers; l++) {
                    free(k[l]);
                    free(v[l]);
                }
                free(ptrTable);
                kvBytes -= total;
            }
            caches.remove(self[0]);
        };
        CudaKvCache cache = new CudaKvCache(layout, kvDtype, host, k, v, ptrs, release);
        self[0] = cache;
        caches.add(cache);
        LOG.log(System.Logger.Level.INFO, "KV cache ({0}): {1} blocks of {2} tokens, {3} layers, {4} MiB in {5}",
                kvDtype, layout.numBlocks(), layout.blockSize(), layers, total >> 20, host ? "pinned host memory" : "GPU memory");
        return cache;
    }

    private static long pinnedAlloc(long bytes, List<Pointer> keep) {
        try (PointerPointer<Pointer> out = new PointerPointer<>(1)) {
            Cuda.check(cudart.cuMemHostAlloc(out, Math.max(bytes, 1), cudart.CU_MEMHOSTALLOC_PORTABLE),
                    "cuMemHostAlloc(" + bytes + " bytes of swap space)");
            Pointer p = out.get(0);
            keep.add(p);
            return p.address();
        }
    }

    /**
     * The memory plan for a KV cache of this shape after a profiling forward: utilization x the
     * device, less what other processes hold, our weights, and our peak workspace and scratch
     * (plus {@code pendingScratchBytes}: scratch serving will need that the profile did not allocate).
     * Logs it; fails below {@code minBlocks}.
     */
    MemoryPlan plan(int numLayers, int numKvHeads, int headDim, int blockSize, double utilization, int minBlocks,
                    long pendingScratchBytes) {
        long free, total;
        try (SizeTPointer f = new SizeTPointer(1); SizeTPointer t = new SizeTPointer(1)) {
            Cuda.check(cudart.cuMemGetInfo(f, t), "cuMemGetInfo");
            free = f.get(0);
            total = t.get(0);
        }
        long ours = weightBytes + workspaceBytes + kvBytes + scratchBytes();
        long others = Math.max(0, total - free - ours);
        long bytesPerBlock = 2L * numLayers * blockSize * numKvHeads * headDim * kvDtype.bytes();
        MemoryPlan plan = new MemoryPlan(total, others, weightBytes, peakWorkspaceBytes + scratchBytes() + pendingScratchBytes,
                utilization, bytesPerBlock, blockSize);
        LOG.log(System.Logger.Level.INFO, plan.toString());
        return plan.requireBlocks(minBlocks);
    }

    private long scratchBytes() {
        long sum = 0;
        for (Scratch s : scratches) sum += s.bytes;
        return sum;
    }

    /**
     * Frees everything: caches, scratch, and every allocation callers left (weights: there is no
     * call to free a matrix). Each step is attempted even when an earlier one fails; failures are
     * collected for the caller.
     */
    void close(List<RuntimeException> failures) {
        for (CudaKvCache c : new ArrayList<>(caches)) attempt(failures, c::close);
        for (Scratch s : scratches) attempt(failures, s::release);
        for (long p : new ArrayList<>(live)) attempt(failures, () -> free(p));
        hostInts.close();
    }

    static void attempt(List<RuntimeException> failures, Runnable step) {
        try {
            step.run();
        } catch (RuntimeException e) {
            failures.add(e);
        }
    }

    /** A grow-only device buffer, reused step after step. */
    final class Scratch {
        final String what;
        long ptr;
        long bytes;

        private Scratch(String what) {
            this.what = what;
        }

        long ensure(long needed) {
            if (needed > bytes) {
                long size = Math.max(needed, bytes * 2);
                if (ptr != 0) {
                    Cuda.check(cudart.cuStreamSynchronize(stream), "cuStreamSynchronize");
                    free(ptr);
                }
                ptr = 0;
                bytes = 0;
                ptr = alloc(size, what);
                bytes = size;
                peakWorkspaceBytes = Math.max(peakWorkspaceBytes, workspaceBytes + scratchBytes());
            }
            return ptr;
        }

        /** Frees the buffer (waiting for the stream first); the next ensure allocates again. */
        void release() {
            if (ptr != 0) {
                Cuda.check(cudart.cuStreamSynchronize(stream), "cuStreamSynchronize");
                free(ptr);
            }
            ptr = 0;
            bytes = 0;
        }
    }
}
