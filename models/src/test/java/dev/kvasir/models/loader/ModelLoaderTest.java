package dev.kvasir.models.loader;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.WeightTensor;
import dev.kvasir.kernels.quant.Quant;
import dev.kvasir.models.LlamaConfig;
import dev.kvasir.models.ModelLocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.kvasir.models.loader.TestModels.*;
import static org.junit.jupiter.api.Assertions.*;

class ModelLoaderTest {

    @TempDir
    Path dir;

    @Test
    void stories260kConfigFromGgufMetadata() {
        try (LoadedModel m = ModelLoader.load(ModelLocator.testModel("stories260K.gguf"))) {
            LlamaConfig c = m.config();
            assertEquals(new LlamaConfig(64, 5, 8, 4, 8, 172, 512, 2048, 1e-5f, 10000f, null,
                    LlamaConfig.RopeStyle.NORMAL, false, 1, 2, -1), c);
            assertNull(m.chatTemplate());
            assertNull(m.tokenizerJson());
            assertEquals("llama", m.metadata().get("tokenizer.ggml.model"));
            assertEquals(48, m.weights().names().size());
            WeightTensor q = m.weights().tensor("blk.0.attn_q.weight");
            assertTrue(q.data().isMapped() && q.data().heapBase().isEmpty(), "weights must stay in the mapping");
        }
    }

    @Test
    void llama2TinyRandomConfig() {
        try (LoadedModel m = ModelLoader.load(ModelLocator.testModel("llama-2-tiny-random.gguf"))) {
            assertEquals(new LlamaConfig(8, 1, 2, 2, 4, 32, 32000, 4096, 1e-5f, 10000f, null,
                    LlamaConfig.RopeStyle.NORMAL, false, 1, 2, -1), m.config());
            assertEquals(GgmlType.F16, m.weights().tensor("output.weight").type());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "F16", "Q8_0", "Q4_0"})
    void writtenGgufLoadsWithItsConfigAndValues(String typeName) {
        GgmlType type = GgmlType.valueOf(typeName);
        Map<String, Tensor> tensors = tensors(1);
        Path file = dir.resolve("tiny-" + typeName + ".gguf");
        writeGguf(file, tensors, type, Set.of(), Map.of());
        try (LoadedModel m = ModelLoader.load(file)) {
            assertEquals(new LlamaConfig(DIM, LAYERS, HEADS, KV_HEADS, HEAD_DIM, FFN, VOCAB, 256, 1e-5f, 500000f, null,
                    LlamaConfig.RopeStyle.NORMAL, false, 1, 2, -1), m.config());
            assertEquals("{{ messages }}", m.chatTemplate());
            float[] expected = tensors.get("blk.1.ffn_down.weight").values();
            WeightTensor t = m.weights().tensor("blk.1.ffn_down.weight");
            assertEquals(type, t.type());
            assertArrayEquals(new long[] {FFN, DIM}, t.shape());
            float[] got = Quant.dequantize(t);
            float tolerance = switch (type) {
                case F32 -> 0f;
                case F16 -> 1e-3f;
                case Q8_0 -> 0.01f;
                default -> 0.12f;
            };
            for (int i = 0; i < expected.length; i++) assertEquals(expected[i], got[i], tolerance, "value " + i);
        }
    }

    @Test
    void tiedEmbeddingsWhenGgufHasNoOutputTensor() {
        Path file = dir.resolve("tied.gguf");
        writeGguf(file, tensors(2), GgmlType.F32, Set.of("output.weight"), Map.of());
        try (LoadedModel m = ModelLoader.load(file)) {
            assertTrue(m.config().tiedEmbeddings());
            assertNull(m.weights().find("output.weight"));
        }
    }

    @Test
    void eotFoundByTokenText() {
        String[] tokens = new String[VOCAB];
        int[] types = new int[VOCAB];
        for (int i = 0; i < VOCAB; i++) {
            tokens[i] = "t" + i;
            types[i] = 1;
        }
        tokens[7] = "<|im_end|>";
        Path file = dir.resolve("eot.gguf");
        GgufWriter w = new GgufWriter().put("general.architecture", "llama")
                .put("llama.embedding_length", GgufValueType.UINT32, DIM)
                .put("llama.block_count", GgufValueType.UINT32, LAYERS)
                .put("llama.attention.head_count", GgufValueType.UINT32, HEADS)
                .put("llama.attention.head_count_kv", GgufValueType.UINT32, KV_HEADS)
                .put("llama.feed_forward_length", GgufValueType.UINT32, FFN)
                .put("tokenizer.ggml.tokens", tokens)
                .put("tokenizer.ggml.token_type", types);
        tensors(3).forEach((name, t) -> w.tensor(name, GgmlType.F32, ggufShape(t.hfShape()), t.values()));
        w.write(file);
        try (LoadedModel m = ModelLoader.load(file)) {
            assertEquals(7, m.config().eotId());
            assertEquals(VOCAB, m.config().vocabSize()); // from the tokens array: no llama.vocab_size key
            assertEquals(2048, m.config().contextLength());
        }
    }

    @Test
    void llama3RopeScalingReconstructedFromRopeFreqsTensor() {
        // llama.cpp's converter stores Llama 3.1 scaling as per-frequency divisors, not as keys.
        Map<String, Tensor> tensors = new LinkedHashMap<>(tensors(4));
        tensors.put("rope_freqs.weight", new Tensor(new long[] {HEAD_DIM / 2},
                GgufConfig.llama3Divisors(HEAD_DIM, 500000f, 8, 1, 4, 8192)));
        Path file = dir.resolve("llama3.gguf");
        writeGguf(file, tensors, GgmlType.F32, Set.of(), Map.of());
        try (LoadedModel m = ModelLoader.load(file)) {
            assertEquals(new LlamaConfig.RopeScaling(8, 1, 4, 8192), m.config().ropeScaling());
        }

        // A table no Llama 3 parameters explain is refused rather than guessed.
        tensors.put("rope_freqs.weight", new Tensor(new long[] {HEAD_DIM / 2},
                GgufConfig.llama3Divisors(HEAD_DIM, 500000f, 8, 1, 4, 64)));
        Path odd = dir.resolve("odd-rope.gguf");
        writeGguf(odd, tensors, GgmlType.F32, Set.of(), Map.of());
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelLoader.load(odd));
        assertTrue(e.getMessage().contains("odd-rope.gguf") && e.getMessage().contains("rope_freqs.weight does not match"),
                e.getMessage());
    }

    private void writeHfDir(Path hf, String dtype, boolean sharded) throws IOException {
        Files.createDirectories(hf);
        writeJson(hf.resolve("config.json"), configJson());
        writeJson(hf.resolve("tokenizer_config.json"), Map.of(
                "chat_template", "{% for m in messages %}{{ m.content }}{% endfor %}",
                "add_bos_token", true,
                "added_tokens_decoder", Map.of("3", Map.of("content", "<|im_end|>", "special", true))));
        Files.writeString(hf.resolve("tokenizer.json"), "{\"added_tokens\": []}");
        Map<String, Tensor> hfTensors = hfTensors(tensors(5));
        hfTensors.put("model.layers.0.self_attn.rotary_emb.inv_freq", new Tensor(new long[] {HEAD_DIM / 2}, new float[HEAD_DIM / 2]));
        if (!sharded) {
            writeSafetensors(hf.resolve("model.safetensors"), hfTensors, dtype);
            return;
        }
        Map<String, Tensor> a = new LinkedHashMap<>(), b = new LinkedHashMap<>();
        Map<String, String> weightMap = new LinkedHashMap<>();
        int i = 0;
        for (Map.Entry<String, Tensor> e : hfTensors.entrySet()) {
            boolean first = i++ % 2 == 0;
            (first ? a : b).put(e.getKey(), e.getValue());
            weightMap.put(e.getKey(), first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
        }
        writeSafetensors(hf.resolve("model-00001-of-00002.safetensors"), a, dtype);
        writeSafetensors(hf.resolve("model-00002-of-00002.safetensors"), b, dtype);
        writeJson(hf.resolve("model.safetensors.index.json"), Map.of("metadata", Map.of(), "weight_map", weightMap));
    }

    @ParameterizedTest
    @ValueSource(strings = {"F32", "F16", "BF16"})
    void safetensorsSingleAndShardedGiveTheSameModel(String dtype) throws IOException {
        Path single = dir.resolve("single"), sharded = dir.resolve("sharded");
        writeHfDir(single, dtype, false);
        writeHfDir(sharded, dtype, true);
        Map<String, Tensor> expected = tensors(5);
        LlamaConfig want = new LlamaConfig(DIM, LAYERS, HEADS, KV_HEADS, HEAD_DIM, FFN, VOCAB, 256, 1e-5f, 500000f,
                new LlamaConfig.RopeScaling(8, 1, 4, 128), LlamaConfig.RopeStyle.NEOX, false, 1, 2, 3);
        for (Path source : List.of(single, sharded, single.resolve("model.safetensors"))) {
            try (LoadedModel m = ModelLoader.load(source)) {
                assertEquals(want, m.config(), source.toString());
                assertEquals("{% for m in messages %}{{ m.content }}{% endfor %}", m.chatTemplate());
                assertEquals(single.equals(source.getParent()) ? single.resolve("tokenizer.json") : source.resolve("tokenizer.json"),
                        m.tokenizerJson());
                assertEquals(64L, m.metadata().get("hf.config.hidden_size"));
                assertEquals(true, m.metadata().get("hf.tokenizer_config.add_bos_token"));
                assertEquals(List.of(2L, 3L), m.metadata().get("hf.config.eos_token_id"));
                assertEquals(expected.size(), m.weights().names().size(), "rotary inv_freq is dropped");
                for (Map.Entry<String, Tensor> e : expected.entrySet()) {
                    WeightTensor t = m.weights().tensor(e.getKey());
                    assertEquals(GgmlType.valueOf(dtype), t.type());
                    assertArrayEquals(ggufShape(e.getValue().hfShape()), t.shape(), e.getKey());
                    assertTrue(t.data().isMapped());
                    float[] got = Quant.dequantize(t);
                    float[] want1 = e.getValue().values();
                    for (int i = 0; i < want1.length; i++) {
                        float tol = switch (dtype) {
                            case "F32" -> 0;
                            case "F16" -> Math.abs(want1[i]) * 0x1p-11f + 1e-7f;
                            default -> Math.abs(want1[i]) * 0x1p-8f;
                        };
                        assertEquals(want1[i], got[i], tol, e.getKey() + "[" + i + "]");
                    }
                }
            }
        }
    }

    @Test
    void hfTiedEmbeddingsNeedNoLmHead() throws IOException {
        Path hf = dir.resolve("tied");
        Files.createDirectories(hf);
        Map<String, Object> config = new LinkedHashMap<>(configJson());
        config.put("tie_word_embeddings", true);
        config.remove("rope_scaling");
        writeJson(hf.resolve("config.json"), config);
        Map<String, Tensor> t = hfTensors(tensors(6));
        t.remove("lm_head.weight");
        writeSafetensors(hf.resolve("model.safetensors"), t, "F32");
        try (LoadedModel m = ModelLoader.load(hf)) {
            assertTrue(m.config().tiedEmbeddings());
            assertNull(m.config().ropeScaling());
            assertNull(m.weights().find("output.weight"));
            assertNull(m.tokenizerJson());
            assertNull(m.chatTemplate());
        }
    }
}
