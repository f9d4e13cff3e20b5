package dev.kvasir.models.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

class IncrementalDetokenizerTest {

    private static String stream(Tokenizer tokenizer, int[] ids, List<String> chunks) {
        IncrementalDetokenizer detokenizer = new IncrementalDetokenizer(tokenizer);
        StringBuilder out = new StringBuilder();
        for (int id : ids) {
            String chunk = detokenizer.push(id);
            chunks.add(chunk);
            out.append(chunk);
        }
        return out.append(detokenizer.flush()).toString();
    }

    @Test
    void byteFallbackCharactersAppearOnlyWhenComplete() {
        LlamaSpmTokenizer tokenizer = TestVocabularies.stories();
        int[] ids = tokenizer.encode("a🦙b", true, false); // BOS ▁a <F0> <9F> <A6> <99> b (or similar)
        List<String> chunks = new ArrayList<>();
        assertEquals("a🦙b", stream(tokenizer, ids, chunks));
        assertFalse(chunks.stream().anyMatch(c -> c.contains("\uFFFD")), chunks.toString());
        assertFalse(chunks.stream().anyMatch(c -> !Utf8.wellFormed(c).equals(c)), chunks.toString());
        assertEquals("a", chunks.get(1)); // the leading ▁ dropped, as decode drops it
    }

    @Test
    void encodedTextStreamsBackExactly() {
        Tokenizer[] tokenizers = {TestVocabularies.llama2(), TestVocabularies.stories(), TestVocabularies.smallGpt2("llama-bpe")};
        Random random = new Random(3);
        for (Tokenizer tokenizer : tokenizers) {
            for (int i = 0; i < 200; i++) {
                String text = RandomText.next(random, false);
                int[] ids = tokenizer.encode(text, random.nextBoolean(), false);
                List<String> chunks = new ArrayList<>();
                assertEquals(tokenizer.decode(ids), stream(tokenizer, ids, chunks));
                // Well-formed input: no chunk may carry a replacement the input did not have.
                long expected = Utf8.wellFormed(text).chars().filter(c -> c == 0xFFFD).count();
                assertEquals(expected, String.join("", chunks).chars().filter(c -> c == 0xFFFD).count(), chunks::toString);
            }
        }
    }

    @Test
    void randomTokenSequencesMatchDecode() {
        Tokenizer[] tokenizers = {TestVocabularies.stories(), TestVocabularies.smallGpt2(null)};
        Random random = new Random(11);
        for (Tokenizer tokenizer : tokenizers) {
            for (int i = 0; i < 2000; i++) {
                int[] ids = new int[random.nextInt(10)];
                for (int k = 0; k < ids.length; k++) {
                    // Mostly byte tokens, so multi-byte characters split and break in every way.
                    ids[k] = random.nextInt(4) == 0 ? random.nextInt(tokenizer.vocabSize())
                            : tokenizer instanceof LlamaSpmTokenizer ? 3 + 0x80 + random.nextInt(0x80) : 0x80 + random.nextInt(0x80);
                }
                if (ids.length > 0 && random.nextBoolean()) ids[0] = tokenizer.bosId() >= 0 ? tokenizer.bosId() : ids[0];
                assertEquals(tokenizer.decode(ids), stream(tokenizer, ids, new ArrayList<>()),
                        () -> java.util.Arrays.toString(ids));
            }
        }
    }
}
