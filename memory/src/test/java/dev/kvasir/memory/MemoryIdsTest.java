package dev.kvasir.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class MemoryIdsTest {
    @Test
    void idsSortInCreationOrderEvenWithinOneMillisecond() {
        Instant t = Instant.now().plusMillis(5); // ids never go back in time, so start after any made so far
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 1000; i++) ids.add(MemoryIds.newId(i < 500 ? t : t.plusMillis(1)));
        assertEquals(ids.stream().sorted().toList(), ids);
        assertEquals(1000, ids.stream().distinct().count());
        ids.forEach(id -> assertEquals(id, MemoryIds.check(id, "id")));
        assertTrue(ids.get(999).startsWith("mem_" + String.format("%012x", t.toEpochMilli() + 1)), ids.get(999));
    }

    @Test
    void cursorsRoundTripAndMalformedOnesAreRefused() {
        String id = MemoryIds.newId(Instant.now());
        assertEquals(id, MemoryIds.afterId(MemoryIds.cursorAfter(id)));
        for (String bad : List.of("", "%%%", "YWZ0ZXI6bWVtXzEy", MemoryIds.cursorAfter(id) + "AA", id)) {
            MemoryInputException e = assertThrows(MemoryInputException.class, () -> MemoryIds.afterId(bad), bad);
            assertEquals("cursor", e.param());
        }
    }
}
