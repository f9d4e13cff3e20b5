package dev.kvasir.models.loader;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.WeightTensor;
import dev.kvasir.kernels.quant.Quant;
import dev.kvasir.models.LlamaConfig;

import java.util.Map;

/** {@link LlamaConfig} from the {@code llama.*} and {@code tokenizer.ggml.*} metadata of a GGUF file. */
final class GgufConfig {

    /** Token texts that end a turn in the chat formats Kvasir knows (Llama 3, ChatML, Phi-3). */
    static final String[] EOT_TEXTS = {"<|eot_id|>", "<|im_end|>", "<|end|>"};

    private GgufConfig() {}

    static LlamaConfig read(GgufFile gguf) {
        String arch = gguf.getString("general.architecture");
        if (arch == null) throw new ModelFormatException(gguf.path(), "missing metadata general.architecture");
        if (!arch.equals("llama")) {
            throw new ModelFormatException(gguf.path(), "unsupported architecture \"" + arch + "\"; Kvasir runs llama models");
        }
        String p = arch + ".";
        int dim = requiredInt(gguf, p + "embedding_length");
        int layers = requiredInt(gguf, p + "block_count");
        int heads = requiredInt(gguf, p + "attention.head_count");
        int kvHeads = intKey(gguf, p + "attention.head_count_kv", heads);
        int ffn = requiredInt(gguf, p + "feed_forward_length");
        int headDim = intKey(gguf, p + "attention.key_length", heads > 0 ? dim / heads : 0);
        int context = intKey(gguf, p + "context_length", 2048);
        float eps = (float) gguf.getDouble(p + "attention.layer_norm_rms_epsilon", 1e-5);
        float theta = (float) gguf.getDouble(p + "rope.freq_base", 10000);
        // Partial rotary embeddings (only the first rope.dimension_count dims of each head rotated)
        // would run as full RoPE and give silently wrong logits: refuse them instead.
        int ropeDims = intKey(gguf, p + "rope.dimension_count", headDim);
        if (ropeDims != headDim) {
            throw new ModelFormatException(gguf.path(), "metadata " + p + "rope.dimension_count = " + ropeDims
                    + " rotates part of each " + headDim + "-dim head; Kvasir supports full-head RoPE only");
        }

        String[] tokens = gguf.metadata().get("tokenizer.ggml.tokens") instanceof String[] t ? t : null;
        int vocab = intKey(gguf, p + "vocab_size", -1);
        if (vocab < 0 && tokens != null) vocab = tokens.length;
        WeightTensor embd = gguf.find("token_embd.weight");
        if (vocab < 0 && embd != null && embd.shape().length == 2) vocab = Math.toIntExact(embd.shape()[1]);

        boolean tied = gguf.find("output.weight") == null;
        int bos = tokenId(gguf, "tokenizer.ggml.bos_token_id", vocab);
        int eos = tokenId(gguf, "tokenizer.ggml.eos_token_id", vocab);
        int eot = tokenId(gguf, "tokenizer.ggml.eot_token_id", vocab);
        if (eot < 0 && tokens != null) eot = findEot(tokens);

        try {
            return new LlamaConfig(dim, layers, heads, kvHeads, headDim, ffn, vocab, context, eps, theta,
                    ropeScaling(gguf, p, headDim, theta), LlamaConfig.RopeStyle.NORMAL, tied, bos, eos, eot);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(gguf.path(), e.getMessage(), e);
        }
    }

    static int findEot(String[] tokens) {
        for (String text : EOT_TEXTS) {
            for (int i = tokens.length - 1; i >= 0; i--) {
                if (text.equals(tokens[i])) return i;
            }
        }
        return -1;
    }

    /**
     * Llama 3.1 style scaling: from {@code rope.scaling.*} keys when the type says llama3, else
     * reconstructed from a {@code rope_freqs.weight} tensor (the per-frequency divisors llama.cpp's
     * converter stores instead), checked value by value so an unknown scheme is refused, not guessed.
     */
    private static LlamaConfig.RopeScaling ropeScaling(GgufFile gguf, String p, int headDim, float theta) {
        String type = gguf.getString(p + "rope.scaling.type");
        float factor = (float) gguf.getDouble(p + "rope.scaling.factor", 0);
        float low = (float) gguf.getDouble(p + "rope.scaling.low_freq_factor", 1);
        float high = (float) gguf.getDouble(p + "rope.scaling.high_freq_factor", 4);
        int original = intKey(gguf, p + "rope.scaling.original_context_length", 8192);
        if (type != null && !type.equals("none") && !type.equals("llama3") && factor != 1 && factor != 0) {
            throw new ModelFormatException(gguf.path(), "unsupported RoPE scaling type \"" + type + "\" (Kvasir supports llama3)");
        }
        WeightTensor freqs = gguf.find("rope_freqs.weight");
        if (freqs == null) {
            return "llama3".equals(type) && factor > 0 ? new LlamaConfig.RopeScaling(factor, low, high, original) : null;
        }
        if (freqs.type() != GgmlType.F32 || freqs.elements() != headDim / 2) {
            throw new ModelFormatException(gguf.path(), "tensor rope_freqs.weight should be F32 [" + headDim / 2
                    + "], got " + freqs.type() + " " + java.util.Arrays.toString(freqs.shape()));
        }
        float[] divisors = Quant.dequantize(freqs);
        float max = 1;
        for (float d : divisors) max = Math.max(max, d);
        if (max == 1) return null;
        if (factor <= 0) factor = max;
        float[] expected = llama3Divisors(headDim, theta, factor, low, high, original);
        for (int i = 0; i < divisors.length; i++) {
            if (Math.abs(divisors[i] - expected[i]) > 1e-3f * expected[i]) {
                throw new ModelFormatException(gguf.path(), "tensor rope_freqs.weight does not match Llama 3 RoPE scaling (factor "
                        + factor + ", low " + low + ", high " + high + ", original context " + original + ") at index " + i
                        + ": " + divisors[i] + " vs " + expected[i]);
            }
        }
        return new LlamaConfig.RopeScaling(factor, low, high, original);
    }

    /** The divisor of each RoPE frequency under Llama 3 scaling, as llama.cpp's converter computes it. */
    static float[] llama3Divisors(int headDim, float theta, float factor, float low, float high, int original) {
        float[] out = new float[headDim / 2];
        double lowWavelen = original / low;
        double highWavelen = original / high;
        for (int i = 0; i < out.length; i++) {
            double freq = 1.0 / Math.pow(theta, 2.0 * i / headDim);
            double wavelen = 2 * Math.PI / freq;
            if (wavelen < highWavelen) {
                out[i] = 1;
            } else if (wavelen > lowWavelen) {
                out[i] = factor;
            } else {
                double smooth = (original / wavelen - low) / (high - low);
                out[i] = (float) (1 / ((1 - smooth) / factor + smooth));
            }
        }
        return out;
    }

    private static int requiredInt(GgufFile gguf, String key) {
        if (!gguf.metadata().containsKey(key)) throw new ModelFormatException(gguf.path(), "missing metadata " + key);
        return intKey(gguf, key, 0);
    }

    private static int intKey(GgufFile gguf, String key, int fallback) {
        long v = gguf.getLong(key, fallback);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new ModelFormatException(gguf.path(), "metadata " + key + " = " + v + " is out of range");
        }
        return (int) v;
    }

    /** A special-token id, or -1 when absent or not a valid id (4294967295 means "none" in GGUF). */
    private static int tokenId(GgufFile gguf, String key, int vocab) {
        long v = gguf.getLong(key, -1);
        return v >= 0 && v < vocab ? (int) v : -1;
    }

    static String chatTemplate(Map<String, Object> metadata) {
        return metadata.get("tokenizer.chat_template") instanceof String s ? s : null;
    }
}
