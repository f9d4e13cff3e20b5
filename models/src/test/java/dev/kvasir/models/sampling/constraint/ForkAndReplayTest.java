package dev.kvasir.models.sampling.constraint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** n &gt; 1 and preemption: forks continue independently under the constraint; replaying tokens rebuilds the state. */
class ForkAndReplayTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void twoForksContinueIndependentlyAndBothValidate() throws Exception {
        RandomSchemas schemas = new RandomSchemas(11);
        int diverged = 0;
        for (int i = 0; i < 15; i++) {
            JsonNode schema = schemas.next();
            String schemaText = JSON.writeValueAsString(schema);
            CompiledConstraint c = Fixtures.llama2Constraints().jsonSchema(schema);
            Fixtures.Decoded prefix = Fixtures.decode(c, Fixtures.llama2(), i, 4, 3f);
            if (prefix.complete()) continue;
            ConstraintState parent = prefix.state();
            ConstraintState child = parent.fork();
            long[] before = parent.allowedTokens().clone();
            Fixtures.Decoded a = Fixtures.decode(parent, Fixtures.llama2(), 100 + i, 1500, 3f, prefix.tokens());
            Fixtures.Decoded b = Fixtures.decode(child, Fixtures.llama2(), 200 + i, 1500, 3f, prefix.tokens());
            assertTrue(a.complete() && b.complete(), a.text() + " / " + b.text());
            assertEquals(List.of(), SchemaValidator.errors(schemaText, a.text()), a.text());
            assertEquals(List.of(), SchemaValidator.errors(schemaText, b.text()), b.text());
            if (!a.text().equals(b.text())) diverged++;
            // The child's tokens did not move the parent, nor the other way round.
            ConstraintState fresh = c.newState();
            fresh.replay(prefix.tokens(), 0, prefix.tokens().length);
            assertArrayEquals(before, fresh.allowedTokens());
        }
        assertTrue(diverged > 5, "forks with other seeds take other paths: " + diverged);
    }

    @Test
    void replayingAPrefixReproducesTheStateStepByStep() {
        CompiledConstraint c = Fixtures.llama2Constraints().jsonObject();
        Fixtures.Decoded d = Fixtures.decode(c, Fixtures.llama2(), 3, 300, 2f);
        ConstraintState live = c.newState();
        for (int n = 0; n < d.tokens().length; n++) {
            ConstraintState replayed = c.newState();
            replayed.replay(d.tokens(), 0, n);
            assertArrayEquals(live.allowedTokens(), replayed.allowedTokens(), "after " + n + " tokens");
            assertEquals(live.canTerminate(), replayed.canTerminate());
            assertEquals(live.isComplete(), replayed.isComplete());
            assertTrue(live.accept(d.tokens()[n]));
        }
    }

    @Test
    void aRefusedTokenChangesNothingAndReplayNamesIt() {
        CompiledConstraint c = Fixtures.llama2Constraints().regex("[0-9]{3}");
        ConstraintState s = c.newState();
        int digit = Fixtures.id("7");
        int letter = Fixtures.id("x");
        long[] before = s.allowedTokens().clone();
        assertFalse(s.accept(letter));
        assertFalse(s.accept(1), "BOS is never text");
        assertArrayEquals(before, s.allowedTokens());
        assertEquals(0, s.acceptedCount());
        ConstraintException e = assertThrows(ConstraintException.class, () -> c.newState().replay(new int[] {digit, letter}, 0, 2));
        assertTrue(e.getMessage().contains("token " + letter + " at position 1"), e.getMessage());
        assertNotEquals(-1, digit);
    }

    @Test
    void forksShareNothingMutable() {
        CompiledConstraint c = Fixtures.llama2Constraints().choice(List.of("abc", "abd", "xyz"));
        ConstraintState s = c.newState();
        assertTrue(s.accept(Fixtures.id("▁ab")), "the first token's leading space is dropped");
        ConstraintState f = s.fork();
        assertTrue(f.accept(Fixtures.id("c")));
        assertTrue(f.isComplete());
        assertFalse(s.isComplete(), "the parent is still after ab");
    }
}
