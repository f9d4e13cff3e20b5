package dev.kvasir.models.tokenizer;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.models.ModelLocator;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.models.loader.RandomModelMaker;
import dev.kvasir.models.template.ChatMessage;
import dev.kvasir.models.template.ChatTemplate;
import dev.kvasir.models.template.PromptEncoder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TokenizersTest {

    @Test
    void ggufLlamaVocabularyGetsTheSentencePieceTokenizer() {
        try (LoadedModel model = ModelLoader.load(ModelLocator.testModel("stories260K.gguf"))) {
            Tokenizer tokenizer = Tokenizers.load(model);
            assertInstanceOf(LlamaSpmTokenizer.class, tokenizer);
            assertEquals(512, tokenizer.vocabSize());
            assertEquals(1, tokenizer.bosId());
            assertArrayEquals(new int[] {2}, tokenizer.stopTokenIds());
            assertArrayEquals(new int[] {1, 403, 407, 261, 378}, tokenizer.encode("Once upon a time", true, false));
        }
    }

    @Test
    void generatedSmolLmShapedModelTokenizesAndRendersItsOwnTemplate(@TempDir Path dir) {
        // SmolLM2's vocabulary size, pre-tokenizer and ChatML template, on a tiny body so it is quick to write.
        RandomModelMaker.Shape shape = new RandomModelMaker.Shape("smol-vocab", 64, 1, 4, 2, 128, 49152, 100000f, 2048, true, true);
        Path file = dir.resolve("smol.gguf");
        RandomModelMaker.make(shape, GgmlType.F32, 1, file);
        try (LoadedModel model = ModelLoader.load(file)) {
            Tokenizer tokenizer = Tokenizers.load(model);
            assertInstanceOf(Gpt2BpeTokenizer.class, tokenizer);
            assertEquals(49152, tokenizer.vocabSize());
            Random random = new Random(9);
            for (int i = 0; i < 100; i++) {
                String text = RandomText.next(random, true);
                int[] ids = tokenizer.encode(text, true, false);
                assertEquals(Utf8.wellFormed(text), tokenizer.decode(ids));
                IncrementalDetokenizer stream = new IncrementalDetokenizer(tokenizer);
                StringBuilder streamed = new StringBuilder();
                for (int id : ids) streamed.append(stream.push(id));
                assertEquals(Utf8.wellFormed(text), streamed.append(stream.flush()).toString());
            }
            ChatTemplate template = ChatTemplate.forModel(model, tokenizer);
            int[] prompt = new PromptEncoder(template, tokenizer).encode(List.of(ChatMessage.user("Hi <|im_end|>")), true);
            int imEnd = TestVocabularies.id(tokenizer, "<|im_end|>");
            assertEquals(2, Arrays.stream(prompt).filter(id -> id == imEnd).count());
            assertTrue(tokenizer.decode(prompt).endsWith("user\nHi <|im_end|>\nassistant\n"), tokenizer.decode(prompt));
        }
    }

    @Test
    void ggufGpt2VocabularyGetsTheByteLevelTokenizer() {
        Tokenizer tokenizer = Tokenizers.fromGgufMetadata(TestVocabularies.smallGpt2Metadata("llama-bpe"), Path.of("x.gguf"));
        assertInstanceOf(Gpt2BpeTokenizer.class, tokenizer);
    }

    @Test
    void unsupportedOrMissingTokenizerNamesTheFile() {
        Path file = Path.of("models/odd.gguf");
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> Tokenizers.fromGgufMetadata(Map.of(), file));
        assertTrue(missing.getMessage().contains("odd.gguf"), missing.getMessage());
        IllegalArgumentException unsupported = assertThrows(IllegalArgumentException.class,
                () -> Tokenizers.fromGgufMetadata(Map.of("tokenizer.ggml.model", "bert",
                        "tokenizer.ggml.tokens", new String[] {"a"}), file));
        assertTrue(unsupported.getMessage().contains("odd.gguf") && unsupported.getMessage().contains("bert"),
                unsupported.getMessage());
        IllegalArgumentException wrongType = assertThrows(IllegalArgumentException.class,
                () -> Tokenizers.fromGgufMetadata(Map.of("tokenizer.ggml.model", "llama",
                        "tokenizer.ggml.tokens", "not an array"), file));
        assertTrue(wrongType.getMessage().contains("tokenizer.ggml.tokens"), wrongType.getMessage());
    }

    @Test
    void tokenTypesOfTheWrongLengthAreNamedNotAnIndexError() {
        Map<String, Object> metadata = Map.of(
                "tokenizer.ggml.model", "llama",
                "tokenizer.ggml.tokens", new String[] {"<unk>", "<s>", "</s>"},
                "tokenizer.ggml.token_type", new int[] {2, 3});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Vocabulary.fromGgufMetadata(metadata));
        assertTrue(e.getMessage().contains("token_type"), e.getMessage());
    }
}
