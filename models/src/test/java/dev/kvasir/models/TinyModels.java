package dev.kvasir.models;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.WeightTensor;
import dev.kvasir.kernels.quant.Quant;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/** Random-weight Llama models built in memory for tests: weights stored in any type, read back as floats. */
final class TinyModels {

    private TinyModels() {}

    /** A config with the given shape (theta 10000, no scaling, eps 1e-5). */
    static LlamaConfig config(int dim, int layers, int heads, int kvHeads, int ffn, int vocab,
                              LlamaConfig.RopeStyle style, LlamaConfig.RopeScaling scaling, boolean tied) {
        return new LlamaConfig(dim, layers, heads, kvHeads, dim / heads, ffn, vocab, 256, 1e-5f, 10000f,
                scaling, style, tied, 1, 2, -1);
    }

    /** Weights of {@code c} with every matrix stored as {@code type} (norms stay F32, as in GGUF files). */
    static Weights random(LlamaConfig c, GgmlType type, long seed) {
        return random(c, name -> name.endsWith("_norm.weight") ? GgmlType.F32 : type, seed);
    }

    /**
     * The tensor types of llama.cpp's Q4_K_M files (llama-quantize): Q6_K for the classifier, the
     * value projections and the MLP down projections (of half the layers there; all of them here),
     * Q4_K for every other matrix, the embedding included.
     */
    static GgmlType q4km(String name) {
        if (name.endsWith("_norm.weight")) return GgmlType.F32;
        return name.equals("output.weight") || name.endsWith("attn_v.weight") || name.endsWith("ffn_down.weight")
                ? GgmlType.Q6_K : GgmlType.Q4_K;
    }

    /** Weights of {@code c}, each tensor stored as {@code typeOf(its name)}. */
    static Weights random(LlamaConfig c, java.util.function.Function<String, GgmlType> typeOf, long seed) {
        Random r = new Random(seed);
        Weights w = new Weights();
        w.put("token_embd.weight", typeOf.apply("token_embd.weight"), c.vocabSize(), c.dim(), gaussian(r, c.vocabSize() * c.dim(), 1f));
        for (int l = 0; l < c.numLayers(); l++) {
            String b = "blk." + l + ".";
            w.put(b + "attn_norm.weight", typeOf.apply(b + "attn_norm.weight"), 1, c.dim(), norm(r, c.dim()));
            w.put(b + "attn_q.weight", typeOf.apply(b + "attn_q.weight"), c.qDim(), c.dim(), gaussian(r, c.qDim() * c.dim(), scale(c.dim())));
            w.put(b + "attn_k.weight", typeOf.apply(b + "attn_k.weight"), c.kvDim(), c.dim(), gaussian(r, c.kvDim() * c.dim(), scale(c.dim())));
            w.put(b + "attn_v.weight", typeOf.apply(b + "attn_v.weight"), c.kvDim(), c.dim(), gaussian(r, c.kvDim() * c.dim(), scale(c.dim())));
            w.put(b + "attn_output.weight", typeOf.apply(b + "attn_output.weight"), c.dim(), c.qDim(), gaussian(r, c.dim() * c.qDim(), scale(c.qDim())));
            w.put(b + "ffn_norm.weight", typeOf.apply(b + "ffn_norm.weight"), 1, c.dim(), norm(r, c.dim()));
            w.put(b + "ffn_gate.weight", typeOf.apply(b + "ffn_gate.weight"), c.ffnDim(), c.dim(), gaussian(r, c.ffnDim() * c.dim(), scale(c.dim())));
            w.put(b + "ffn_up.weight", typeOf.apply(b + "ffn_up.weight"), c.ffnDim(), c.dim(), gaussian(r, c.ffnDim() * c.dim(), scale(c.dim())));
            w.put(b + "ffn_down.weight", typeOf.apply(b + "ffn_down.weight"), c.dim(), c.ffnDim(), gaussian(r, c.dim() * c.ffnDim(), scale(c.ffnDim())));
        }
        w.put("output_norm.weight", typeOf.apply("output_norm.weight"), 1, c.dim(), norm(r, c.dim()));
        if (!c.tiedEmbeddings()) {
            w.put("output.weight", typeOf.apply("output.weight"), c.vocabSize(), c.dim(), gaussian(r, c.vocabSize() * c.dim(), scale(c.dim())));
        }
        return w;
    }

    /**
     * {@code source}'s tensors with every matrix whose rows are whole blocks of {@code type} stored
     * as {@code type}; the rest (norms, rows of other lengths) as F32.
     */
    static Weights requantized(ModelWeights source, GgmlType type) {
        Weights w = new Weights();
        for (String name : source.names()) {
            WeightTensor t = source.tensor(name);
            boolean matrix = t.shape().length == 2;
            GgmlType as = matrix && t.cols() % type.blockSize == 0 ? type : GgmlType.F32;
            w.put(name, as, matrix ? t.rows() : 1, t.cols(), Quant.dequantize(t));
        }
        return w;
    }

    private static float scale(int fanIn) {
        return (float) (1.5 / Math.sqrt(fanIn));
    }

    private static float[] gaussian(Random r, int n, float std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian() * std;
        return v;
    }

    private static float[] norm(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = 1f + 0.2f * (float) r.nextGaussian();
        return v;
    }

    /** In-memory {@link ModelWeights}: tensors in an arena, plus the float values they were made from. */
    static final class Weights implements ModelWeights {
        private final Arena arena = Arena.ofShared();
        private final Map<String, WeightTensor> tensors = new LinkedHashMap<>();
        final Map<String, float[]> original = new LinkedHashMap<>();

        void put(String name, GgmlType type, int rows, int cols, float[] values) {
            long[] shape = rows == 1 ? new long[] {cols} : new long[] {cols, rows};
            MemorySegment data = arena.allocate(type.bytesFor((long) rows * cols), 64);
            if (type == GgmlType.Q4_K || type == GgmlType.Q6_K) {
                // Kvasir writes no K-quants: random blocks of about the values' spread, which are then the originals.
                KQuantBlocks.fill(type, data, standardDeviation(values), new Random(name.hashCode()));
                tensors.put(name, new WeightTensor(name, type, shape, data));
                original.put(name, Quant.dequantize(tensors.get(name)));
                return;
            }
            for (int row = 0; row < rows; row++) {
                Quant.quantize(type, values, row * cols, cols, data, type.bytesFor(cols) * row);
            }
            tensors.put(name, new WeightTensor(name, type, shape, data));
            original.put(name, values);
        }

        private static float standardDeviation(float[] v) {
            double ss = 0;
            for (float x : v) ss += (double) x * x;
            return (float) Math.sqrt(ss / v.length);
        }

        /** The values as stored (after quantization), for the reference forward pass. */
        float[] stored(String name) {
            return Quant.dequantize(tensor(name));
        }

        @Override
        public WeightTensor tensor(String name) {
            WeightTensor t = tensors.get(name);
            if (t == null) throw new IllegalArgumentException("no tensor " + name);
            return t;
        }

        @Override
        public WeightTensor find(String name) {
            return tensors.get(name);
        }

        @Override
        public Set<String> names() {
            return tensors.keySet();
        }

        @Override
        public void close() {
            arena.close();
        }
    }
}
