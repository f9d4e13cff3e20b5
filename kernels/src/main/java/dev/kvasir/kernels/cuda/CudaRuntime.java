package dev.kvasir.kernels.cuda;

import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.Loader;

import java.io.IOException;
import java.io.InputStream;

/**
 * Whether this machine can run the CUDA backend, and if not, why. Probed once, on first use, in
 * the order a user would fix things: the driver (libcuda.so.1) and the CUDA 13 runtime, then a
 * device of compute capability 8.0 or newer, then cuBLAS, then our fatbin in the kvasir-native jar.
 * Nothing here throws: a machine without a GPU gets {@link #available()} false and a reason.
 *
 * <p>The JavaCPP jars carry only the JNI glue. The libraries themselves come from the machine:
 * {@code libcuda.so.1} from the NVIDIA driver; {@code libcudart.so.13}, {@code libcublas.so.13}
 * and {@code libcublasLt.so.13} from a CUDA 13 install (or the {@code nvidia-cuda-runtime} and
 * {@code nvidia-cublas} Python wheels' {@code lib} folders). JavaCPP finds them through the
 * system loader, so their folders must be on {@code LD_LIBRARY_PATH} (or in ld.so.conf);
 * {@code scripts/gpu-check} sets that up from the CUDA install it finds.
 *
 * <p>In CI the same tests also run against the CPU simulator's fake {@code libcuda.so.1} and
 * {@code libcublas.so.13} (native/sim, built into native/target/sim/lib; the cuda-sim Surefire
 * executions put that folder on {@code LD_LIBRARY_PATH}). Its device calls itself
 * {@value #SIMULATOR_NAME}; a backend on it logs a warning, since it is no GPU.
 */
public final class CudaRuntime {

    /** Classpath location of the kernels fatbin that native/ builds. */
    public static final String FATBIN_RESOURCE = "/dev/kvasir/native/kvasir_kernels.fatbin";

    /** The device name of the CPU simulator's fake driver (native/sim/driver.cpp). */
    public static final String SIMULATOR_NAME = "Kvasir CPU simulator (not a GPU)";

    private static final int MIN_MAJOR = 8;

    /** What the probe found: the device when usable, else the reason. */
    private record Probe(DeviceInfo device, String reason) {
    }

    /** The device the backend would use (ordinal 0 unless told otherwise). */
    public record DeviceInfo(int ordinal, String name, int major, int minor, long totalBytes, int driverVersion) {
        /** True for the CPU simulator's fake device: results on it say nothing about a GPU. */
        public boolean simulator() {
            return SIMULATOR_NAME.equals(name);
        }

        @Override
        public String toString() {
            return name + " (sm_" + major + minor + ", " + totalBytes / (1 << 20) + " MiB, driver API "
                    + driverVersion / 1000 + "." + driverVersion % 1000 / 10 + ")";
        }
    }

    private static volatile Probe probe;

    private CudaRuntime() {
    }

    /** True when a usable GPU, the CUDA libraries and our kernels are all present. */
    public static boolean available() {
        return probe().device != null;
    }

    /** Why the CUDA backend cannot run here, or null when it can. */
    public static String unavailableReason() {
        return probe().reason;
    }

    /** The device found; throws with the reason when there is none. */
    public static DeviceInfo device() {
        Probe p = probe();
        if (p.device == null) throw new IllegalStateException("CUDA is not usable: " + p.reason);
        return p.device;
    }

    /** How many CUDA devices the driver reports (the simulator's: KVASIR_SIM_DEVICES); 0 without CUDA. */
    public static int deviceCount() {
        if (!available()) return 0;
        int[] count = new int[1];
        Cuda.check(cudart.cuDeviceGetCount(count), "cuDeviceGetCount");
        return count[0];
    }

    /** Our fatbin's bytes, or null when the kvasir-native jar was built without nvcc. */
    public static byte[] fatbin() {
        try (InputStream in = CudaRuntime.class.getResourceAsStream(FATBIN_RESOURCE)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            return null;
        }
    }

    private static Probe probe() {
        Probe p = probe;
        if (p == null) {
            synchronized (CudaRuntime.class) {
                p = probe;
                if (p == null) {
                    p = runProbe();
                    probe = p;
                }
            }
        }
        return p;
    }

    private static Probe runProbe() {
        try {
            Loader.load(cudart.class);
        } catch (Throwable e) { // UnsatisfiedLinkError and friends: no driver or no runtime
            String m = rootMessage(e);
            String what = m.contains("libcuda.so") ? "no NVIDIA driver: libcuda.so.1 was not found"
                    : m.contains("libcudart") ? "the CUDA 13 runtime libcudart.so.13 was not found"
                    : "the CUDA driver (libcuda.so.1) or the CUDA 13 runtime (libcudart.so.13) could not be loaded";
            return new Probe(null, what + " (" + m + "); install the NVIDIA driver and CUDA 13, and put their lib"
                    + " folders on LD_LIBRARY_PATH");
        }
        int status = cudart.cuInit(0);
        if (status != cudart.CUDA_SUCCESS) {
            return new Probe(null, "cuInit failed: " + Cuda.errorName(status)
                    + (status == cudart.CUDA_ERROR_NO_DEVICE ? "; no NVIDIA GPU is visible (check CUDA_VISIBLE_DEVICES)" : ""));
        }
        int[] count = new int[1];
        status = cudart.cuDeviceGetCount(count);
        if (status != cudart.CUDA_SUCCESS) return new Probe(null, "cuDeviceGetCount failed: " + Cuda.errorName(status));
        if (count[0] == 0) return new Probe(null, "no CUDA device found");

        DeviceInfo device;
        try {
            device = describe(0);
        } catch (CudaException e) {
            return new Probe(null, e.getMessage());
        }
        if (device.major < MIN_MAJOR) {
            return new Probe(null, "device 0 is " + device + "; Kvasir's kernels are built for sm_80 (A100) and newer");
        }
        try {
            Loader.load(cublas.class);
        } catch (Throwable e) {
            return new Probe(null, "cuBLAS (libcublas.so.13, libcublasLt.so.13) could not be loaded: " + rootMessage(e)
                    + "; install CUDA 13's cuBLAS and put its lib folder on LD_LIBRARY_PATH");
        }
        if (fatbin() == null) {
            return new Probe(null, "the kernels fatbin " + FATBIN_RESOURCE + " is not on the classpath: kvasir-native"
                    + " was built without nvcc on the PATH; rebuild with CUDA 13's nvcc installed");
        }
        return new Probe(device, null);
    }

    static DeviceInfo describe(int ordinal) {
        int[] dev = new int[1];
        Cuda.check(cudart.cuDeviceGet(dev, ordinal), "cuDeviceGet(" + ordinal + ")");
        byte[] name = new byte[256];
        Cuda.check(cudart.cuDeviceGetName(name, name.length, dev[0]), "cuDeviceGetName");
        int len = 0;
        while (len < name.length && name[len] != 0) len++;
        int[] major = new int[1], minor = new int[1], driver = new int[1];
        Cuda.check(cudart.cuDeviceGetAttribute(major, cudart.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev[0]),
                "cuDeviceGetAttribute(major)");
        Cuda.check(cudart.cuDeviceGetAttribute(minor, cudart.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev[0]),
                "cuDeviceGetAttribute(minor)");
        Cuda.check(cudart.cuDriverGetVersion(driver), "cuDriverGetVersion");
        long total;
        try (var bytes = new org.bytedeco.javacpp.SizeTPointer(1)) {
            Cuda.check(cudart.cuDeviceTotalMem(bytes, dev[0]), "cuDeviceTotalMem");
            total = bytes.get(0);
        }
        return new DeviceInfo(ordinal, new String(name, 0, len, java.nio.charset.StandardCharsets.UTF_8), major[0],
                minor[0], total, driver[0]);
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) t = t.getCause();
        String m = t.getMessage();
        return t.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }
}
