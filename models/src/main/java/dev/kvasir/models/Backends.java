package dev.kvasir.models;

import dev.kvasir.kernels.AllReduceGroup;
import dev.kvasir.kernels.Backend;
import dev.kvasir.kernels.cpu.CpuAllReduce;
import dev.kvasir.kernels.cpu.CpuBackend;
import dev.kvasir.kernels.cpu.KvStorage;
import dev.kvasir.kernels.cuda.CudaBackend;
import dev.kvasir.kernels.cuda.CudaRuntime;
import dev.kvasir.kernels.cuda.KvDtype;
import dev.kvasir.kernels.cuda.NcclAllReduce;
import dev.kvasir.kernels.cuda.TensorParallel;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The backends a {@code --device} and {@code --tensor-parallel-size} name: {@code cpu} (the Vector
 * API; tensor-parallel ranks are groups of worker threads joined by an in-process all-reduce) or
 * {@code cuda} (GPU 0, or GPUs 0 .. N-1 joined by NCCL).
 */
public final class Backends {

    private Backends() {}

    /**
     * @param device  {@code cpu} or {@code cuda}, any case
     * @param threads CPU worker threads, 0 for one per core (ignored on CUDA)
     * @throws IllegalArgumentException for another device name
     * @throws IllegalStateException    for {@code cuda} on a machine without a usable GPU, with the reason
     *                                  (no driver, no device, a missing library, no kernels fatbin)
     */
    public static Backend create(String device, int threads) {
        return create(device, threads, "auto");
    }

    /**
     * As {@link #create(String, int)}, K and V stored as {@code kvCacheDtype}: {@code auto} (f32 on
     * the CPU, exact against the reference; f16 on CUDA), {@code f32} (CPU only), {@code f16} or
     * {@code bf16}.
     *
     * @throws IllegalArgumentException for an unknown type, or f32 on CUDA, naming {@code --kv-cache-dtype}
     */
    public static Backend create(String device, int threads, String kvCacheDtype) {
        String dtype = checkKvCacheDtype(device, kvCacheDtype);
        return switch (check(device)) {
            case "cpu" -> {
                KvStorage storage = dtype.equals("auto") ? KvStorage.F32 : KvStorage.parse(dtype);
                yield new CpuBackend(threads > 0 ? threads : Runtime.getRuntime().availableProcessors(), storage);
            }
            default -> dtype.equals("bf16") ? new CudaBackend(TensorParallel.SINGLE, KvDtype.BF16) : new CudaBackend();
        };
    }

    /**
     * The ranks of {@code --tensor-parallel-size} {@code ranks} on {@code device}: on the CPU, the
     * {@code threads} workers (0: one per core) split into equal groups, one per rank; on CUDA,
     * GPU r for rank r and NCCL between them.
     *
     * @throws IllegalArgumentException for another device name or a size below 1
     * @throws IllegalStateException    where CUDA, enough GPUs or NCCL is missing, with the reason
     */
    public static Ranks create(String device, int threads, int ranks) {
        return create(device, threads, ranks, "auto");
    }

    /** As {@link #create(String, int, int)}, every rank's K and V stored as {@code kvCacheDtype} (see {@link #create(String, int, String)}). */
    public static Ranks create(String device, int threads, int ranks, String kvCacheDtype) {
        String d = check(device, ranks);
        String dtype = checkKvCacheDtype(d, kvCacheDtype);
        if (ranks == 1) return Ranks.single(create(d, threads, dtype));
        List<Backend> backends = new ArrayList<>(ranks);
        try {
            if (d.equals("cpu")) {
                int total = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
                KvStorage storage = dtype.equals("auto") ? KvStorage.F32 : KvStorage.parse(dtype);
                for (int r = 0; r < ranks; r++) backends.add(new CpuBackend(Math.max(1, total / ranks), storage));
                return new Ranks(backends, new CpuAllReduce(ranks));
            }
            List<CudaBackend> gpus = new ArrayList<>(ranks);
            for (int r = 0; r < ranks; r++) {
                CudaBackend b = new CudaBackend(new TensorParallel(r, ranks), dtype.equals("bf16") ? KvDtype.BF16 : KvDtype.F16);
                gpus.add(b);
                backends.add(b);
            }
            AllReduceGroup nccl = NcclAllReduce.initAll(gpus);
            return new Ranks(backends, nccl);
        } catch (RuntimeException e) {
            for (Backend b : backends) b.close();
            throw e;
        }
    }

    /**
     * {@link #check(String)}, and that {@code ranks} tensor-parallel ranks can run there: on CUDA,
     * as many visible GPUs, and NCCL when there are several.
     *
     * @throws IllegalArgumentException for another device name or a size below 1
     * @throws IllegalStateException    for too few GPUs or no NCCL, with the numbers or the reason
     */
    public static String check(String device, int ranks) {
        if (ranks < 1) throw new IllegalArgumentException("--tensor-parallel-size must be at least 1, got " + ranks);
        String d = check(device);
        if (d.equals("cuda") && ranks > 1) {
            int gpus = CudaRuntime.deviceCount();
            if (ranks > gpus) {
                String visible = System.getenv("CUDA_VISIBLE_DEVICES");
                throw new IllegalStateException("--tensor-parallel-size " + ranks + " needs " + ranks + " GPUs, one per rank,"
                        + " but CUDA sees " + gpus + (visible != null ? " (CUDA_VISIBLE_DEVICES=" + visible + ")" : ""));
            }
            if (!NcclAllReduce.available()) {
                throw new IllegalStateException("--tensor-parallel-size " + ranks + " on cuda: " + NcclAllReduce.unavailableReason());
            }
        }
        return d;
    }

    /**
     * Checks {@code --kv-cache-dtype} for {@code device} without creating anything.
     *
     * @return the type in lower case
     * @throws IllegalArgumentException naming the flag when the device cannot store that type
     */
    public static String checkKvCacheDtype(String device, String kvCacheDtype) {
        String dtype = kvCacheDtype.toLowerCase(Locale.ROOT);
        boolean cpu = device.equalsIgnoreCase("cpu");
        if (!dtype.equals("auto") && !dtype.equals("f16") && !dtype.equals("bf16") && !(cpu && dtype.equals("f32"))) {
            throw new IllegalArgumentException("--kv-cache-dtype must be auto, " + (cpu ? "f32, " : "") + "f16 or bf16 on "
                    + device.toLowerCase(Locale.ROOT) + ", got '" + kvCacheDtype + "'");
        }
        return dtype;
    }

    /**
     * Checks that {@code device} can run here without starting it (commands call this before
     * loading a model, so that {@code --device cuda} on a machine without a GPU stops at once).
     *
     * @return the device name in lower case
     * @throws IllegalArgumentException for another device name
     * @throws IllegalStateException    for {@code cuda} without a usable GPU, with the reason
     */
    public static String check(String device) {
        String d = device.toLowerCase(Locale.ROOT);
        switch (d) {
            case "cpu" -> { }
            case "cuda" -> {
                if (!CudaRuntime.available()) {
                    throw new IllegalStateException("--device cuda: " + CudaRuntime.unavailableReason());
                }
            }
            default -> throw new IllegalArgumentException("--device must be cpu or cuda, got '" + device + "'");
        }
        return d;
    }
}
