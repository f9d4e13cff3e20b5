package dev.kvasir.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvasir.memory.search.Embedder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code /v1/embeddings} through the service: vectors and usage, and its input checks. */
class EmbeddingsInputTest {
    @TempDir
    Path dir;

    @Test
    void embedsAndRefusesBadInput() {
        try (MemoryService memory = MemoryService.open("sqlite:" + dir.resolve("m.db"), MemoryConfig.defaults()).orElseThrow()) {
            Embedder.Embedded out = memory.embed(List.of("hello world", "a second text"));
            assertEquals(2, out.vectors().size());
            assertEquals(Embedder.DIMENSION, out.vectors().get(0).length);
            assertTrue(out.tokens() >= 5, "usage: " + out.tokens());
            for (List<String> bad : Arrays.asList(null, List.<String>of(), List.of("ok", ""))) {
                MemoryInputException e = assertThrows(MemoryInputException.class, () -> memory.embed(bad));
                assertEquals("input", e.param());
            }
            assertTrue(memory.embeddingsReady());
        }
    }
}
