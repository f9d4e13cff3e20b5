package dev.kvasir.models;

import dev.kvasir.kernels.Backend;
import dev.kvasir.kernels.cpu.CpuBackend;
import dev.kvasir.kernels.cpu.KvStorage;
import dev.kvasir.kernels.cuda.CudaBackend;
import dev.kvasir.kernels.cuda.CudaRuntime;
import dev.kvasir.kernels.cuda.KvDtype;
import dev.kvasir.kernels.cuda.TensorParallel;

import java.util.Locale;

/** The backend a {@code --device} names: {@code cpu} (the Vector API) or {@code cuda} (GPU 0). */
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
