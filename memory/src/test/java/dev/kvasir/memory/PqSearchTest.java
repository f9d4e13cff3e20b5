package dev.kvasir.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvasir.memory.search.Embedder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --memory-vectors pq} end to end on one store: past 1,024 memories the index holds 48 bytes
 * a memory instead of 1,924, and dense searches (re-ranked on exact vectors from the store) return
 * nearly what the float index returns.
 */
class PqSearchTest {
    @TempDir
    Path dir;

    @Test
    void pqIndexesHoldCodesOnlyAndFindWhatFloatsFind() {
        String spec = "sqlite:" + dir.resolve("m.db");
        int n = 1500;
        Random r = new Random(21);
        float[][] centres = new float[30][Embedder.DIMENSION];
        for (float[] c : centres) for (int i = 0; i < c.length; i++) c[i] = (float) r.nextGaussian();
        try (MemoryService writer = MemoryService.open(spec, MemoryConfig.defaults()).orElseThrow()) {
            List<NewMemory> rows = new ArrayList<>();
            List<float[]> vectors = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                rows.add(NewMemory.of("note " + i));
                vectors.add(near(centres[r.nextInt(centres.length)], r));
            }
            writer.addPrecomputed("t", "big", rows, vectors);
        }
        MemoryConfig pqConfig = MemoryConfig.defaults().withFeatures(MemoryFeatures.DEFAULTS.withVectors(VectorMode.PQ));
        try (MemoryService floats = MemoryService.open(spec, MemoryConfig.defaults()).orElseThrow();
             MemoryService pq = MemoryService.open(spec, pqConfig).orElseThrow()) {
            assertEquals(n, pq.indexedCount("t", "big"));
            assertEquals(48, pq.vectorBytes("t", "big"));
            assertEquals(1924, floats.vectorBytes("t", "big"));
            assertTrue(pq.codebookBytes() > 0);
            int found = 0, total = 0;
            String[] queries = {"a note about the garden", "what did I say about trains", "my favourite food", "the budget meeting",
                    "holiday plans in spring", "the dentist appointment", "a song I like", "where I grew up"};
            for (String q : queries) {
                SearchRequest dense = SearchRequest.of(q, 10).withMode(RetrievalMode.DENSE);
                Set<String> truth = new HashSet<>(floats.search("t", "big", dense, null).ids());
                for (String id : pq.search("t", "big", dense, null).ids()) if (truth.contains(id)) found++;
                total += truth.size();
            }
            assertTrue(found >= 0.9 * total, "pq recall@10 against floats: " + found + "/" + total);
        }
    }

    private static float[] near(float[] centre, Random r) {
        float[] v = new float[centre.length];
        for (int i = 0; i < v.length; i++) v[i] = centre[i] + 0.7f * (float) r.nextGaussian();
        float norm = 0;
        for (float x : v) norm += x * x;
        float inv = (float) (1 / Math.sqrt(norm));
        for (int i = 0; i < v.length; i++) v[i] *= inv;
        return v;
    }
}
