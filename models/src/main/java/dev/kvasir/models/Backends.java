package dev.kvasir.models;

import dev.kvasir.kernels.Backend;
import dev.kvasir.kernels.cpu.CpuBackend;
import dev.kvasir.kernels.cuda.CudaBackend;
import dev.kvasir.kernels.cuda.CudaRuntime;

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
        return switch (check(device)) {
            case "cpu" -> threads > 0 ? new CpuBackend(threads) : new CpuBackend();
            default -> new CudaBackend();
        };
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
