package dev.kvasir.models.loader;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.models.ModelLocator;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes random-weight Llama models in GGUF (for benchmarks and tests), shaped like real ones and
 * loadable by llama.cpp: {@code scripts/make-random-model --shape smol135|tiny1b|tiny --type
 * f32|f16|q8_0|q4_0 --out FILE [--seed N]}. Weights are Gaussian (std 0.02), norms about 1; the same
 * seed gives the same file. Tensors are generated row by row while writing, so any size fits the heap.
 */
public final class RandomModelMaker {

    /** A model shape; {@code gpt2} picks the synthetic byte-level BPE vocabulary, else the Llama 2 one. */
    public record Shape(String name, int dim, int layers, int heads, int kvHeads, int ffn, int vocab, float ropeTheta,
                        int contextLength, boolean gpt2, boolean tiedEmbeddings) {}

    public static final Map<String, Shape> SHAPES = Map.of(
            "smol135", new Shape("smol135", 576, 30, 9, 3, 1536, 49152, 100000f, 8192, true, true),
            "tiny1b", new Shape("tiny1b", 2048, 22, 32, 4, 5632, 32000, 10000f, 2048, false, false),
            "tiny", new Shape("tiny", 64, 2, 4, 2, 128, 32000, 10000f, 2048, false, false),
            // Tiny dimensions with smol135's byte-level BPE vocabulary: tests of the gpt2 tokenizer path end to end.
            "tiny-bpe", new Shape("tiny-bpe", 64, 2, 4, 2, 128, 49152, 100000f, 2048, true, true));

    /** The file the Llama 2 vocabulary (tokens, scores, types) is copied from. */
    static final String LLAMA_VOCAB_SOURCE = "llama-2-tiny-random.gguf";

    static final String CHATML_TEMPLATE = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
            + "{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}"
            + "{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    private static final float STD = 0.02f;

    private RandomModelMaker() {}

    public static void main(String[] args) {
        String shape = null, type = null, out = null;
        long seed = 42;
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--shape" -> { shape = value; i++; }
                case "--type" -> { type = value; i++; }
                case "--out" -> { out = value; i++; }
                case "--seed" -> { seed = Long.parseLong(value); i++; }
                case "-h", "--help" -> { usage(null); return; }
                default -> usage("unknown argument " + args[i]);
            }
        }
        if (shape == null || type == null || out == null) usage("--shape, --type and --out are required");
        Shape s = SHAPES.get(shape);
        if (s == null) usage("unknown shape " + shape + " (one of " + SHAPES.keySet() + ")");
        GgmlType t = switch (type.toLowerCase(Locale.ROOT)) {
            case "f32" -> GgmlType.F32;
            case "f16" -> GgmlType.F16;
            case "q8_0" -> GgmlType.Q8_0;
            case "q4_0" -> GgmlType.Q4_0;
            default -> { usage("unknown type " + type + " (f32, f16, q8_0, q4_0)"); yield null; }
        };
        long start = System.nanoTime();
        make(s, t, seed, Path.of(out));
        System.err.printf("wrote %s: %s %s, seed %d, in %.1f s%n", out, s.name(), t, seed, (System.nanoTime() - start) / 1e9);
    }

    private static void usage(String error) {
        String text = "usage: make-random-model --shape smol135|tiny1b|tiny|tiny-bpe --type f32|f16|q8_0|q4_0 --out FILE [--seed N]";
        if (error == null) {
            System.out.println(text);
            return;
        }
        System.err.println("make-random-model: " + error + "\n" + text);
        System.exit(2);
    }

    public static void make(Shape s, GgmlType type, long seed, Path out) {
        GgufWriter w = new GgufWriter();
        int headDim = s.dim() / s.heads();
        w.put("general.architecture", "llama")
                .put("general.name", "kvasir-random-" + s.name())
                .put("general.file_type", GgufValueType.UINT32, fileType(type));
        if (type == GgmlType.Q8_0 || type == GgmlType.Q4_0) w.put("general.quantization_version", GgufValueType.UINT32, 2);
        w.put("llama.context_length", GgufValueType.UINT32, s.contextLength())
                .put("llama.embedding_length", GgufValueType.UINT32, s.dim())
                .put("llama.block_count", GgufValueType.UINT32, s.layers())
                .put("llama.feed_forward_length", GgufValueType.UINT32, s.ffn())
                .put("llama.attention.head_count", GgufValueType.UINT32, s.heads())
                .put("llama.attention.head_count_kv", GgufValueType.UINT32, s.kvHeads())
                .put("llama.attention.layer_norm_rms_epsilon", 1e-5f)
                .put("llama.rope.freq_base", s.ropeTheta())
                .put("llama.rope.dimension_count", GgufValueType.UINT32, headDim)
                .put("llama.vocab_size", GgufValueType.UINT32, s.vocab());
        if (s.gpt2()) putGpt2Tokenizer(w, s.vocab());
        else putLlamaTokenizer(w, s.vocab());

        int[] index = {0};
        matrix(w, "token_embd.weight", type, s.dim(), s.vocab(), seed, index);
        for (int l = 0; l < s.layers(); l++) {
            String b = "blk." + l + ".";
            norm(w, b + "attn_norm.weight", s.dim(), seed, index);
            matrix(w, b + "attn_q.weight", type, s.dim(), s.heads() * headDim, seed, index);
            matrix(w, b + "attn_k.weight", type, s.dim(), s.kvHeads() * headDim, seed, index);
            matrix(w, b + "attn_v.weight", type, s.dim(), s.kvHeads() * headDim, seed, index);
            matrix(w, b + "attn_output.weight", type, s.heads() * headDim, s.dim(), seed, index);
            norm(w, b + "ffn_norm.weight", s.dim(), seed, index);
            matrix(w, b + "ffn_gate.weight", type, s.dim(), s.ffn(), seed, index);
            matrix(w, b + "ffn_up.weight", type, s.dim(), s.ffn(), seed, index);
            matrix(w, b + "ffn_down.weight", type, s.ffn(), s.dim(), seed, index);
        }
        norm(w, "output_norm.weight", s.dim(), seed, index);
        if (!s.tiedEmbeddings()) matrix(w, "output.weight", type, s.dim(), s.vocab(), seed, index);
        w.write(out);
    }

    /** llama.cpp's LLAMA_FTYPE numbers. */
    private static int fileType(GgmlType type) {
        return switch (type) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q8_0 -> 7;
            case BF16 -> 32;
            default -> throw new IllegalArgumentException("no random models of type " + type);
        };
    }

    /** A Gaussian matrix [cols, rows]; each row has its own generator, so rows can be made in parallel. */
    private static void matrix(GgufWriter w, String name, GgmlType type, int cols, int rows, long seed, int[] index) {
        long tensorSeed = seed * 0x9E3779B97F4A7C15L + index[0]++;
        w.tensor(name, type, new long[] {cols, rows}, (row, values) -> {
            SplittableRandom r = new SplittableRandom(tensorSeed ^ (row * 0xC2B2AE3D27D4EB4FL));
            for (int i = 0; i < values.length; i++) values[i] = (float) r.nextGaussian() * STD;
        });
    }

    /** An RMSNorm weight: about 1, a little noise. Norms stay F32, as llama.cpp keeps them. */
    private static void norm(GgufWriter w, String name, int dim, long seed, int[] index) {
        long tensorSeed = seed * 0x9E3779B97F4A7C15L + index[0]++;
        w.tensor(name, GgmlType.F32, new long[] {dim}, (row, values) -> {
            SplittableRandom r = new SplittableRandom(tensorSeed);
            for (int i = 0; i < values.length; i++) values[i] = 1f + (float) r.nextGaussian() * STD;
        });
    }

    private static void putGpt2Tokenizer(GgufWriter w, int vocab) {
        Gpt2Vocab v = Gpt2Vocab.build(vocab);
        w.put("tokenizer.ggml.model", "gpt2")
                .put("tokenizer.ggml.pre", "smollm")
                .put("tokenizer.ggml.tokens", v.tokens())
                .put("tokenizer.ggml.token_type", v.tokenTypes())
                .put("tokenizer.ggml.merges", v.merges())
                .put("tokenizer.ggml.bos_token_id", GgufValueType.UINT32, 1)
                .put("tokenizer.ggml.eos_token_id", GgufValueType.UINT32, 2)
                .put("tokenizer.ggml.unknown_token_id", GgufValueType.UINT32, 0)
                .put("tokenizer.ggml.padding_token_id", GgufValueType.UINT32, 2)
                .put("tokenizer.ggml.add_bos_token", false)
                .put("tokenizer.chat_template", CHATML_TEMPLATE);
    }

    /** The Llama 2 SentencePiece vocabulary, copied key by key from the test-model file. */
    private static void putLlamaTokenizer(GgufWriter w, int vocab) {
        try (GgufFile source = GgufFile.open(ModelLocator.testModel(LLAMA_VOCAB_SOURCE))) {
            for (Map.Entry<String, Object> e : source.metadata().entrySet()) {
                if (!e.getKey().startsWith("tokenizer.")) continue;
                // GGUF stores token ids (and other tokenizer integers) as uint32; llama.cpp checks the type.
                if (e.getValue() instanceof Long id) w.put(e.getKey(), GgufValueType.UINT32, id);
                else w.put(e.getKey(), e.getValue());
            }
            int n = ((String[]) source.metadata().get("tokenizer.ggml.tokens")).length;
            if (n != vocab) throw new IllegalStateException(LLAMA_VOCAB_SOURCE + " has " + n + " tokens, the shape needs " + vocab);
        }
    }
}
