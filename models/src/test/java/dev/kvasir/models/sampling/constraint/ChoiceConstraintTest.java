package dev.kvasir.models.sampling.constraint;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code guided_choice}: the output is exactly one of the choices, prefixes of one another included. */
class ChoiceConstraintTest {

    @Test
    void everyOutputIsOneOfTheChoices() {
        List<String> choices = List.of("yes", "no", "not sure", "n", "Ünïcode ✓", "with \"quotes\"", "a\nb");
        CompiledConstraint c = Fixtures.llama2Constraints().choice(choices);
        Set<String> seen = new HashSet<>();
        for (int seed = 0; seed < 80; seed++) {
            Fixtures.Decoded d = Fixtures.decode(c, Fixtures.llama2(), seed, 50, 0f);
            assertTrue(d.complete(), d.text());
            assertTrue(choices.contains(d.text()), "'" + d.text() + "'");
            seen.add(d.text());
        }
        assertTrue(seen.size() >= 4, "random logits reach several choices: " + seen);
    }

    @Test
    void aChoiceThatPrefixesAnotherMayEndOrGoOn() {
        CompiledConstraint c = Fixtures.llama2Constraints().choice(List.of("n", "no", "not"));
        ConstraintState s = c.newState();
        int n = Fixtures.llama2().encode("n", false, false)[0];
        assertTrue(s.accept(n), "▁n at the first position spells n (leading space dropped)");
        assertTrue(s.canTerminate(), "n is a choice");
        assertTrue(!s.isComplete(), "no and not go on from n");
        assertTrue(s.isAllowed(2), "EOS allowed after n");
    }

    @Test
    void emptyChoicesAreRefused() {
        assertThrows(ConstraintException.class, () -> Fixtures.llama2Constraints().choice(List.of()));
        assertEquals("guided_choice[1] is null", assertThrows(ConstraintException.class,
                () -> Fixtures.llama2Constraints().choice(java.util.Arrays.asList("a", null))).getMessage());
    }
}
