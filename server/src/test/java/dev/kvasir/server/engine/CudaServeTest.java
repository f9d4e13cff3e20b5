package dev.kvasir.server.engine;

import dev.kvasir.kernels.cuda.CudaRuntime;
import dev.kvasir.kernels.cuda.CudaTestSupport;
import dev.kvasir.server.KvasirServer;
import dev.kvasir.server.ServerConfig;
import dev.kvasir.server.TestServers;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code serve --device cuda} end to end: the same engine, block manager and HTTP API over the CUDA
 * backend give the CPU server's greedy text, fork n = 2 by copy-on-write, hit the prefix cache, and
 * preempt by swapping blocks to host memory and back. The KV pool is sized by the GPU memory plan.
 * Skips without a GPU; in the cuda-sim execution it runs on the CPU simulator (and must).
 */
class CudaServeTest {

    private static ServerConfig gpuConfig() {
        // No --num-kv-blocks: the memory plan sizes the pool (capped at what 8 sequences of 256 need).
        return ServerConfig.builder(TestServers.model()).device("cuda").gpuMemoryUtilization(0.5).maxModelLen(256)
                .maxNumSeqs(8).maxNumBatchedTokens(256).threads(2).warmupSteps(16).memoryStore("none").build();
    }

    @Test
    void gpuServerAnswersWhatTheCpuServerAnswers() throws Exception {
        CudaTestSupport.requireCuda();
        List<String> cpu = GreedyAnswers.cpuAnswers();
        try (KvasirServer gpu = TestServers.start(gpuConfig())) {
            GreedyAnswers.assertAnswers(gpu, cpu);
        }
    }

    /**
     * {@code serve --device cuda --tensor-parallel-size 2}: the model split over two devices (each its
     * own CudaBackend, driven by its own thread; NCCL's all-reduce between them), each device's KV
     * pool sized by its own memory plan, one engine and block manager: the CPU server's text. (Four
     * devices, and KV heads replicated, are models' CudaTensorParallelTest.) Needs 2 GPUs; the
     * cuda-sim execution gives the simulator 4.
     */
    @Test
    void tensorParallelGpuServerAnswersWhatTheCpuServerAnswers() throws Exception {
        CudaTestSupport.requireCuda();
        int devices = CudaRuntime.deviceCount();
        if (CudaTestSupport.simulated()) {
            assertTrue(devices >= 2, "the cuda-sim execution gives the simulator 4 devices (KVASIR_SIM_DEVICES, server pom)");
        }
        assumeTrue(devices >= 2, "needs 2 GPUs, found " + devices);
        List<String> cpu = GreedyAnswers.cpuAnswers();
        try (KvasirServer gpu = TestServers.start(gpuConfig().toBuilder().tensorParallelSize(2).build())) {
            assertEquals(2, gpu.tensorParallelSize());
            GreedyAnswers.assertAnswers(gpu, cpu);
        }
    }

    @Test
    void swapPreemptionMovesBlocksThroughHostMemory() throws Exception {
        CudaTestSupport.requireCuda();
        // 24 device blocks; 6 sequences of ~150 tokens need ~60: preemption is certain, by swap.
        ServerConfig small = ServerConfig.builder(TestServers.model()).device("cuda").maxModelLen(256).numKvBlocks(24)
                .maxNumSeqs(8).maxNumBatchedTokens(64).swapSpaceBytes(1L << 20)
                .preemptionMode(EngineConfig.PreemptionMode.SWAP).threads(2).warmupSteps(0).memoryStore("none").build();
        PreemptionTest.assertPreemptionKeepsEachText(small, null);
    }
}
