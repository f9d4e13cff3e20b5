package dev.kvasir.kernels.cuda;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The paths that work without a GPU: the probe's reason, and the fatbin resource. */
class CudaRuntimeTest {

    @Test
    void probeGivesAReasonExactlyWhenUnavailable() {
        if (CudaRuntime.available()) {
            assertNull(CudaRuntime.unavailableReason());
            assertNotNull(CudaRuntime.device().name());
        } else {
            String reason = CudaRuntime.unavailableReason();
            assertNotNull(reason);
            assertFalse(reason.isBlank());
            // It names what is missing, so a user knows what to install or fix.
            assertTrue(reason.matches("(?s).*(libcuda|libcudart|cuInit|device|cuBLAS|fatbin).*"), reason);
            IllegalStateException e = assertThrows(IllegalStateException.class, CudaRuntime::device);
            assertTrue(e.getMessage().contains(reason));
        }
    }

    /** In the cuda-sim execution: the fake driver's device, as the probe describes it. */
    @Test
    @Tag("cuda-sim-only") // gpu-check on a real GPU excludes it, so that nothing there may skip
    void simulatorReportsItselfAsOne() {
        assumeTrue(CudaTestSupport.simulated(), "not the cuda-sim execution");
        CudaRuntime.DeviceInfo d = CudaTestSupport.requireCuda();
        assertEquals(CudaTestSupport.SIMULATOR_NAME, d.name());
        assertEquals(9, d.major());
        assertEquals(0, d.minor());
        assertEquals(13000, d.driverVersion());
        assertTrue(d.totalBytes() > 0);
        assertTrue(d.toString().contains("not a GPU"), d::toString);
    }

    @Test
    @Tag("without-cuda") // gpu-check excludes it: where CUDA works this path cannot be reached
    void backendRefusesToStartWithTheReason() {
        assumeTrue(!CudaRuntime.available(), "CUDA is usable here (a GPU, or the CPU simulator in cuda-sim): the refusal path is not reachable");
        IllegalStateException e = assertThrows(IllegalStateException.class, CudaBackend::new);
        assertTrue(e.getMessage().startsWith("--device cuda: "), e.getMessage());
        assertTrue(e.getMessage().contains(CudaRuntime.unavailableReason()));
    }

    @Test
    @Tag("without-cuda") // gpu-check excludes it: where NCCL loads this path cannot be reached
    void ncclAbsenceSaysWhereNcclComesFrom() {
        assumeTrue(!NcclAllReduce.available(), "NCCL loads here (a GPU machine with NCCL, or the simulator's in cuda-sim)");
        String reason = NcclAllReduce.unavailableReason();
        assertTrue(reason.contains("libnccl.so.2") && reason.contains("nvidia-nccl-cu13"), reason);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> NcclAllReduce.initAll(java.util.List.of()));
        assertEquals(reason, e.getMessage());
    }

    @Test
    void fatbinIsOnTheClasspathWhenNvccWasPresent() {
        assumeTrue(nvccOnPath(), "nvcc is not on the PATH, so kvasir-native was built without the fatbin");
        byte[] fatbin = CudaRuntime.fatbin();
        assertNotNull(fatbin, CudaRuntime.FATBIN_RESOURCE + " is missing although nvcc is on the PATH");
        // A fatbin starts with its magic number 0xBA55ED50, little-endian.
        assertTrue(fatbin.length > 1024);
        assertEquals((byte) 0x50, fatbin[0]);
        assertEquals((byte) 0xED, fatbin[1]);
        assertEquals((byte) 0x55, fatbin[2]);
        assertEquals((byte) 0xBA, fatbin[3]);
    }

    private static boolean nvccOnPath() {
        String path = System.getenv("PATH");
        if (path == null) return false;
        for (String dir : path.split(File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "nvcc"))) return true;
        }
        return false;
    }
}
