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

    @Test
    void anEarlierStartingStopThatEndsLaterStillWins() {
        StopMatcher m = new StopMatcher(List.of("bc", "abcd"));
        assertEquals("x", m.push("xabcdy"));
        assertTrue(m.stopped());
        StopMatcher overlapping = new StopMatcher(List.of("aab"));
        assertEquals("", overlapping.push("a"));
        assertEquals("", overlapping.push("a"));
        assertEquals("a", overlapping.push("ab"));   // "aaab": the stop starts at the second "a"
        assertTrue(overlapping.stopped());
    }

    @Test
    void holdsBackAtMostTheLongestStopLessOneCharacter() {
        String stop = "a".repeat(255) + "b";
        StopMatcher m = new StopMatcher(List.of(stop, "zz"));
        StringBuilder emitted = new StringBuilder();
        for (int i = 1; i <= 20_000; i++) {
            emitted.append(m.push("a"));
            assertEquals(Math.max(0, i - 255), emitted.length(), "after " + i + " chars");
        }
        assertEquals("", m.push("b"));
        assertTrue(m.stopped());
        assertEquals(20_000 - 255, emitted.length());
    }

    /** Against the plain definition: emit everything before the earliest stop occurrence in the whole text. */
    @Test
    void agreesWithSearchingTheWholeTextOnRandomStreams() {
        java.util.Random random = new java.util.Random(7);
        for (int trial = 0; trial < 2_000; trial++) {
            List<String> stops = new java.util.ArrayList<>();
            for (int s = 0, n = 1 + random.nextInt(4); s < n; s++) stops.add(randomText(random, 1 + random.nextInt(5)));
            String text = randomText(random, random.nextInt(40));
            StopMatcher m = new StopMatcher(stops);
            StringBuilder out = new StringBuilder();
            int at = 0;
            while (at < text.length() && !m.stopped()) {
                int len = Math.min(text.length() - at, 1 + random.nextInt(4));
                out.append(m.push(text.substring(at, at + len)));
                at += len;
            }
            int cut = -1;
            for (String s : stops) {
                int i = text.indexOf(s);
                if (i >= 0 && (cut < 0 || i < cut)) cut = i;
            }
            if (!m.stopped()) out.append(m.flush());
            String expected = cut >= 0 ? text.substring(0, cut) : text;
            assertEquals(expected, out.toString(), "stops " + stops + " in " + text);
            assertEquals(cut >= 0, m.stopped(), "stops " + stops + " in " + text);
        }
    }

    private static String randomText(java.util.Random random, int length) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < length; i++) sb.append((char) ('a' + random.nextInt(3)));
        return sb.toString();
    }
}
