package dev.kvasir.server.engine;

import dev.kvasir.kernels.cuda.CudaTestSupport;
import dev.kvasir.server.ServerConfig;

/**
 * {@link KvRetentionTest} on the CUDA backend: session retention, and the host offload tier's copies
 * out of and back into device KV memory (the text after a copy back must equal a recompute's).
 * Skips without a GPU; in the cuda-sim execution it runs on the CPU simulator (and must). Pinning
 * is the block manager's bookkeeping alone, the same on every backend: tested on the CPU only, which
 * keeps this class's simulator time down.
 */
class CudaKvRetentionTest extends KvRetentionTest {

    @Override
    ServerConfig config(EngineConfig.KvRetention retention, long offloadBytes) {
        return super.config(retention, offloadBytes).toBuilder().device("cuda").gpuMemoryUtilization(0.5).build();
    }

    @Override
    void requireBackend() {
        CudaTestSupport.requireCuda();
    }

    /** Not a test here (no {@code @Test}): see the class comment. */
    @Override
    void aPinnedPrefixOutlivesSessionTraffic() {}
}
