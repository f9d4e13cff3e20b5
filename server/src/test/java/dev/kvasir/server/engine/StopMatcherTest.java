package dev.kvasir.server.engine;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StopMatcherTest {

    @Test
    void holdsBackAPossibleStopAndCutsAtTheMatch() {
        StopMatcher m = new StopMatcher(List.of("The end"));
        assertEquals("Once ", m.push("Once "));
        assertEquals("", m.push("Th"));        // could be "The end"
        assertEquals("The cat. ", m.push("e cat. "));
        assertEquals("", m.push("The e"));
        assertEquals("", m.push("nd!"));
        assertTrue(m.stopped());
        assertEquals("", m.flush());
    }

    @Test
    void releasesHeldTextWhenFinishingOtherwise() {
        StopMatcher m = new StopMatcher(List.of("###"));
        assertEquals("a", m.push("a##"));
        assertFalse(m.stopped());
        assertEquals("##", m.flush());
    }

    @Test
    void earliestOfSeveralStopsWins() {
        StopMatcher m = new StopMatcher(List.of("dog", "cat"));
        assertEquals("a ", m.push("a cat and a dog"));
        assertTrue(m.stopped());
    }

    @Test
    void noStopsPassesEverythingThrough() {
        StopMatcher m = new StopMatcher(List.of());
        assertEquals("anything", m.push("anything"));
        assertEquals("", m.flush());
    }
}
