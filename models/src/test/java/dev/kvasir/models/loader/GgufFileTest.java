package dev.kvasir.models.loader;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.WeightTensor;
import dev.kvasir.models.ModelLocator;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class GgufFileTest {

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Test
    void readsStories260kHeaderMetadataAndTensorTable() {
        try (GgufFile gguf = GgufFile.open(ModelLocator.testModel("stories260K.gguf"))) {
            assertEquals(3, gguf.version());
            assertEquals(19, gguf.metadata().size());
            assertEquals(48, gguf.tensors().size());
            assertEquals(32, gguf.alignment());
            assertEquals(14176, gguf.dataOffset());

            Map<String, Object> md = gguf.metadata();
            assertEquals("llama", md.get("general.architecture"));
            assertEquals(64L, md.get("llama.embedding_length"));
            assertEquals(5L, md.get("llama.block_count"));
            assertEquals(8L, md.get("llama.attention.head_count"));
            assertEquals(4L, md.get("llama.attention.head_count_kv"));
            assertEquals(172L, md.get("llama.feed_forward_length"));
            assertEquals(2048L, md.get("llama.context_length"));
            assertEquals(1e-5, (Double) md.get("llama.attention.layer_norm_rms_epsilon"), 1e-12);
            assertEquals(4294967295L, md.get("tokenizer.ggml.seperator_token_id"));
            assertEquals("llama", md.get("tokenizer.ggml.model"));
            String[] tokens = (String[]) md.get("tokenizer.ggml.tokens");
            float[] scores = (float[]) md.get("tokenizer.ggml.scores");
            int[] types = (int[]) md.get("tokenizer.ggml.token_type");
            assertEquals(512, tokens.length);
            assertEquals("<0x00>", tokens[3]);
            assertEquals(-(300 - 259), scores[300], 0f);
            assertEquals(2, types[0]);
            assertEquals(3, types[1]);
            assertEquals(6, types[3]);
            assertEquals(1, types[300]);
            assertFalse(md.containsKey("llama.rope.freq_base"));

            WeightTensor embd = gguf.tensor("token_embd.weight");
            assertEquals(GgmlType.F32, embd.type());
            assertArrayEquals(new long[] {64, 512}, embd.shape());
            assertArrayEquals(new long[] {64, 32}, gguf.tensor("blk.0.attn_k.weight").shape());
            assertArrayEquals(new long[] {172, 64}, gguf.tensor("blk.4.ffn_down.weight").shape());
            assertArrayEquals(new long[] {64}, gguf.tensor("output_norm.weight").shape());
            assertTrue(embd.data().isMapped(), "tensor data must be a slice of the mapping, not a copy");
            assertTrue(embd.data().heapBase().isEmpty());
            assertNull(gguf.find("no.such.tensor"));
            ModelFormatException e = assertThrows(ModelFormatException.class, () -> gguf.tensor("no.such.tensor"));
            assertTrue(e.getMessage().contains("stories260K.gguf") && e.getMessage().contains("no.such.tensor"));
        }
    }

    /** The llama2.c checkpoint holds the very same f32 weights: compare a few tensors exactly. */
    @Test
    void weightsEqualTheLlama2cCheckpoint() throws IOException {
        ByteBuffer bin = ByteBuffer.wrap(Files.readAllBytes(ModelLocator.testModel("stories260K.bin")))
                .order(ByteOrder.LITTLE_ENDIAN);
        int dim = bin.getInt(0), hidden = bin.getInt(4), layers = bin.getInt(8), vocab = bin.getInt(20);
        int heads = bin.getInt(12), kvHeads = bin.getInt(16);
        int kvDim = dim / heads * kvHeads;
        long embd = 28;
        long rmsAtt = embd + 4L * vocab * dim;
        long wq = rmsAtt + 4L * layers * dim;
        long wk = wq + 4L * layers * dim * dim;
        long wv = wk + 4L * layers * dim * kvDim;
        long wo = wv + 4L * layers * dim * kvDim;
        long rmsFfn = wo + 4L * layers * dim * dim;
        long w1 = rmsFfn + 4L * layers * dim;
        long w2 = w1 + 4L * layers * dim * hidden;
        long w3 = w2 + 4L * layers * dim * hidden;
        long rmsFinal = w3 + 4L * layers * dim * hidden;
        try (GgufFile gguf = GgufFile.open(ModelLocator.testModel("stories260K.gguf"))) {
            assertSame(bin, "token_embd.weight", embd, vocab * dim, gguf);
            assertSame(bin, "blk.0.attn_norm.weight", rmsAtt, dim, gguf);
            assertSame(bin, "blk.2.attn_q.weight", wq + 4L * 2 * dim * dim, dim * dim, gguf);
            assertSame(bin, "blk.1.attn_k.weight", wk + 4L * dim * kvDim, dim * kvDim, gguf);
            assertSame(bin, "blk.4.attn_v.weight", wv + 4L * 4 * dim * kvDim, dim * kvDim, gguf);
            assertSame(bin, "blk.3.attn_output.weight", wo + 4L * 3 * dim * dim, dim * dim, gguf);
            assertSame(bin, "blk.0.ffn_gate.weight", w1, dim * hidden, gguf);
            assertSame(bin, "blk.4.ffn_down.weight", w2 + 4L * 4 * dim * hidden, dim * hidden, gguf);
            assertSame(bin, "blk.1.ffn_up.weight", w3 + 4L * dim * hidden, dim * hidden, gguf);
            assertSame(bin, "blk.3.ffn_norm.weight", rmsFfn + 4L * 3 * dim, dim, gguf);
            assertSame(bin, "output_norm.weight", rmsFinal, dim, gguf);
        }
    }

    private static void assertSame(ByteBuffer bin, String tensor, long offset, int count, GgufFile gguf) {
        MemorySegment data = gguf.tensor(tensor).data();
        assertEquals(4L * count, data.byteSize(), tensor);
        for (int i = 0; i < count; i++) {
            assertEquals(bin.getFloat((int) offset + 4 * i), data.getAtIndex(F32, i), tensor + "[" + i + "]");
        }
    }

    @Test
    void readsLlama2TinyRandomF16() {
        try (GgufFile gguf = GgufFile.open(ModelLocator.testModel("llama-2-tiny-random.gguf"))) {
            assertEquals(3, gguf.version());
            assertEquals(18, gguf.metadata().size());
            assertEquals(724416, gguf.dataOffset());
            assertEquals("LLaMA v2", gguf.getString("general.name"));
            assertEquals(1, gguf.getLong("general.file_type", -1));
            assertEquals(32000, ((String[]) gguf.metadata().get("tokenizer.ggml.tokens")).length);
            List<String> order = gguf.tensors().stream().map(TensorInfo::name).toList();
            assertEquals(List.of("token_embd.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight",
                    "blk.0.attn_v.weight", "blk.0.attn_output.weight", "blk.0.ffn_gate.weight",
                    "blk.0.ffn_up.weight", "blk.0.ffn_down.weight", "output.weight",
                    "blk.0.attn_norm.weight", "blk.0.ffn_norm.weight", "output_norm.weight").size(), order.size());
            assertEquals("token_embd.weight", order.get(0));
            WeightTensor embd = gguf.tensor("token_embd.weight");
            assertEquals(GgmlType.F16, embd.type());
            assertArrayEquals(new long[] {8, 32000}, embd.shape());
            assertEquals(2L * 8 * 32000, embd.data().byteSize());
            assertEquals(GgmlType.F32, gguf.tensor("blk.0.ffn_norm.weight").type());
            assertArrayEquals(new long[] {32, 8}, gguf.tensor("blk.0.ffn_down.weight").shape());
        }
    }
}
