package dev.kvasir.models.loader;

import dev.kvasir.kernels.GgmlType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Valid model files for the fuzzers to start from, written by our own writers at test time (so no
 * model-like blob sits in the repository and the seeds follow the formats as they change): a
 * complete tiny Llama with a byte-level BPE vocabulary and one with a SentencePiece one, a GGUF of
 * metadata of every value type, and a complete safetensors file.
 */
public final class FuzzSeeds {

    /** The tiny model: small enough that a fuzzer rewrites it thousands of times a second. */
    static final int DIM = 8, FFN = 16, HEADS = 2, KV_HEADS = 1;

    private FuzzSeeds() {}

    /** Byte-level BPE vocabulary: 256 byte characters, a few merges, ChatML's control tokens. */
    public static Map<String, Object> gpt2Vocabulary() {
        List<String> tokens = new ArrayList<>();
        for (int b = 0; b < 256; b++) tokens.add(byteLevel(b));
        String[] merges = {"Ġ t", "h e", "Ġt he", "Ġ a", "i n"};
        for (String m : merges) tokens.add(m.replace(" ", ""));
        int[] types = new int[tokens.size() + 3];
        Arrays.fill(types, 1);
        for (String special : new String[] {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
            types[tokens.size()] = 3;
            tokens.add(special);
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tokenizer.ggml.model", "gpt2");
        m.put("tokenizer.ggml.pre", "default");
        m.put("tokenizer.ggml.tokens", tokens.toArray(String[]::new));
        m.put("tokenizer.ggml.token_type", types);
        m.put("tokenizer.ggml.merges", merges);
        m.put("tokenizer.ggml.bos_token_id", (long) tokens.indexOf("<|endoftext|>"));
        m.put("tokenizer.ggml.eos_token_id", (long) tokens.indexOf("<|im_end|>"));
        return m;
    }

    /** SentencePiece vocabulary: unk, BOS, EOS, the 256 byte-fallback tokens and a few scored pieces. */
    public static Map<String, Object> llamaVocabulary() {
        List<String> tokens = new ArrayList<>(List.of("<unk>", "<s>", "</s>"));
        List<Integer> types = new ArrayList<>(List.of(2, 3, 3));
        for (int b = 0; b < 256; b++) {
            tokens.add(String.format("<0x%02X>", b));
            types.add(6);
        }
        String[] pieces = {"▁", "▁t", "he", "▁the", "▁a", "in", "▁in", "e", "t", "h", "a", "i", "n"};
        for (String p : pieces) {
            tokens.add(p);
            types.add(1);
        }
        float[] scores = new float[tokens.size()];
        for (int i = 0; i < pieces.length; i++) scores[tokens.size() - pieces.length + i] = -i;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tokenizer.ggml.model", "llama");
        m.put("tokenizer.ggml.tokens", tokens.toArray(String[]::new));
        m.put("tokenizer.ggml.scores", scores);
        m.put("tokenizer.ggml.token_type", types.stream().mapToInt(Integer::intValue).toArray());
        m.put("tokenizer.ggml.bos_token_id", 1L);
        m.put("tokenizer.ggml.eos_token_id", 2L);
        m.put("tokenizer.ggml.add_bos_token", Boolean.TRUE);
        return m;
    }

    /** GPT-2's printable stand-in for byte {@code b}. */
    private static String byteLevel(int b) {
        if (b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE) return String.valueOf((char) b);
        int n = 0;
        for (int x = 0; x < b; x++) if (!(x >= '!' && x <= '~' || x >= 0xA1 && x <= 0xAC || x >= 0xAE)) n++;
        return String.valueOf((char) (256 + n));
    }

    /** A complete tiny Llama GGUF with {@code vocabulary}, and a chat template when given. */
    public static byte[] tinyModel(Map<String, Object> vocabulary, String chatTemplate) {
        int vocab = ((String[]) vocabulary.get("tokenizer.ggml.tokens")).length;
        GgufWriter w = new GgufWriter()
                .put("general.architecture", "llama")
                .put("llama.embedding_length", GgufValueType.UINT32, DIM)
                .put("llama.block_count", GgufValueType.UINT32, 1)
                .put("llama.attention.head_count", GgufValueType.UINT32, HEADS)
                .put("llama.attention.head_count_kv", GgufValueType.UINT32, KV_HEADS)
                .put("llama.feed_forward_length", GgufValueType.UINT32, FFN)
                .put("llama.context_length", GgufValueType.UINT32, 64)
                .put("llama.attention.layer_norm_rms_epsilon", 1e-5f)
                .put("llama.rope.freq_base", 10000f);
        vocabulary.forEach(w::put);
        if (chatTemplate != null) w.put("tokenizer.chat_template", chatTemplate);
        Random r = new Random(1);
        int kv = KV_HEADS * DIM / HEADS;
        w.tensor("token_embd.weight", GgmlType.F32, new long[] {DIM, vocab}, random(r, DIM * vocab));
        w.tensor("blk.0.attn_norm.weight", GgmlType.F32, new long[] {DIM}, random(r, DIM));
        w.tensor("blk.0.attn_q.weight", GgmlType.F32, new long[] {DIM, DIM}, random(r, DIM * DIM));
        w.tensor("blk.0.attn_k.weight", GgmlType.F32, new long[] {DIM, kv}, random(r, DIM * kv));
        w.tensor("blk.0.attn_v.weight", GgmlType.F16, new long[] {DIM, kv},
                random(r, DIM * kv));
        w.tensor("blk.0.attn_output.weight", GgmlType.F32, new long[] {DIM, DIM}, random(r, DIM * DIM));
        w.tensor("blk.0.ffn_norm.weight", GgmlType.F32, new long[] {DIM}, random(r, DIM));
        w.tensor("blk.0.ffn_gate.weight", GgmlType.F32, new long[] {DIM, FFN}, random(r, DIM * FFN));
        w.tensor("blk.0.ffn_up.weight", GgmlType.F32, new long[] {DIM, FFN}, random(r, DIM * FFN));
        w.tensor("blk.0.ffn_down.weight", GgmlType.F32, new long[] {FFN, DIM}, random(r, FFN * DIM));
        w.tensor("output_norm.weight", GgmlType.F32, new long[] {DIM}, random(r, DIM));
        return write(w);
    }

    /** A GGUF with no tensors and metadata of every value type GgufWriter writes. */
    public static byte[] metadataOnly() {
        GgufWriter w = new GgufWriter()
                .put("general.architecture", "llama")
                .put("general.alignment", GgufValueType.UINT32, 64)
                .put("u8", GgufValueType.UINT8, 200).put("i8", GgufValueType.INT8, -5)
                .put("u16", GgufValueType.UINT16, 60000).put("i16", GgufValueType.INT16, -300)
                .put("u32", GgufValueType.UINT32, 4_000_000_000L).put("i64", -1L).put("f64", 2.5).put("flag", true)
                .put("strings", new String[] {"a", "", "é"}).put("floats", new float[] {1, -2})
                .put("ints", new int[] {1, 2, 3}).put("longs", new long[] {-1, 1L << 40})
                .put("doubles", new double[] {0.5}).put("bools", new boolean[] {true, false})
                .putArray("bytes", GgufValueType.UINT8, new int[] {0, 255});
        return write(w);
    }

    private static byte[] write(GgufWriter w) {
        try {
            Path tmp = Files.createTempFile("kvasir-seed", ".gguf");
            try {
                w.write(tmp);
                return Files.readAllBytes(tmp);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A safetensors file of the tiny model's tensors under Hugging Face names, F32 and BF16 mixed. */
    public static byte[] safetensors() {
        Random r = new Random(2);
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put("model.embed_tokens.weight", new long[] {300, DIM});
        shapes.put("model.layers.0.input_layernorm.weight", new long[] {DIM});
        shapes.put("model.layers.0.self_attn.q_proj.weight", new long[] {DIM, DIM});
        shapes.put("model.layers.0.self_attn.k_proj.weight", new long[] {KV_HEADS * DIM / HEADS, DIM});
        shapes.put("model.layers.0.self_attn.v_proj.weight", new long[] {KV_HEADS * DIM / HEADS, DIM});
        shapes.put("model.layers.0.self_attn.o_proj.weight", new long[] {DIM, DIM});
        shapes.put("model.layers.0.post_attention_layernorm.weight", new long[] {DIM});
        shapes.put("model.layers.0.mlp.gate_proj.weight", new long[] {FFN, DIM});
        shapes.put("model.layers.0.mlp.up_proj.weight", new long[] {FFN, DIM});
        shapes.put("model.layers.0.mlp.down_proj.weight", new long[] {DIM, FFN});
        shapes.put("model.norm.weight", new long[] {DIM});
        StringBuilder header = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = 0;
        List<Long> sizes = new ArrayList<>();
        int i = 0;
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long n = Arrays.stream(e.getValue()).reduce(1, (a, b) -> a * b);
            String dtype = i++ % 2 == 0 ? "F32" : "BF16";
            long bytes = n * (dtype.equals("F32") ? 4 : 2);
            header.append(",\"").append(e.getKey()).append("\":{\"dtype\":\"").append(dtype).append("\",\"shape\":")
                    .append(Arrays.toString(e.getValue()).replace(" ", "")).append(",\"data_offsets\":[")
                    .append(offset).append(',').append(offset + bytes).append("]}");
            offset += bytes;
            sizes.add(bytes);
        }
        header.append('}');
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + h.length + (int) offset).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(h.length).put(h);
        for (long size : sizes) {
            for (long b = 0; b < size; b += 2) out.putShort((short) (0x3c00 + r.nextInt(512)));
        }
        return out.array();
    }

    /** The config.json of the safetensors seed. */
    public static String configJson() {
        return """
                {"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":%d,"num_hidden_layers":1,
                 "num_attention_heads":%d,"num_key_value_heads":%d,"intermediate_size":%d,"vocab_size":300,
                 "max_position_embeddings":64,"rms_norm_eps":1e-5,"rope_theta":10000.0,"tie_word_embeddings":true,
                 "bos_token_id":1,"eos_token_id":2}
                """.formatted(DIM, HEADS, KV_HEADS, FFN);
    }

    private static float[] random(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian() * 0.1f;
        return v;
    }
}
