package dev.kvasir.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Embeddings find what words miss; fusion keeps both; importance and analyzer matter as designed. */
class HybridRetrievalTest {
    @TempDir
    Path dir;
    MemoryService memory;

    @BeforeEach
    void open() {
        memory = MemoryService.open("sqlite:" + dir.resolve("m.db"), MemoryConfig.defaults()).orElseThrow();
    }

    @AfterEach
    void close() {
        memory.close();
    }

    @Test
    void aParaphraseIsFoundByEmbeddingsAndKeptByFusion() {
        Memory evidence = memory.add("t", "u", NewMemory.of("I adopted a golden retriever puppy named Biscuit last spring"));
        memory.addAll("t", "u", List.of(NewMemory.of("Pet insurance ads are everywhere on the radio lately"),
                NewMemory.of("The quarterly budget review moved to Thursday"),
                NewMemory.of("My brother is training for a marathon in Berlin"),
                NewMemory.of("We repainted the kitchen a pale green")), "api");
        String question = "What pet does the user have?";
        List<String> lexical = memory.search("t", "u", SearchRequest.of(question, 3).withMode(RetrievalMode.LEXICAL), null).ids();
        List<String> dense = rankOrder(SearchRequest.of(question, 3).withMode(RetrievalMode.DENSE));
        List<String> hybrid = rankOrder(SearchRequest.of(question, 2));
        assertFalse(lexical.contains(evidence.id()), "no shared word: BM25 cannot find it");
        assertEquals(evidence.id(), dense.get(0));
        assertTrue(hybrid.contains(evidence.id()), "fusion keeps the dense find in the top 2");
    }

    @Test
    void stemmingMatchesInflectedWords() {
        Memory m = memory.add("t", "u", NewMemory.of("She was running marathons every autumn"));
        memory.add("t", "u", NewMemory.of("The kitchen tap is leaking"));
        assertEquals(List.of(m.id()), memory.search("t", "u", SearchRequest.of("runs a marathon", 1).withMode(RetrievalMode.LEXICAL), null).ids());
    }

    @Test
    void importanceBreaksTiesBetweenEquallyRelevantMemories() {
        Memory low = memory.add("t", "u", NewMemory.of("Budget meeting on Friday").withImportance(0.1));
        Memory high = memory.add("t", "u", NewMemory.of("Budget meeting on Friday").withImportance(0.9));
        List<SearchHit> hits = memory.search("t", "u", SearchRequest.of("budget meeting", 2), null).hits();
        SearchHit lowHit = hits.stream().filter(h -> h.memory().id().equals(low.id())).findFirst().orElseThrow();
        SearchHit highHit = hits.stream().filter(h -> h.memory().id().equals(high.id())).findFirst().orElseThrow();
        assertTrue(highHit.score() > lowHit.score(), highHit.score() + " vs " + lowHit.score());
    }

    private List<String> rankOrder(SearchRequest request) {
        return memory.search("t", "u", request, null).hits().stream()
                .sorted((a, b) -> Double.compare(b.score(), a.score())).map(h -> h.memory().id()).toList();
    }
}
