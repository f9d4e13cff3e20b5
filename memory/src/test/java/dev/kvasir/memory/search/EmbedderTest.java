package dev.kvasir.memory.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The model ships in the jar and loads with no network (this machine and CI have none to the hubs). */
class EmbedderTest {
    @Test
    void loadsOfflineAndEmbedsMeaning() {
        Embedder e = Embedder.shared().join();
        System.out.println("all-MiniLM-L6-v2 (quantized) load + first inference: " + e.loadMillis() + " ms");
        Embedder.Embedded out = e.embedAll(List.of("My dog loves the beach", "The puppy enjoys playing by the sea",
                "Quarterly tax filing deadline"));
        assertEquals(3, out.vectors().size());
        assertTrue(out.tokens() >= 12, "word-piece tokens counted: " + out.tokens());
        for (float[] v : out.vectors()) {
            assertEquals(Embedder.DIMENSION, v.length);
            assertEquals(1.0, VectorMath.dot(v, 0, v), 1e-4);
        }
        float related = VectorMath.dot(out.vectors().get(0), 0, out.vectors().get(1));
        float unrelated = VectorMath.dot(out.vectors().get(0), 0, out.vectors().get(2));
        assertTrue(related > 0.4 && unrelated < 0.2 && related > unrelated + 0.3, related + " vs " + unrelated);
        float[] single = e.embed("My dog loves the beach");
        assertEquals(1.0, VectorMath.dot(single, 0, out.vectors().get(0)), 1e-3, "batch and single embeddings agree");
    }
}
