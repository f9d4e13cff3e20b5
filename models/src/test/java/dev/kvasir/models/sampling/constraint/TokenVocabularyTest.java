package dev.kvasir.models.sampling.constraint;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The vocabulary as constraints see it: decoded bytes, the first token's space, byte fallback, special tokens. */
class TokenVocabularyTest {

    @Test
    void theFirstTokensLeadingSpaceIsDroppedAsDecodeDropsIt() {
        CompiledConstraint c = Fixtures.llama2Constraints().jsonObject();
        int spacedBrace = Fixtures.id("▁{");
        ConstraintState s = c.newState();
        assertTrue(s.isAllowed(spacedBrace), "▁{ is \"{\" at the start of an output");
        assertTrue(s.accept(spacedBrace));
        assertFalse(s.isAllowed(spacedBrace), "later the space is text: ' {' cannot follow '{'");
        assertTrue(s.isAllowed(Fixtures.id("▁\"")), "' \"' can: whitespace, then a key");
        assertEquals("{", Fixtures.llama2().decode(new int[] {spacedBrace}));
        // The lone space token is empty text at the start: allowed, and the next token keeps its space.
        ConstraintState t = c.newState();
        assertTrue(t.accept(Fixtures.id("▁")));
        assertFalse(t.isAllowed(Fixtures.id("▁{")), "JSON mode allows no space before the object");
        assertTrue(t.isAllowed(Fixtures.id("{")));
    }

    @Test
    void byteFallbackTokensSpellCharactersTogether() {
        CompiledConstraint c = Fixtures.llama2Constraints().choice(List.of("é"));
        ConstraintState s = c.newState();
        int c3 = Fixtures.id("<0xC3>"), a9 = Fixtures.id("<0xA9>"), a8 = Fixtures.id("<0xA8>");
        assertTrue(s.isAllowed(c3), "the first byte of é");
        assertTrue(s.accept(c3));
        assertTrue(s.isAllowed(a9));
        assertFalse(s.isAllowed(a8), "è's second byte");
        assertTrue(s.accept(a9));
        assertTrue(s.isComplete());
    }

    @Test
    void specialTokensAreNeverText() {
        TokenVocabulary v = Fixtures.llama2Constraints().vocabulary();
        assertFalse(v.isText(0), "<unk>");
        assertFalse(v.isText(1), "<s>");
        assertFalse(v.isText(2), "</s>");
        assertEquals(List.of(2), java.util.Arrays.stream(v.stopTokens()).boxed().toList());
        CompiledConstraint c = Fixtures.llama2Constraints().regex(".*");
        ConstraintState s = c.newState();
        assertFalse(s.isAllowed(1) || s.isAllowed(0));
        assertTrue(s.isAllowed(2), ".* may be empty");
    }

    @Test
    void theFingerprintTellsVocabulariesApart() {
        TokenVocabulary a = Fixtures.llama2Constraints().vocabulary();
        assertEquals(a.fingerprint(), TokenVocabulary.of(Fixtures.llama2()).fingerprint());
        assertEquals(64, a.fingerprint().length());
        assertNotEquals(a.fingerprint(), TokenVocabulary.of(stories()).fingerprint());
    }

    @Test
    void theTrieHoldsEveryTextTokenOnceInSubtreeOrder() {
        TokenVocabulary v = Fixtures.llama2Constraints().vocabulary();
        TokenTrie trie = v.trie();
        boolean[] seen = new boolean[v.size()];
        for (int t : trie.tokens) {
            assertFalse(seen[t]);
            seen[t] = true;
        }
        for (int t = 0; t < v.size(); t++) assertEquals(v.isText(t), seen[t], "token " + t);
        // Walking a token's bytes from the root reaches a node that holds it.
        for (int t = 0; t < v.size(); t += 97) {
            if (!v.isText(t)) continue;
            int node = 0;
            for (int i = v.start(t); i < v.end(t); i++) node = trie.child(node, v.bytes()[i] & 0xFF);
            boolean found = false;
            for (int k = trie.tokenStart[node]; k < trie.tokenStart[node + 1]; k++) found |= trie.tokens[k] == t;
            assertTrue(found, "token " + t);
        }
    }

    private static dev.kvasir.models.tokenizer.Tokenizer stories() {
        try (var f = dev.kvasir.models.loader.GgufFile.open(dev.kvasir.models.ModelLocator.testModel("stories260K.gguf"))) {
            return dev.kvasir.models.tokenizer.Tokenizers.fromGgufMetadata(new java.util.HashMap<>(f.metadata()), f.path());
        }
    }
}
