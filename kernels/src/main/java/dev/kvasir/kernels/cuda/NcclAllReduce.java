package dev.kvasir.kernels.cuda;

import dev.kvasir.kernels.AllReduce;
import dev.kvasir.kernels.AllReduceGroup;
import dev.kvasir.kernels.DeviceTensor;
import org.bytedeco.cuda.global.nccl;
import org.bytedeco.cuda.nccl.ncclComm;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.PointerPointer;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Objects;

/**
 * NCCL's sum all-reduce over the tensor-parallel ranks of ONE process: one {@link CudaBackend} per
 * rank (rank r on device r), one communicator per rank from {@code ncclCommInitAll}. Activations are
 * f32 (what {@link CudaTensor} holds), so the collective is {@code ncclFloat32}/{@code ncclSum}, in
 * place, on each rank's backend stream: it is ordered after the projection that wrote the tensor and
 * before the residual add that reads it, with no host synchronisation.
 *
 * <p><b>Why grouping.</b> A collective completes only when every rank has called it. NCCL calls
 * are asynchronous towards the GPU, but one rank's call may block the host until the other ranks'
 * calls arrive (connection setup, cooperative launch). So a thread that drives several ranks
 * cannot call rank 0's all-reduce and then rank 1's: the first call may never return. NCCL's answer
 * is a group: calls between {@code ncclGroupStart} and {@code ncclGroupEnd} are only recorded and
 * are launched together at the end. Two ways to use this class, matching the two ways to drive ranks:
 * <ul>
 *   <li>one thread driving every rank: {@link #allReduce(List, long)}, which takes the step's tensor
 *       of every rank and makes the grouped calls (each rank's work up to the hook must be enqueued
 *       before, and its work after the hook after, the call: a lockstep driver);</li>
 *   <li>one thread per rank: {@link #rank(int)}, the {@link AllReduce} hook for that rank's
 *       {@code LlamaModel}, which calls {@code ncclAllReduce} outside a group; the other ranks'
 *       threads make their calls concurrently. From a single thread with more than one rank this
 *       would hang (the CPU simulator's NCCL reports it as ncclInvalidUsage instead).</li>
 * </ul>
 * With one rank both are equivalent to {@link AllReduce#NONE} (a sum over one rank).
 *
 * <p>NCCL itself comes from the machine: {@code libnccl.so.2} from the {@code nvidia-nccl-cu13}
 * Python wheel's {@code nvidia/nccl/lib} folder or a CUDA/NCCL install (the {@code libnccl2}
 * package), on {@code LD_LIBRARY_PATH}; the JavaCPP jar carries only the JNI glue. In CI the CPU
 * simulator's fake {@code libnccl.so.2} (native/sim/nccl.cpp) stands in for it.
 */
public final class NcclAllReduce implements AllReduceGroup {

    private static volatile String probe; // "" when NCCL loads, else why not

    private final List<CudaBackend> ranks;
    private final ncclComm[] comms;
    private boolean closed;

    private NcclAllReduce(List<CudaBackend> ranks, ncclComm[] comms) {
        this.ranks = ranks;
        this.comms = comms;
    }

    /** True when NCCL's library loads (the CUDA libraries too); see {@link #unavailableReason()}. */
    public static boolean available() {
        return unavailableReason() == null;
    }

    /** Why NCCL cannot be used here, naming where libnccl.so.2 comes from; null when it can. */
    public static String unavailableReason() {
        String p = probe;
        if (p == null) {
            synchronized (NcclAllReduce.class) {
                p = probe;
                if (p == null) {
                    p = load();
                    probe = p;
                }
            }
        }
        return p.isEmpty() ? null : p;
    }

    private static String load() {
        try {
            Loader.load(nccl.class);
            return "";
        } catch (Throwable e) { // UnsatisfiedLinkError and friends
            Throwable t = e;
            while (t.getCause() != null && t.getCause() != t) t = t.getCause();
            String m = t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
            String what = m.contains("libnccl") ? "NCCL (libnccl.so.2) was not found"
                    : "NCCL's JNI library could not be loaded (it needs libnccl.so.2 and the CUDA libraries)";
            return what + " (" + m + "); tensor parallelism on CUDA needs NCCL 2: install the nvidia-nccl-cu13 wheel"
                    + " and put its nvidia/nccl/lib folder on LD_LIBRARY_PATH, or NCCL from a CUDA install (libnccl2)";
        }
    }

    /** NCCL's version as "2.29.3". */
    public static String version() {
        requireNccl();
        int[] v = new int[1];
        check(nccl.ncclGetVersion(v), "ncclGetVersion");
        int code = v[0];
        return code / 10000 + "." + code / 100 % 100 + "." + code % 100;
    }

    /**
     * Communicators for {@code ranks}, where {@code ranks.get(r)} is the backend of rank r of
     * {@code ranks.size()} (its {@link TensorParallel}), hence of device r: {@code ncclCommInitAll}
     * over devices 0 .. n-1. The backends stay the caller's; close this before them.
     */
    public static NcclAllReduce initAll(List<CudaBackend> ranks) {
        requireNccl();
        int n = ranks.size();
        if (n < 1) throw new IllegalArgumentException("no ranks");
        IdentityHashMap<CudaBackend, Boolean> seen = new IdentityHashMap<>();
        int[] devices = new int[n];
        for (int r = 0; r < n; r++) {
            CudaBackend b = Objects.requireNonNull(ranks.get(r), "rank " + r);
            TensorParallel tp = b.parallel();
            if (tp.rank() != r || tp.worldSize() != n || seen.put(b, Boolean.TRUE) != null) {
                throw new IllegalArgumentException("backend " + r + " is rank " + tp.rank() + " of " + tp.worldSize()
                        + "; NcclAllReduce.initAll wants ranks 0 .. " + (n - 1) + " of " + n + ", in order");
            }
            devices[r] = tp.rank(); // the backend's device ordinal
        }
        ncclComm[] comms = new ncclComm[n];
        try (PointerPointer<ncclComm> out = new PointerPointer<>(n)) {
            check(nccl.ncclCommInitAll(out, n, devices), "ncclCommInitAll(" + n + " ranks)");
            for (int r = 0; r < n; r++) comms[r] = new ncclComm(out.get(r));
        }
        return new NcclAllReduce(List.copyOf(ranks), comms);
    }

    @Override
    public int worldSize() {
        return comms.length;
    }

    /**
     * Sums {@code perRank.get(r)} (rank r's tensor, first {@code count} floats) over the ranks, in
     * place on every rank, as ONE NCCL group: how a single thread driving all ranks calls it.
     */
    public void allReduce(List<? extends DeviceTensor> perRank, long count) {
        requireOpen();
        if (perRank.size() != comms.length) {
            throw new IllegalArgumentException(perRank.size() + " tensors for " + comms.length + " ranks");
        }
        List<CudaTensor> tensors = new ArrayList<>(comms.length);
        for (int r = 0; r < comms.length; r++) {
            tensors.add(CudaTensor.of(perRank.get(r)).require(count, "all-reduce of rank " + r));
            ranks.get(r).enter();
        }
        check(nccl.ncclGroupStart(), "ncclGroupStart");
        int failed = nccl.ncclSuccess;
        String failedCall = null;
        try {
            for (int r = 0; r < comms.length && failed == nccl.ncclSuccess; r++) {
                failed = enqueue(r, tensors.get(r), count);
                if (failed != nccl.ncclSuccess) failedCall = "ncclAllReduce(rank " + r + ", " + count + " floats)";
            }
        } finally {
            // Always close the group, even after a failed call, or NCCL stays inside it on this thread.
            int end = nccl.ncclGroupEnd();
            if (failed == nccl.ncclSuccess) {
                failed = end;
                failedCall = "ncclGroupEnd (all-reduce of " + count + " floats over " + comms.length + " ranks)";
            }
        }
        check(failed, failedCall);
    }

    /**
     * The {@link AllReduce} hook of rank {@code rank}, for a thread that drives that rank alone while
     * the other ranks' threads call theirs (an ungrouped {@code ncclAllReduce}); see the class comment.
     */
    @Override
    public AllReduce rank(int rank) {
        Objects.checkIndex(rank, comms.length);
        return (tensor, count) -> {
            requireOpen();
            CudaTensor t = CudaTensor.of(tensor).require(count, "all-reduce of rank " + rank);
            ranks.get(rank).enter();
            check(enqueue(rank, t, count), "ncclAllReduce(rank " + rank + " of " + comms.length + ", " + count + " floats)");
        };
    }

    private int enqueue(int r, CudaTensor t, long count) {
        long bytes = count * Float.BYTES;
        return nccl.ncclAllReduce(Cuda.at(t.ptr, bytes), Cuda.at(t.ptr, bytes), count, nccl.ncclFloat32, nccl.ncclSum,
                comms[r], ranks.get(r).stream());
    }

    /** Frees the communicators (every one, even when one fails); the backends stay open. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        StringBuilder failures = new StringBuilder();
        for (int r = 0; r < comms.length; r++) {
            int status = nccl.ncclCommDestroy(comms[r]);
            if (status != nccl.ncclSuccess) failures.append("; rank ").append(r).append(": ").append(describe(status));
        }
        if (!failures.isEmpty()) throw new CudaException("ncclCommDestroy failed" + failures);
    }

    private void requireOpen() {
        if (closed) throw new IllegalStateException("NcclAllReduce used after close");
    }

    private static void requireNccl() {
        String why = unavailableReason();
        if (why != null) throw new IllegalStateException(why);
    }

    /** Throws when an NCCL call did not return ncclSuccess, naming the status through ncclGetErrorString. */
    static void check(int status, String call) {
        if (status != nccl.ncclSuccess) throw new CudaException(call + " failed: " + describe(status));
    }

    /** "ncclInvalidUsage (invalid usage ...)" for a status. */
    static String describe(int status) {
        String name = switch (status) {
            case nccl.ncclUnhandledCudaError -> "ncclUnhandledCudaError";
            case nccl.ncclSystemError -> "ncclSystemError";
            case nccl.ncclInternalError -> "ncclInternalError";
            case nccl.ncclInvalidArgument -> "ncclInvalidArgument";
            case nccl.ncclInvalidUsage -> "ncclInvalidUsage";
            case nccl.ncclRemoteError -> "ncclRemoteError";
            case nccl.ncclInProgress -> "ncclInProgress";
            default -> "ncclResult_t " + status;
        };
        BytePointer text = nccl.ncclGetErrorString(status);
        return text == null ? name : name + " (" + text.getString() + ")";
    }
}
