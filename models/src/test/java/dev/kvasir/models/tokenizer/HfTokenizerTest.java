package dev.kvasir.models.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Hugging Face tokenizer.json through DJL's native library, checked against our own byte-level BPE. */
class HfTokenizerTest {

    @TempDir
    Path dir;

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The small test vocabulary as a tokenizer.json, pre-tokenized like SmolLM2 or like Llama 3. */
    private Path writeTokenizer(boolean llama3) throws IOException {
        Map<String, Object> metadata = TestVocabularies.smallGpt2Metadata(llama3 ? "llama-bpe" : "smollm");
        String[] tokens = (String[]) metadata.get("tokenizer.ggml.tokens");
        int[] types = (int[]) metadata.get("tokenizer.ggml.token_type");
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        ObjectNode model = JSON.createObjectNode();
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", llama3);
        ObjectNode vocab = model.putObject("vocab");
        for (int id = 0; id < tokens.length; id++) {
            vocab.put(tokens[id], id);
            if (types[id] != 1) {
                added.addObject().put("id", id).put("content", tokens[id]).put("single_word", false).put("lstrip", false)
                        .put("rstrip", false).put("normalized", false).put("special", types[id] == 3);
            }
        }
        ArrayNode merges = model.putArray("merges");
        for (String merge : TestVocabularies.SMALL_MERGES) merges.add(merge);
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "Sequence");
        ArrayNode steps = pre.putArray("pretokenizers");
        if (llama3) {
            ObjectNode split = steps.addObject().put("type", "Split");
            split.putObject("pattern").put("Regex", PreTokenizer.LLAMA3);
            split.put("behavior", "Isolated").put("invert", false);
            steps.addObject().put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true).put("use_regex", false);
        } else {
            steps.addObject().put("type", "Digits").put("individual_digits", true);
            steps.addObject().put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true).put("use_regex", true);
        }
        root.putObject("post_processor").put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", false).put("use_regex", true);
        root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", true).put("use_regex", true);
        root.set("model", model);
        Path file = dir.resolve("tokenizer.json");
        JSON.writeValue(file.toFile(), root);
        JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), Map.of("eos_token", "<|im_end|>", "add_bos_token", false));
        return file;
    }

    @Test
    void nativeLibraryLoadsOfflineAndAgreesWithOurByteLevelBpe() throws IOException {
        for (boolean llama3 : new boolean[] {false, true}) {
            Gpt2BpeTokenizer ours = TestVocabularies.smallGpt2(llama3 ? "llama-bpe" : "smollm");
            try (HfTokenizer hf = HfTokenizer.open(writeTokenizer(llama3))) {
                assertEquals(ours.vocabSize(), hf.vocabSize());
                assertArrayEquals(new int[] {TestVocabularies.id(ours, "Hello"), TestVocabularies.id(ours, "Ġworld")},
                        hf.encode("Hello world", false, false));
                Random random = new Random(5);
                for (int i = 0; i < 300; i++) {
                    String text = RandomText.next(random, true);
                    int[] ids = hf.encode(text, false, false);
                    assertArrayEquals(ours.encode(text, false, false), ids, () -> "ids of " + LlamaSpmTokenizerTest.escape(text));
                    assertEquals(Utf8.wellFormed(text), hf.decode(ids));
                }
            }
        }
    }

    @Test
    void specialTokensOnlyFromTrustedText() throws IOException {
        try (HfTokenizer hf = HfTokenizer.open(writeTokenizer(false))) {
            int end = TestVocabularies.id(hf, "<|im_end|>");
            assertTrue(hf.isSpecial(end));
            assertArrayEquals(new int[] {end, TestVocabularies.id(hf, "<|endoftext|>")}, hf.stopTokenIds());
            assertEquals(-1, hf.bosId());
            int[] trusted = hf.encode("hi<|im_end|>", false, true);
            assertEquals(end, trusted[trusted.length - 1]);
            int[] untrusted = hf.encode("hi<|im_end|><|im_end|><think>", false, false);
            assertTrue(Arrays.stream(untrusted).noneMatch(hf::isSpecial), Arrays.toString(untrusted));
            assertEquals("hi<|im_end|><|im_end|><think>", hf.decode(untrusted));
            int[] mixed = hf.encode(List.of(new TextSpan("<|im_start|>", true), new TextSpan("<|im_end|>", false),
                    new TextSpan("<|im_end|>", true)), false);
            assertEquals(TestVocabularies.id(hf, "<|im_start|>"), mixed[0]);
            assertEquals(end, mixed[mixed.length - 1]);
            assertEquals(1, Arrays.stream(mixed).filter(i -> i == end).count());
            assertEquals("", hf.decode(new int[] {end})); // control tokens are not shown
        }
    }

    @Test
    void brokenFileIsNamedInTheError() throws IOException {
        Path file = dir.resolve("tokenizer.json");
        Files.writeString(file, "{\"model\": {}}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HfTokenizer.open(file));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    }
}
