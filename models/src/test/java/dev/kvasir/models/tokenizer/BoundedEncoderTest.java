package dev.kvasir.models.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cut-off encoder: the same ids as the tokenizer whenever a prompt fits, a refusal whose
 * bound never exceeds the true count when it does not, and work in proportion to the limit, not
 * the text (a 1 MB prompt is not encoded whole).
 */
class BoundedEncoderTest {

    private static final Tokenizer[] TOKENIZERS = {TestVocabularies.llama2(), TestVocabularies.stories(),
            TestVocabularies.smallGpt2("llama-bpe")};

    @Test
    void promptsThatFitGetExactlyTheTokenizersIds() {
        Random random = new Random(1);
        for (Tokenizer t : TOKENIZERS) {
            BoundedEncoder bounded = new BoundedEncoder(t);
            for (int i = 0; i < 100; i++) {
                String text = RandomText.next(random, false);
                int[] expected = t.encode(text, true, false);
                assertArrayEquals(expected, bounded.encode(text, true, expected.length), text);
            }
            // A long text counted in pieces first, then encoded whole: still exact.
            String longText = "The quick brown fox jumps over the lazy dog. ".repeat(600);
            int[] expected = t.encode(longText, true, false);
            assertArrayEquals(expected, bounded.encode(longText, true, expected.length));
        }
    }

    @Test
    void aRefusalNeverClaimsMoreTokensThanThePromptHas() {
        Random random = new Random(2);
        for (Tokenizer t : TOKENIZERS) {
            BoundedEncoder bounded = new BoundedEncoder(t);
            for (int i = 0; i < 8; i++) {
                StringBuilder text = new StringBuilder();
                int words = 200 + random.nextInt(1_500);
                for (int w = 0; w < words; w++) text.append(RandomText.next(random, false)).append(' ');
                String s = text.toString();
                int actual = t.encode(s, true, false).length;
                int limit = Math.max(1, actual - 1 - random.nextInt(actual / 2));
                PromptTooLongException e = assertThrows(PromptTooLongException.class, () -> bounded.encode(s, true, limit));
                assertTrue(e.atLeast() > limit && e.atLeast() <= actual, e.atLeast() + " vs " + actual + " tokens, limit " + limit);
                assertEquals(limit, e.limit());
            }
        }
    }

    @Test
    void anOversizedPromptIsRefusedWithoutEncodingItWhole() {
        for (Tokenizer t : TOKENIZERS) {
            AtomicLong encodedChars = new AtomicLong();
            Tokenizer counting = counting(t, encodedChars);
            BoundedEncoder bounded = new BoundedEncoder(counting);
            String huge = "word ".repeat(200_000); // 1 MB
            // Past the byte bound at once: nothing is encoded.
            assertThrows(PromptTooLongException.class, () -> bounded.encode(huge, true, 4_096));
            assertEquals(0, encodedChars.get());
            // A limit the bytes cannot rule out (one token per byte would fit): counted piece by piece,
            // stopping once past it, so the work follows the limit, not the 8 MB.
            int limit = (int) Math.min(Integer.MAX_VALUE - 1, huge.length() / bounded.maxTokenBytes() + 1_000);
            if (limit < huge.length() / 2) {
                PromptTooLongException e = assertThrows(PromptTooLongException.class, () -> bounded.encode(huge, true, limit));
                assertFalse(e.exact());
                assertTrue(encodedChars.get() < huge.length(), encodedChars + " characters encoded of " + huge.length());
            }
        }
    }

    @Test
    void chatSizedChecksRefuseOnBytesAlone() {
        BoundedEncoder bounded = new BoundedEncoder(TestVocabularies.stories());
        assertThrows(PromptTooLongException.class, () -> bounded.checkBytes(100L * bounded.maxTokenBytes() + 1, 100));
        bounded.checkBytes(100L * bounded.maxTokenBytes(), 100);
    }

    /** A tokenizer that counts the characters it encodes. */
    private static Tokenizer counting(Tokenizer t, AtomicLong chars) {
        return new Tokenizer() {
            @Override public int[] encode(List<TextSpan> spans, boolean addBos) {
                for (TextSpan s : spans) chars.addAndGet(s.text().length());
                return t.encode(spans, addBos);
            }
            @Override public byte[] tokenBytes(int id) { return t.tokenBytes(id); }
            @Override public String tokenString(int id) { return t.tokenString(id); }
            @Override public boolean isSpecial(int id) { return t.isSpecial(id); }
            @Override public int vocabSize() { return t.vocabSize(); }
            @Override public int bosId() { return t.bosId(); }
            @Override public int[] stopTokenIds() { return t.stopTokenIds(); }
            @Override public boolean addsSpacePrefix() { return t.addsSpacePrefix(); }
        };
    }
}
