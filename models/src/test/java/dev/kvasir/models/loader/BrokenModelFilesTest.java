package dev.kvasir.models.loader;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.models.ModelLocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;

import static dev.kvasir.models.loader.TestModels.*;
import static org.junit.jupiter.api.Assertions.*;

/** Every broken file gives one ModelFormatException naming the file and the problem. */
class BrokenModelFilesTest {

    @TempDir
    Path dir;

    private static void assertFails(Path file, String... expectedParts) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelLoader.load(file).close());
        assertTrue(e.getMessage().contains(file.getFileName().toString()), "names the file: " + e.getMessage());
        for (String part : expectedParts) assertTrue(e.getMessage().contains(part), "says \"" + part + "\": " + e.getMessage());
    }

    private Path stories(String name, int keepBytes) throws IOException {
        byte[] all = Files.readAllBytes(ModelLocator.testModel("stories260K.gguf"));
        Path file = dir.resolve(name);
        Files.write(file, Arrays.copyOf(all, keepBytes < 0 ? all.length : keepBytes));
        return file;
    }

    private static void patchInt(Path file, int offset, int value) throws IOException {
        byte[] b = Files.readAllBytes(file);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(offset, value);
        Files.write(file, b);
    }

    private static void patchLong(Path file, int offset, long value) throws IOException {
        byte[] b = Files.readAllBytes(file);
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(offset, value);
        Files.write(file, b);
    }

    @Test
    void badMagic() throws IOException {
        Path file = stories("magic.gguf", -1);
        patchInt(file, 0, 0x58554747); // "GGUX"
        assertFails(file, "bad magic");
    }

    @Test
    void notAModelAtAll() throws IOException {
        Path file = dir.resolve("notes.txt");
        Files.writeString(file, "hello");
        assertFails(file, "unknown model format");
    }

    @Test
    void unsupportedVersion() throws IOException {
        Path file = stories("v9.gguf", -1);
        patchInt(file, 4, 9);
        assertFails(file, "unsupported GGUF version 9");
    }

    @Test
    void truncatedHeader() throws IOException {
        assertFails(stories("header.gguf", 5000), "truncated GGUF header");
        assertFails(stories("tiny.gguf", 10), "truncated GGUF header");
    }

    @Test
    void truncatedTensorData() throws IOException {
        assertFails(stories("data.gguf", 1_185_376 - 1000), "truncated tensor data", "tensor blk.4.ffn_up.weight needs bytes");
    }

    @Test
    void absurdCountsAndLengths() throws IOException {
        Path tensors = stories("count.gguf", -1);
        patchLong(tensors, 8, 1L << 40);
        assertFails(tensors, "tensor count", "cannot fit");
        Path keys = stories("keys.gguf", -1);
        patchLong(keys, 16, -1);
        assertFails(keys, "metadata key/value count");
        Path string = stories("string.gguf", -1);
        patchLong(string, 24, 1L << 50); // length of the first key
        assertFails(string, "metadata key #0", "claims");
    }

    /** A one-tensor file whose tensor type id is patched: header 24 bytes, name "t" (9), dims (4 + 8), then the type. */
    @Test
    void unknownTensorType() throws IOException {
        Path file = dir.resolve("type.gguf");
        new GgufWriter().tensor("t", GgmlType.F32, new long[] {4}, new float[4]).write(file);
        patchInt(file, 24 + 9 + 4 + 8, 99);
        assertFails(file, "tensor t", "unknown or unsupported tensor type id 99");
    }

    @Test
    void missingTensor() {
        Path file = dir.resolve("missing.gguf");
        writeGguf(file, tensors(1), GgmlType.F32, Set.of("blk.1.ffn_up.weight"), Map.of());
        assertFails(file, "missing tensor blk.1.ffn_up.weight");
    }

    @Test
    void shapeThatDoesNotMatchTheConfig() {
        Path file = dir.resolve("shape.gguf");
        Map<String, Tensor> t = tensors(1);
        // Same element count, transposed: only a shape check catches it.
        writeGguf(file, t, GgmlType.F32, Set.of(), Map.of("blk.0.attn_k.weight", new long[] {KV_DIM, DIM}));
        assertFails(file, "blk.0.attn_k.weight", "[32, 64]", "[64, 32]");
    }

    @Test
    void configThatMakesNoSense() {
        Path file = dir.resolve("heads.gguf");
        new GgufWriter().put("general.architecture", "llama")
                .put("llama.embedding_length", GgufValueType.UINT32, 64)
                .put("llama.block_count", GgufValueType.UINT32, 1)
                .put("llama.attention.head_count", GgufValueType.UINT32, 3)
                .put("llama.attention.head_count_kv", GgufValueType.UINT32, 2)
                .put("llama.feed_forward_length", GgufValueType.UINT32, 64)
                .put("llama.vocab_size", GgufValueType.UINT32, 10)
                .write(file);
        assertFails(file, "head count 3 is not a multiple of KV head count 2");
        Path noArch = dir.resolve("noarch.gguf");
        new GgufWriter().put("general.architecture", "mamba").write(noArch);
        assertFails(noArch, "unsupported architecture \"mamba\"");
        Path partialRope = dir.resolve("partial-rope.gguf");
        new GgufWriter().put("general.architecture", "llama")
                .put("llama.embedding_length", GgufValueType.UINT32, 64)
                .put("llama.block_count", GgufValueType.UINT32, 1)
                .put("llama.attention.head_count", GgufValueType.UINT32, 4)
                .put("llama.feed_forward_length", GgufValueType.UINT32, 64)
                .put("llama.vocab_size", GgufValueType.UINT32, 10)
                .put("llama.rope.dimension_count", GgufValueType.UINT32, 8)
                .write(partialRope);
        assertFails(partialRope, "rope.dimension_count = 8", "16-dim head");
    }

    /**
     * Found by fuzzing (ModelFilesFuzzTest): a header claiming two billion layers made the loader list
     * every tensor they would need before looking for the first, 37 s and gigabytes for an 18 KB file.
     */
    @Test
    void aHeaderClaimingBillionsOfLayersFailsAtTheFirstMissingOne() {
        Path file = dir.resolve("layers.gguf");
        new GgufWriter().put("general.architecture", "llama")
                .put("llama.embedding_length", GgufValueType.UINT32, 8)
                .put("llama.block_count", GgufValueType.UINT32, 2_000_000_000)
                .put("llama.attention.head_count", GgufValueType.UINT32, 2)
                .put("llama.feed_forward_length", GgufValueType.UINT32, 16)
                .put("llama.vocab_size", GgufValueType.UINT32, 4)
                .tensor("token_embd.weight", GgmlType.F32, new long[] {8, 4}, new float[32])
                .write(file);
        assertTimeoutPreemptively(java.time.Duration.ofSeconds(5), () -> assertFails(file, "missing tensor blk.0.attn_norm.weight"));
    }

    private Path hfDir(String name, Map<String, Object> config) throws IOException {
        Path hf = dir.resolve(name);
        Files.createDirectories(hf);
        writeJson(hf.resolve("config.json"), config);
        return hf;
    }

    @Test
    void badSafetensorsHeaderJson() throws IOException {
        Path hf = hfDir("badjson", configJson());
        writeSafetensorsRaw(hf.resolve("model.safetensors"), "{\"model.norm.weight\": {\"dtype\": ", Map.of(), GgmlType.F32, 0);
        assertFails(hf.resolve("model.safetensors"), "bad safetensors header JSON");
    }

    @Test
    void badSafetensorsHeaderLengthAndTruncatedData() throws IOException {
        Path hf = hfDir("badlength", configJson());
        Path st = hf.resolve("model.safetensors");
        Files.write(st, new byte[] {(byte) 0xff, (byte) 0xff, 0, 0, 0, 0, 0, 0, '{', '}'});
        assertFails(st, "bad safetensors header length");

        Path hf2 = hfDir("truncated", configJson());
        Map<String, Tensor> t = hfTensors(tensors(1));
        writeSafetensors(hf2.resolve("model.safetensors"), t, "F32");
        byte[] all = Files.readAllBytes(hf2.resolve("model.safetensors"));
        Files.write(hf2.resolve("model.safetensors"), Arrays.copyOf(all, all.length - 100));
        assertFails(hf2.resolve("model.safetensors"), "truncated tensor data", "lm_head.weight");
    }

    @Test
    void safetensorsWithMissingOrMisshapenTensor() throws IOException {
        Path hf = hfDir("missing", configJson());
        Map<String, Tensor> t = hfTensors(tensors(1));
        t.remove("model.layers.1.mlp.down_proj.weight");
        writeSafetensors(hf.resolve("model.safetensors"), t, "BF16");
        assertFails(hf, "missing tensor blk.1.ffn_down.weight");

        Path hf2 = hfDir("shape", configJson());
        Map<String, Tensor> t2 = hfTensors(tensors(1));
        t2.put("model.norm.weight", new Tensor(new long[] {DIM / 2}, new float[DIM / 2]));
        writeSafetensors(hf2.resolve("model.safetensors"), t2, "F16");
        assertFails(hf2, "output_norm.weight", "[32]", "[64]");

        Path hf3 = hfDir("dtype", configJson());
        writeSafetensorsRaw(hf3.resolve("model.safetensors"),
                "{\"model.norm.weight\": {\"dtype\": \"I64\", \"shape\": [1], \"data_offsets\": [0, 8]}}", Map.of(), GgmlType.F32, 8);
        assertFails(hf3, "model.norm.weight", "unsupported dtype I64");
    }

    @Test
    void shardIndexNamingAMissingShardOrTensor() throws IOException {
        Path hf = hfDir("shards", configJson());
        writeJson(hf.resolve("model.safetensors.index.json"),
                Map.of("weight_map", Map.of("model.norm.weight", "model-00009.safetensors")));
        assertFails(hf, "model.norm.weight", "model-00009.safetensors", "missing");

        Path hf2 = hfDir("shards2", configJson());
        writeSafetensors(hf2.resolve("model-00001.safetensors"), hfTensors(tensors(1)), "F32");
        writeJson(hf2.resolve("model.safetensors.index.json"),
                Map.of("weight_map", Map.of("model.layers.7.mlp.up_proj.weight", "model-00001.safetensors")));
        assertFails(hf2, "model-00001.safetensors", "missing tensor model.layers.7.mlp.up_proj.weight");
    }

    @Test
    void hfConfigMissingAField() throws IOException {
        Map<String, Object> config = new java.util.LinkedHashMap<>(configJson());
        config.remove("num_hidden_layers");
        Path hf = hfDir("noconfig", config);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> ModelLoader.load(hf));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("missing num_hidden_layers"), e.getMessage());
    }
}
