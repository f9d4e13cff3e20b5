package dev.kvasir.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The hallucination guard: a reply's claims about the user against the user's valid facts. */
class FactSheetTest {
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

    private void fact(String key, String value, String content) {
        memory.add("t", "ava", new NewMemory(content, null, null, key, null, null, null, null, null, null, Map.of(Memory.VALUE, value), null));
    }

    @Test
    void claimsThatContradictOrLackSupportAreListed() {
        fact("user.home_city", "Porto", "The user lives in Porto");
        fact("user.name", "Ava", "The user's name is Ava");
        fact("user.home_city", "Lisbon", "The user lives in Lisbon"); // the newer value retires Porto
        FactSheet sheet = memory.factSheet("t", "ava");
        List<UnsupportedClaim> out = sheet.check("Hi Ava! Since you live in Porto and you work as a pilot, mornings must be early.");
        assertEquals(2, out.size(), out.toString());
        assertEquals("user.home_city", out.get(0).factKey());
        assertEquals("contradicts", out.get(0).reason());
        assertEquals(List.of("Lisbon"), out.get(0).stored(), "checked against the valid value, not the retired one");
        assertEquals("user.job", out.get(1).factKey());
        assertEquals("no_support", out.get(1).reason());
        assertEquals(List.of(), sheet.check("You live in Lisbon, Ava, and the weather there is lovely."));
        assertEquals(List.of(), sheet.check("Once upon a time there was a dragon."));
    }
}
