package dev.kvasir.models.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.models.ModelLocator;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.StreamSupport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LlamaSpmTokenizerTest {

    private static JsonNode expected() throws IOException {
        return new ObjectMapper().readTree(ModelLocator.testModel("stories260K.expected.json").toFile());
    }

    @Test
    void llama2CasesFromLlama2cTestPassExactly() throws IOException {
        LlamaSpmTokenizer tokenizer = TestVocabularies.llama2();
        JsonNode cases = expected().path("llama2_tokenizer_cases").path("cases");
        assertEquals(5, cases.size());
        for (JsonNode c : cases) {
            int[] ids = StreamSupport.stream(c.path("ids").spliterator(), false).mapToInt(JsonNode::asInt).toArray();
            String text = c.path("text").asText();
            assertArrayEquals(ids, tokenizer.encode(text, true, false), () -> "encode " + text);
            assertEquals(text, tokenizer.decode(ids), () -> "decode " + Arrays.toString(ids));
        }
    }

    @Test
    void storiesVocabularyEncodesThePromptAndDecodesTheReferenceTexts() throws IOException {
        LlamaSpmTokenizer tokenizer = TestVocabularies.stories();
        assertEquals(512, tokenizer.vocabSize());
        for (JsonNode c : expected().path("cases")) {
            int[] ids = StreamSupport.stream(c.path("expected_token_ids").spliterator(), false).mapToInt(JsonNode::asInt).toArray();
            assertEquals(c.path("expected_text").asText(), tokenizer.decode(ids), c.path("name").asText());
            if (c.has("prompt_token_ids")) {
                int[] prompt = StreamSupport.stream(c.path("prompt_token_ids").spliterator(), false).mapToInt(JsonNode::asInt).toArray();
                assertArrayEquals(prompt, tokenizer.encode(c.path("prompt").asText(), true, false));
            }
        }
        // The generated text re-encodes to the same tokens the model produced (after the prompt).
        JsonNode first = expected().path("cases").get(0);
        int[] generated = StreamSupport.stream(first.path("expected_token_ids").spliterator(), false).mapToInt(JsonNode::asInt).toArray();
        String text = tokenizer.decode(generated);
        assertEquals(text, tokenizer.decode(tokenizer.encode(text, true, false)));
    }

    @Test
    void unknownCharactersFallBackToByteTokens() {
        LlamaSpmTokenizer tokenizer = TestVocabularies.stories();
        int[] ids = tokenizer.encode("🦙", false, false);
        // "▁" then the four UTF-8 bytes F0 9F A6 99 as <0xNN> tokens (ids 3..258 are bytes 0..255).
        assertArrayEquals(new int[] {TestVocabularies.id(tokenizer, "▁"), 3 + 0xF0, 3 + 0x9F, 3 + 0xA6, 3 + 0x99}, ids);
        assertEquals("🦙", tokenizer.decode(ids));
        assertEquals("<0xF0>", tokenizer.tokenString(ids[1]));
        assertArrayEquals(new byte[] {(byte) 0xF0}, tokenizer.tokenBytes(ids[1]));
    }

    @Test
    void specialTokensOnlyWhenAllowed() {
        LlamaSpmTokenizer tokenizer = TestVocabularies.llama2();
        int[] parsed = tokenizer.encode("<s>Hi</s>", false, true);
        assertEquals(1, parsed[0]);
        assertEquals(2, parsed[parsed.length - 1]);
        // After a special token the text gets its own ▁ prefix, as llama.cpp does.
        assertArrayEquals(tokenizer.encode("Hi", false, false), Arrays.copyOfRange(parsed, 1, parsed.length - 1));

        int[] plain = tokenizer.encode("<s>Hi</s>", false, false);
        assertTrue(Arrays.stream(plain).noneMatch(tokenizer::isSpecial), Arrays.toString(plain));
        assertEquals("<s>Hi</s>", tokenizer.decode(plain));
        assertEquals("Hi", tokenizer.decode(parsed)); // control tokens are not shown
    }

    @Test
    void leadingSpaceRuleFollowsLlamaCpp() {
        LlamaSpmTokenizer tokenizer = TestVocabularies.llama2();
        assertArrayEquals(new int[] {1}, tokenizer.encode("", true, false));
        assertArrayEquals(new int[0], tokenizer.encode("", false, false));
        assertEquals(" Hello", tokenizer.decode(tokenizer.encode(" Hello", true, false)));
        assertEquals("Hello", tokenizer.decode(tokenizer.encode("Hello", false, false)));
        int hello = tokenizer.encode("Hello", false, false)[0];
        assertEquals("▁Hello", tokenizer.tokenString(hello));
        // Only the first token after BOS loses its space; later ones keep it.
        assertEquals("Hello Hello", tokenizer.decode(new int[] {1, hello, hello}));
        assertEquals(" Hello", tokenizer.decode(new int[] {2, hello}));
    }

    @Test
    void spaceMarkInTextReadsAsSpaceAsInSentencePiece() {
        LlamaSpmTokenizer tokenizer = TestVocabularies.llama2();
        assertEquals("a b", tokenizer.decode(tokenizer.encode("a\u2581b", true, false)));
    }

    @Test
    void randomUnicodeRoundTrips() {
        for (LlamaSpmTokenizer tokenizer : new LlamaSpmTokenizer[] {TestVocabularies.llama2(), TestVocabularies.stories()}) {
            Random random = new Random(42);
            for (int i = 0; i < 400; i++) {
                String text = RandomText.next(random, false);
                boolean bos = random.nextBoolean();
                int[] ids = tokenizer.encode(text, bos, false);
                assertEquals(Utf8.wellFormed(text), tokenizer.decode(ids), () -> "round trip of " + escape(text));
                assertFalse(Arrays.stream(ids).skip(bos ? 1 : 0).anyMatch(tokenizer::isSpecial));
            }
        }
    }

    static String escape(String s) {
        StringBuilder out = new StringBuilder();
        s.chars().forEach(c -> out.append(c < 0x20 || c > 0x7E ? String.format("\\u%04X", c) : String.valueOf((char) c)));
        return out.toString();
    }
}
