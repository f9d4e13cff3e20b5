package dev.kvasir.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvasir.memory.store.MemoryStore;
import dev.kvasir.memory.store.SqliteMemoryStore;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A chat turn's writes reach the user's search index on the background thread that recorded them:
 * the next turn's retrieval reads the head once and applies nothing, so index upkeep stays off the
 * time to first token. Writes it did not make (another process's) are still seen at read time.
 */
class IndexCatchUpTest {
    private static final TokenCounter WORDS = text -> text.split("\\s+").length;

    @TempDir
    Path dir;

    @Test
    void aRecordedTurnLeavesTheIndexCurrentForTheNextRetrieval() throws Exception {
        MemoryStore sqlite = SqliteMemoryStore.open(dir.resolve("m.db"));
        AtomicInteger catchUps = new AtomicInteger(), heads = new AtomicInteger();
        MemoryStore counted = (MemoryStore) Proxy.newProxyInstance(MemoryStore.class.getClassLoader(), new Class<?>[] {MemoryStore.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("changesSince")) catchUps.incrementAndGet();
                    if (method.getName().equals("head")) heads.incrementAndGet();
                    try {
                        return method.invoke(sqlite, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
        try (MemoryService memory = new MemoryService(counted, MemoryConfig.defaults())) {
            memory.attach(WORDS, null, 4096);
            memory.contextFor("t", "ivy", "s1", "hello there", 8, 500, WORDS); // this process now holds ivy's index
            memory.recordTurn("t", "ivy", "s1", "My dog is called Rex", "Noted.").get(30, TimeUnit.SECONDS);

            int catchUpsBefore = catchUps.get(), headsBefore = heads.get();
            MemoryContext ctx = memory.contextFor("t", "ivy", "s2", "What is my dog called?", 8, 500, WORDS);
            assertTrue(ctx.retrieved().block().contains("The user's dog is called Rex"), ctx.retrieved().block());
            assertEquals(catchUpsBefore, catchUps.get(), "the turn's writes were applied before the retrieval");
            assertEquals(headsBefore + 1, heads.get(), "one head read for the core block, the search and the conflicts");

            memory.recordTurn("t", "ivy", "s2", "I live in Quito", "Noted.").get(30, TimeUnit.SECONDS);
            sqlite.moveTier(new Owner("t", "ivy"), memory.core("t", "ivy").memories().stream().map(Memory::id).toList(), Tier.RECENT,
                    "another process");
            int catchUpsElsewhere = catchUps.get();
            MemoryContext after = memory.contextFor("t", "ivy", "s3", "Where do I live?", 8, 500, WORDS);
            assertEquals(catchUpsElsewhere + 1, catchUps.get(), "a write made elsewhere is caught up at read time");
            assertEquals(null, after.coreBlock(), "and seen: the core moved to recent");
        }
    }
}
