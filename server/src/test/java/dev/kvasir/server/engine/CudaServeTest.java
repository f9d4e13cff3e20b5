package dev.kvasir.server.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.kernels.cuda.CudaTestSupport;
import dev.kvasir.server.KvasirServer;
import dev.kvasir.server.ServerConfig;
import dev.kvasir.server.TestServers;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code serve --device cuda} end to end: the same engine, block manager and HTTP API over the CUDA
 * backend give the CPU server's greedy text, fork n = 2 by copy-on-write, hit the prefix cache, and
 * preempt by swapping blocks to host memory and back. The KV pool is sized by the GPU memory plan.
 * Skips without a GPU; in the cuda-sim execution it runs on the CPU simulator (and must).
 */
class CudaServeTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static ServerConfig gpuConfig() {
        // No --num-kv-blocks: the memory plan sizes the pool (capped at what 8 sequences of 256 need).
        return ServerConfig.builder(TestServers.model()).device("cuda").gpuMemoryUtilization(0.5).maxModelLen(256)
                .maxNumSeqs(8).maxNumBatchedTokens(256).threads(2).warmupSteps(16).memoryStore("none").build();
    }

    private static JsonNode chat(KvasirServer server, String content, String extra) throws Exception {
        String body = "{\"model\":\"" + TestServers.MODEL_NAME + "\",\"messages\":[{\"role\":\"user\",\"content\":"
                + JSON.writeValueAsString(content) + "}],\"temperature\":0,\"max_tokens\":40" + extra + "}";
        TestServers.Raw r = TestServers.post(server.port(), "/v1/chat/completions", body.getBytes(StandardCharsets.UTF_8));
        assertEquals(200, r.status(), r.body());
        return JSON.readTree(r.body());
    }

    @Test
    void gpuServerAnswersWhatTheCpuServerAnswers() throws Exception {
        CudaTestSupport.requireCuda();
        String[] prompts = {"Once upon a time", "The little dog ran to the park and", "Lily had a red ball. One day"};
        List<String> cpuText = new ArrayList<>();
        try (KvasirServer cpu = TestServers.start(TestServers.config())) {
            for (String p : prompts) cpuText.add(chat(cpu, p, "").at("/choices/0/message/content").asText());
        }
        try (KvasirServer gpu = TestServers.start(gpuConfig())) {
            for (int i = 0; i < prompts.length; i++) {
                JsonNode first = chat(gpu, prompts[i], "");
                assertEquals(cpuText.get(i), first.at("/choices/0/message/content").asText(), "prompt " + i);
                assertFalse(cpuText.get(i).isBlank());
                // The same prompt again: its full blocks come from the prefix cache, the text is unchanged.
                JsonNode again = chat(gpu, prompts[i], "");
                assertEquals(cpuText.get(i), again.at("/choices/0/message/content").asText(), "prompt " + i + " again");
            }
            // A prompt longer than one block, asked twice: the second reuses the first's cached block.
            String longPrompt = "Once upon a time there was a little girl named Lily who loved to play outside in the sun";
            chat(gpu, longPrompt, "");
            assertTrue(chat(gpu, longPrompt, "").at("/usage/prompt_tokens_details/cached_tokens").asInt() >= 16,
                    "the second request hits the prefix cache");
            // n = 2 greedy forks the prompt (copy-on-write of its last block): both choices equal the single answer.
            JsonNode two = chat(gpu, prompts[0], ",\"n\":2");
            assertEquals(2, two.get("choices").size());
            for (JsonNode c : two.get("choices")) assertEquals(cpuText.get(0), c.at("/message/content").asText());
            int used = gpu.engine().probe(kv -> {
                kv.checkInvariants();
                return kv.numUsedBlocks();
            }).get(10, TimeUnit.SECONDS);
            assertEquals(0, used, "every block is back in the pool");
        }
    }

    @Test
    void swapPreemptionMovesBlocksThroughHostMemory() throws Exception {
        CudaTestSupport.requireCuda();
        // 24 device blocks; 6 sequences of ~150 tokens need ~60: preemption is certain, by swap.
        ServerConfig small = ServerConfig.builder(TestServers.model()).device("cuda").maxModelLen(256).numKvBlocks(24)
                .maxNumSeqs(8).maxNumBatchedTokens(64).swapSpaceBytes(1L << 20)
                .preemptionMode(EngineConfig.PreemptionMode.SWAP).threads(2).warmupSteps(0).memoryStore("none").build();
        PreemptionTest.assertPreemptionKeepsEachText(small);
    }
}
