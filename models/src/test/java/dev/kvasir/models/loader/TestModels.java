package dev.kvasir.models.loader;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.quant.Quant;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/** Tiny Llama models written by the tests: GGUF through {@link GgufWriter}, safetensors by hand. */
final class TestModels {

    static final int DIM = 64, LAYERS = 2, HEADS = 4, KV_HEADS = 2, FFN = 96, VOCAB = 100;
    static final int HEAD_DIM = DIM / HEADS, KV_DIM = KV_HEADS * HEAD_DIM;

    /** One tensor of a test model: Hugging Face shape (outermost first) and values. */
    record Tensor(long[] hfShape, float[] values) {}

    private TestModels() {}

    /** Random tensors of the tiny model, by GGUF name (output.weight included: not tied). */
    static Map<String, Tensor> tensors(long seed) {
        Random r = new Random(seed);
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("token_embd.weight", random(r, VOCAB, DIM));
        for (int l = 0; l < LAYERS; l++) {
            String b = "blk." + l + ".";
            t.put(b + "attn_norm.weight", random(r, DIM));
            t.put(b + "attn_q.weight", random(r, DIM, DIM));
            t.put(b + "attn_k.weight", random(r, KV_DIM, DIM));
            t.put(b + "attn_v.weight", random(r, KV_DIM, DIM));
            t.put(b + "attn_output.weight", random(r, DIM, DIM));
            t.put(b + "ffn_norm.weight", random(r, DIM));
            t.put(b + "ffn_gate.weight", random(r, FFN, DIM));
            t.put(b + "ffn_up.weight", random(r, FFN, DIM));
            t.put(b + "ffn_down.weight", random(r, DIM, FFN));
        }
        t.put("output_norm.weight", random(r, DIM));
        t.put("output.weight", random(r, VOCAB, DIM));
        return t;
    }

    private static Tensor random(Random r, long... hfShape) {
        long n = 1;
        for (long d : hfShape) n *= d;
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian() * 0.1f;
        return new Tensor(hfShape, v);
    }

    static long[] ggufShape(long[] hfShape) {
        long[] s = new long[hfShape.length];
        for (int i = 0; i < s.length; i++) s[i] = hfShape[hfShape.length - 1 - i];
        return s;
    }

    /** A GGUF llama model of the tensors, leaving out {@code skip} and giving {@code reshape}d tensors another shape. */
    static void writeGguf(Path file, Map<String, Tensor> tensors, GgmlType type, Set<String> skip, Map<String, long[]> reshape) {
        GgufWriter w = new GgufWriter()
                .put("general.architecture", "llama")
                .put("llama.embedding_length", GgufValueType.UINT32, DIM)
                .put("llama.block_count", GgufValueType.UINT32, LAYERS)
                .put("llama.attention.head_count", GgufValueType.UINT32, HEADS)
                .put("llama.attention.head_count_kv", GgufValueType.UINT32, KV_HEADS)
                .put("llama.feed_forward_length", GgufValueType.UINT32, FFN)
                .put("llama.context_length", GgufValueType.UINT32, 256)
                .put("llama.vocab_size", GgufValueType.UINT32, VOCAB)
                .put("llama.attention.layer_norm_rms_epsilon", 1e-5f)
                .put("llama.rope.freq_base", 500000f)
                .put("tokenizer.ggml.bos_token_id", GgufValueType.UINT32, 1)
                .put("tokenizer.ggml.eos_token_id", GgufValueType.UINT32, 2)
                .put("tokenizer.chat_template", "{{ messages }}");
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            if (skip.contains(e.getKey())) continue;
            long[] shape = reshape.getOrDefault(e.getKey(), ggufShape(e.getValue().hfShape()));
            GgmlType t = shape.length == 1 ? GgmlType.F32 : type;
            w.tensor(e.getKey(), t, shape, e.getValue().values());
        }
        w.write(file);
    }

    static String hfName(String gguf) {
        return switch (gguf) {
            case "token_embd.weight" -> "model.embed_tokens.weight";
            case "output_norm.weight" -> "model.norm.weight";
            case "output.weight" -> "lm_head.weight";
            default -> {
                String[] p = gguf.split("\\.");
                String hf = switch (p[2]) {
                    case "attn_norm" -> "input_layernorm";
                    case "attn_q" -> "self_attn.q_proj";
                    case "attn_k" -> "self_attn.k_proj";
                    case "attn_v" -> "self_attn.v_proj";
                    case "attn_output" -> "self_attn.o_proj";
                    case "ffn_norm" -> "post_attention_layernorm";
                    case "ffn_gate" -> "mlp.gate_proj";
                    case "ffn_up" -> "mlp.up_proj";
                    case "ffn_down" -> "mlp.down_proj";
                    default -> throw new IllegalArgumentException(gguf);
                };
                yield "model.layers." + p[1] + "." + hf + ".weight";
            }
        };
    }

    static Map<String, Object> configJson() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("architectures", new String[] {"LlamaForCausalLM"});
        c.put("model_type", "llama");
        c.put("hidden_size", DIM);
        c.put("num_hidden_layers", LAYERS);
        c.put("num_attention_heads", HEADS);
        c.put("num_key_value_heads", KV_HEADS);
        c.put("intermediate_size", FFN);
        c.put("vocab_size", VOCAB);
        c.put("max_position_embeddings", 256);
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 500000.0);
        c.put("rope_scaling", Map.of("rope_type", "llama3", "factor", 8.0, "low_freq_factor", 1.0,
                "high_freq_factor", 4.0, "original_max_position_embeddings", 128));
        c.put("tie_word_embeddings", false);
        c.put("bos_token_id", 1);
        c.put("eos_token_id", new int[] {2, 3});
        return c;
    }

    static void writeJson(Path file, Object value) throws IOException {
        new ObjectMapper().writeValue(file.toFile(), value);
    }

    /** A safetensors file of the named (HF-named) tensors, stored as {@code dtype} (F32, F16 or BF16). */
    static void writeSafetensors(Path file, Map<String, Tensor> hfTensors, String dtype) throws IOException {
        GgmlType type = GgmlType.valueOf(dtype);
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("__metadata__", Map.of("format", "pt"));
        long offset = 0;
        for (Map.Entry<String, Tensor> e : hfTensors.entrySet()) {
            long bytes = type.bytesFor(e.getValue().values().length);
            header.put(e.getKey(), Map.of("dtype", dtype, "shape", e.getValue().hfShape(),
                    "data_offsets", new long[] {offset, offset + bytes}));
            offset += bytes;
        }
        writeSafetensorsRaw(file, new ObjectMapper().writeValueAsString(header), hfTensors, type, offset);
    }

    static void writeSafetensorsRaw(Path file, String headerJson, Map<String, Tensor> hfTensors, GgmlType type, long dataBytes)
            throws IOException {
        byte[] header = headerJson.getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[Math.toIntExact(8 + header.length + dataBytes)];
        ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).put(header);
        MemorySegment seg = MemorySegment.ofArray(out);
        long at = 8 + header.length;
        for (Tensor t : hfTensors.values()) {
            if (at >= out.length) break;
            Quant.quantize(type, t.values(), 0, t.values().length, seg, at);
            at += type.bytesFor(t.values().length);
        }
        Files.write(file, out);
    }

    /** HF names → tensors. */
    static Map<String, Tensor> hfTensors(Map<String, Tensor> ggufNamed) {
        Map<String, Tensor> hf = new LinkedHashMap<>();
        ggufNamed.forEach((k, v) -> hf.put(hfName(k), v));
        return hf;
    }
}
