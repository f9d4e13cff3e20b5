package dev.kvasir.kernels.cuda;

import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;

import java.util.HashMap;
import java.util.Map;

/**
 * Our fatbin loaded into a context with cuModuleLoadData (the driver picks the sm_80 or sm_90
 * code, or JIT-compiles the PTX on a newer GPU), and launches of its kernels by their
 * {@code extern "C"} names.
 */
final class CudaModule implements AutoCloseable {

    /** Dynamic shared memory a launch may use without opting in. */
    private static final int DEFAULT_SMEM_LIMIT = 48 * 1024;

    private final CUmod_st module = new CUmod_st();
    private final Map<String, CUfunc_st> functions = new HashMap<>();
    private final Map<String, Integer> smemOptIn = new HashMap<>();

    CudaModule(byte[] fatbin) {
        try (BytePointer image = new BytePointer(fatbin)) {
            Cuda.check(cudart.cuModuleLoadData(module, image), "cuModuleLoadData(kvasir_kernels.fatbin)");
        }
    }

    CUfunc_st function(String name) {
        CUfunc_st f = functions.get(name);
        if (f == null) {
            f = new CUfunc_st();
            int status = cudart.cuModuleGetFunction(f, module, name);
            if (status != cudart.CUDA_SUCCESS) {
                throw new CudaException("kernel " + name + " is not in kvasir_kernels.fatbin: " + Cuda.errorName(status));
            }
            functions.put(name, f);
        }
        return f;
    }

    /** Launches {@code name} on {@code stream}; the launch's own errors are checked here, its execution's at the next synchronisation. */
    void launch(String name, int gridX, int gridY, int gridZ, int block, int smemBytes, CUstream_st stream, KernelArgs args) {
        if (gridX <= 0 || gridY <= 0 || gridZ <= 0) return; // nothing to do: an empty launch is an error in CUDA
        if (gridY > 65535 || gridZ > 65535) {
            throw new IllegalArgumentException("kernel " + name + ": grid " + gridX + "x" + gridY + "x" + gridZ
                    + " exceeds CUDA's 65535 limit on y and z");
        }
        CUfunc_st f = function(name);
        if (smemBytes > DEFAULT_SMEM_LIMIT && smemOptIn.getOrDefault(name, 0) < smemBytes) {
            Cuda.check(cudart.cuFuncSetAttribute(f, cudart.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smemBytes),
                    "cuFuncSetAttribute(" + name + ", dynamic shared memory " + smemBytes + ")");
            smemOptIn.put(name, smemBytes);
        }
        Cuda.check(cudart.cuLaunchKernel(f, gridX, gridY, gridZ, block, 1, 1, smemBytes, stream, args.params(), null),
                "cuLaunchKernel(" + name + ")");
    }

    @Override
    public void close() {
        functions.clear();
        Cuda.check(cudart.cuModuleUnload(module), "cuModuleUnload");
    }
}
