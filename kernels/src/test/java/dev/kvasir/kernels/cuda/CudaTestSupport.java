package dev.kvasir.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Whether the CUDA tests run, and on what. Without a GPU they skip with the probe's reason. In the
 * cuda-sim Surefire execution ({@code -Dkvasir.cuda.sim=true}, fake libcuda/libcublas from
 * native/target/sim/lib on LD_LIBRARY_PATH) they must run: a test that would skip fails instead, and
 * the device must be the simulator. Outside it the device must NOT be the simulator, so that a pass
 * on the CPU simulator is never mistaken for a pass on a GPU.
 */
public final class CudaTestSupport {

    /** What the fake driver (native/sim/driver.cpp) calls its device. */
    public static final String SIMULATOR_NAME = CudaRuntime.SIMULATOR_NAME;

    private static volatile boolean announced;

    private CudaTestSupport() {
    }

    /** True in the cuda-sim execution. */
    public static boolean simulated() {
        return Boolean.getBoolean("kvasir.cuda.sim");
    }

    /** Skips (no GPU), fails (cuda-sim without a working simulator), or returns the device the test runs on. */
    public static CudaRuntime.DeviceInfo requireCuda() {
        if (simulated()) {
            assertTrue(CudaRuntime.available(), () -> "kvasir.cuda.sim=true, so the CUDA tests must run on the CPU simulator,"
                    + " but CUDA is not usable: " + CudaRuntime.unavailableReason() + " (build native/ first:"
                    + " native/scripts/build-sim.sh makes native/target/sim/lib)");
        }
        assumeTrue(CudaRuntime.available(), CudaRuntime::unavailableReason);
        CudaRuntime.DeviceInfo device = CudaRuntime.device();
        boolean isSimulator = device.simulator();
        if (simulated()) {
            assertTrue(isSimulator, () -> "kvasir.cuda.sim=true but the device is " + device + ", not the simulator");
        } else {
            assertFalse(isSimulator, () -> "the CPU simulator's fake CUDA libraries are on LD_LIBRARY_PATH outside the"
                    + " cuda-sim execution: these results would not be a GPU's");
        }
        if (!announced) {
            announced = true;
            System.out.println("CUDA tests run on " + device + (isSimulator ? " -- the CPU SIMULATOR, NOT A GPU" : ""));
        }
        return device;
    }
}
