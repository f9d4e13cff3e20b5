package dev.kvasir.models;

import dev.kvasir.kernels.Backend;
import dev.kvasir.kernels.cpu.CpuBackend;
import dev.kvasir.kernels.cuda.CudaRuntime;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** {@code --device} and {@code --kv-cache-dtype} selection; the CUDA side of it is in {@code cuda.CudaKvCacheSizingTest}. */
class BackendsTest {

    @Test
    void cpuDeviceIsTheVectorBackend() {
        try (Backend b = Backends.create("CPU", 1)) {
            assertInstanceOf(CpuBackend.class, b);
        }
    }

    @Test
    void unknownDeviceIsRefusedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.create("tpu", 1));
        assertTrue(e.getMessage().contains("'tpu'"), e.getMessage());
    }

    @Test
    void cudaWithoutAGpuFailsAtOnceWithTheReason() {
        assumeFalse(CudaRuntime.available(), "a usable GPU is present: cuda.CudaKvCacheSizingTest covers it");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Backends.create("cuda", 0));
        assertEquals("--device cuda: " + CudaRuntime.unavailableReason(), e.getMessage());
        assertThrows(IllegalStateException.class, () -> Backends.check("cuda"));
    }

    @Test
    void kvCacheDtypeSetsTheCpuBytesPerElementAndRefusesOthersByFlag() {
        for (String[] c : new String[][] {{"auto", "4"}, {"f32", "4"}, {"F16", "2"}, {"bf16", "2"}}) {
            try (Backend b = Backends.create("cpu", 1, c[0])) {
                assertEquals(Integer.parseInt(c[1]), b.kvElementBytes(), c[0]);
            }
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.create("cpu", 1, "int4"));
        assertTrue(e.getMessage().startsWith("--kv-cache-dtype") && e.getMessage().contains("'int4'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Backends.checkKvCacheDtype("cuda", "f32"));
        assertTrue(e.getMessage().contains("f16 or bf16 on cuda"), e.getMessage());
    }
}
