package dev.kvasir.models.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static dev.kvasir.models.tokenizer.TestVocabularies.id;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class Gpt2BpeTokenizerTest {

    @Test
    void mergesApplyByRank() {
        Gpt2BpeTokenizer t = TestVocabularies.smallGpt2("smollm");
        assertArrayEquals(new int[] {id(t, "Hello"), id(t, "Ġworld")}, t.encode("Hello world", false, false));
        assertArrayEquals(new int[] {id(t, "Ġthe")}, t.encode(" the", false, false));
        // "Ġ t" (rank 0) beats "t h" (rank 3), and "Ġt h" is no merge: " th" stays two tokens.
        assertArrayEquals(new int[] {id(t, "Ġt"), id(t, "h")}, t.encode(" th", false, false));
        // Without a leading space, "t h" applies.
        assertArrayEquals(new int[] {id(t, "th")}, t.encode("th", false, false));
        // Bytes with no merges are their byte characters: "é" is C3 A9, spelled "Ã©".
        assertArrayEquals(new int[] {id(t, "Ã"), id(t, "©")}, t.encode("é", false, false));
    }

    @Test
    void smollmSplitsDigitsOneByOne() {
        assertEquals(List.of("Hello", " world", "!", " ", "1", "2", "3"),
                PreTokenizer.forName("smollm").split("Hello world! 123"));
        Gpt2BpeTokenizer t = TestVocabularies.smallGpt2("smollm");
        // "1 2" is a merge, but the digit pre-split keeps it from applying.
        assertArrayEquals(new int[] {id(t, "1"), id(t, "2")}, t.encode("12", false, false));
        assertArrayEquals(new int[] {id(t, "12")}, TestVocabularies.smallGpt2(null).encode("12", false, false));
    }

    @Test
    void llama3RegexMatchesHuggingFaceSplits() {
        assertEquals(List.of("Hello", " world", "!", " ", "123", "456", " I", "'m", " ", " multiple", "  ", " spaces",
                        "\n\n", " ", " x"),
                PreTokenizer.forName("llama-bpe").split("Hello world! 123456 I'm  multiple   spaces\n\n  x"));
        // Contractions are case-insensitive in Llama 3, not in GPT-2.
        assertEquals(List.of("I", "'M", " fine"), PreTokenizer.forName("llama-bpe").split("I'M fine"));
        assertEquals(List.of("I", "'", "M", " fine"), PreTokenizer.forName("gpt2").split("I'M fine"));
        // Punctuation takes trailing newlines along; letters take one leading non-letter.
        assertEquals(List.of("x", ".\n\n", "y", "$hello"), PreTokenizer.forName("llama-bpe").split("x.\n\ny$hello"));
    }

    @Test
    void whitespaceIsUnicodeWhitespace() {
        // java.util.regex's \s is ASCII only; an ideographic space must still count as space.
        assertEquals(List.of("\u3000", "\u3000", "b"), PreTokenizer.forName("gpt2").split("\u3000\u3000b"));
        assertEquals(List.of("a", "\u00A0", "\u00A0b"), PreTokenizer.forName("llama-bpe").split("a\u00A0\u00A0b"));
    }

    @Test
    void unknownPreTokenizerIsRejectedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TestVocabularies.smallGpt2("qwen9"));
        assertTrue(e.getMessage().contains("qwen9"), e.getMessage());
    }

    /** Found by fuzzing (ModelFilesFuzzTest): such a file loaded, then failed the first request that used the byte. */
    @Test
    void aVocabularyThatCannotSpellEveryByteIsRefusedAtLoad() {
        java.util.Map<String, Object> metadata = TestVocabularies.smallGpt2Metadata("default");
        String[] tokens = ((String[]) metadata.get("tokenizer.ggml.tokens")).clone();
        tokens['e'] = "e-renamed";
        metadata.put("tokenizer.ggml.tokens", tokens);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Gpt2BpeTokenizer(Vocabulary.fromGgufMetadata(metadata)));
        assertTrue(e.getMessage().contains("no token for byte 0x65"), e.getMessage());
    }

    @Test
    void specialTokensOnlyWhenAllowed() {
        Gpt2BpeTokenizer t = TestVocabularies.smallGpt2("smollm");
        int start = id(t, "<|im_start|>"), end = id(t, "<|im_end|>"), think = id(t, "<think>");
        int[] parsed = t.encode("<|im_start|>user\nhi<|im_end|><think>", false, true);
        assertEquals(start, parsed[0]);
        assertEquals(think, parsed[parsed.length - 1]);
        assertTrue(Arrays.stream(parsed).anyMatch(i -> i == end));
        int[] plain = t.encode("<|im_start|>user\nhi<|im_end|><think>", false, false);
        assertTrue(Arrays.stream(plain).noneMatch(t::isSpecial), Arrays.toString(plain));
        assertEquals("<|im_start|>user\nhi<|im_end|><think>", t.decode(plain));
        // Control tokens are not shown; user-defined ones are.
        assertEquals("user\nhi<think>", t.decode(parsed));
        // EOS, plus control tokens that end a turn in common formats.
        assertArrayEquals(new int[] {end, id(t, "<|endoftext|>")}, t.stopTokenIds());
    }

    @Test
    void spansJoinOrdinaryTextAcrossBoundaries() {
        Gpt2BpeTokenizer t = TestVocabularies.smallGpt2("smollm");
        int[] whole = t.encode("<|im_start|>Hello world<|im_end|>", false, true);
        int[] spans = t.encode(List.of(new TextSpan("<|im_start|>Hel", true), new TextSpan("lo wor", false),
                new TextSpan("ld<|im_end|>", true)), false);
        assertArrayEquals(whole, spans);
    }

    @Test
    void randomUnicodeRoundTrips() {
        for (String pre : new String[] {null, "smollm", "llama-bpe"}) {
            Gpt2BpeTokenizer t = TestVocabularies.smallGpt2(pre);
            Random random = new Random(7);
            for (int i = 0; i < 500; i++) {
                String text = RandomText.next(random, true);
                int[] ids = t.encode(text, false, false);
                assertEquals(Utf8.wellFormed(text), t.decode(ids), () -> "round trip of " + LlamaSpmTokenizerTest.escape(text));
                assertTrue(Arrays.stream(ids).noneMatch(t::isSpecial));
            }
        }
    }
}
