package dev.kvasir.models.loader;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.kvasir.kernels.WeightTensor;
import dev.kvasir.models.template.ChatTemplate;
import dev.kvasir.models.tokenizer.Tokenizer;
import dev.kvasir.models.tokenizer.Tokenizers;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.params.provider.Arguments.arguments;

/**
 * Fuzz targets for the model file parsers: any bytes as a GGUF file or as a safetensors file in a
 * Hugging Face directory. Loading either succeeds (and then the tokenizer and chat template of a
 * GGUF load too, and every tensor's bytes can be read) or fails with our own clean error,
 * {@link ModelFormatException} naming the file; anything else (an index error, an overflow, an
 * out-of-memory, a hang) is a bug. Committed inputs under ModelFilesFuzzTestInputs/ run in every
 * test run; {@code scripts/fuzz} fuzzes.
 */
class ModelFilesFuzzTest {

    private static final Path DIR = tempDir();
    private static final Path GGUF = DIR.resolve("fuzz.gguf");
    private static final Path HF = DIR.resolve("hf");

    private static Path tempDir() {
        try {
            Path dir = Files.createTempDirectory("kvasir-fuzz");
            Files.createDirectories(dir.resolve("hf"));
            Files.writeString(dir.resolve("hf/config.json"), FuzzSeeds.configJson());
            dir.toFile().deleteOnExit();
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Stream<Arguments> gguf() {
        return Stream.of(
                arguments((Object) FuzzSeeds.tinyModel(FuzzSeeds.gpt2Vocabulary(), null)),
                arguments((Object) FuzzSeeds.tinyModel(FuzzSeeds.llamaVocabulary(), "{{ bos_token }}{% for m in messages %}"
                        + "{{ m['role'] + ': ' + m['content'] }}{% endfor %}")),
                arguments((Object) FuzzSeeds.metadataOnly()));
    }

    @MethodSource
    @FuzzTest(maxDuration = "10s")
    void gguf(byte[] file) throws IOException {
        Files.write(GGUF, file);
        try (LoadedModel model = ModelLoader.load(GGUF)) {
            touchEveryTensor(model);
            Tokenizer tokenizer = tokenizerOrNull(model);
            if (tokenizer != null) {
                ChatTemplate.forModel(model, tokenizer);
                tokenizer.decode(tokenizer.encode("Once upon a time", true, false));
            }
        } catch (ModelFormatException expected) {
            requireNamesFile(expected, GGUF);
        }
        try (GgufFile parsed = GgufFile.open(GGUF)) {
            for (TensorInfo t : parsed.tensors()) parsed.tensor(t.name());
            parsed.metadata().values().forEach(GgufFile::describe);
        } catch (ModelFormatException expected) {
            requireNamesFile(expected, GGUF);
        }
    }

    static Stream<Arguments> safetensors() {
        return Stream.of(arguments((Object) FuzzSeeds.safetensors()),
                arguments((Object) "\u0002\u0000\u0000\u0000\u0000\u0000\u0000\u0000{}".getBytes(StandardCharsets.ISO_8859_1)));
    }

    @MethodSource
    @FuzzTest(maxDuration = "10s")
    void safetensors(byte[] file) throws IOException {
        Path path = HF.resolve("model.safetensors");
        Files.write(path, file);
        try (SafetensorsFile parsed = SafetensorsFile.open(path)) {
            for (WeightTensor t : parsed.tensors().values()) readEnds(t);
            parsed.metadata().size();
        } catch (ModelFormatException expected) {
            requireNamesFile(expected, path);
        }
        try (LoadedModel model = ModelLoader.load(HF)) {
            touchEveryTensor(model);
        } catch (ModelFormatException expected) {
            // Names the directory or the file in it.
            requireNamesFile(expected, HF);
        }
    }

    /** A GGUF's own tokenizer: absent is fine; an unusable one fails with our message naming the file. */
    private static Tokenizer tokenizerOrNull(LoadedModel model) {
        if (!model.metadata().containsKey("tokenizer.ggml.model")) return null;
        try {
            return Tokenizers.load(model);
        } catch (IllegalArgumentException e) {
            requireNamesFile(e, model.source());
            return null;
        }
    }

    private static void touchEveryTensor(LoadedModel model) {
        for (String name : new String[] {"token_embd.weight", "output_norm.weight", "blk.0.attn_q.weight", "output.weight"}) {
            WeightTensor t = model.weights().find(name);
            if (t != null) readEnds(t);
        }
    }

    private static void readEnds(WeightTensor t) {
        long size = t.data().byteSize();
        if (size > 0) {
            t.data().get(ValueLayout.JAVA_BYTE, 0);
            t.data().get(ValueLayout.JAVA_BYTE, size - 1);
        }
    }

    /** Our clean errors say which file was wrong: anything else escaped from somewhere we did not mean. */
    private static void requireNamesFile(RuntimeException e, Path file) {
        if (e.getMessage() == null || !e.getMessage().startsWith(file.toString())) {
            throw new AssertionError("error without the file's name: " + e, e);
        }
    }
}
