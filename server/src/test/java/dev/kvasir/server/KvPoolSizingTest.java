package dev.kvasir.server;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The KV pool sized from --kv-cache-memory: --max-num-seqs 1 starts, and real shortage names the real limit. */
class KvPoolSizingTest {

    private static ServerConfig.Builder memorySized() {
        return TestServers.config().toBuilder().numKvBlocks(null);
    }

    /**
     * The reported bug: one sequence's blocks (the cap for one sequence at max-model-len) were fewer
     * than one sequence needs above the scheduler's watermark, so the server refused to start,
     * blaming KV memory, with memory to spare.
     */
    @Test
    void oneSequenceAtATimeStartsWhenMemoryIsPlentiful() {
        // stories260K: max-model-len 512 here, so one sequence is 32 blocks (1% of 32 is no block of watermark).
        ServerConfig config = memorySized().maxModelLen(512).maxNumSeqs(1).kvCacheMemoryBytes(256L << 20).build();
        try (KvasirServer server = TestServers.start(config)) {
            assertOk(Http.post(server, "/v1/chat/completions", Http.chat("Hello", "\"max_tokens\":4")));
            String full = "{\"prompt\":\"Once\",\"max_tokens\":" + (512 - 8) + ",\"ignore_eos\":true}";
            assertOk(Http.post(server, "/v1/completions", full));
        }
    }

    @Test
    void realShortageNamesTheMemoryFlagAndWhatOneSequenceNeeds() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> KvasirServer.start(memorySized().maxModelLen(512).maxNumSeqs(1).kvCacheMemoryBytes(4096).build()));
        assertTrue(e.getMessage().contains("--kv-cache-memory 4096 bytes") && e.getMessage().contains("needs 32"), e.getMessage());
    }

    private static void assertOk(java.net.http.HttpResponse<String> r) {
        assertEquals(200, r.statusCode(), r.body());
    }
}
