package dev.kvasir.models.tokenizer;

import dev.kvasir.models.ModelLocator;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;

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
}
