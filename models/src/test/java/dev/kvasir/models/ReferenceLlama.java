package dev.kvasir.models;

import java.util.function.Function;

/**
 * A deliberately plain Llama forward pass in float64 for tests: whole-history K/V arrays, one token
 * at a time, one loop per equation, written from the llama2.c description and nothing shared with
 * the optimized path (its own RoPE frequencies, its own Llama 3 scaling).
 */
final class ReferenceLlama {

    private final LlamaConfig c;
    private final double[] embedding, outNorm, classifier;
    private final double[][] attnNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3;
    private final double[][][] keyCache, valueCache; // [layer][pos][kvDim]

    /** @param weights float values of each tensor by GGUF name */
    ReferenceLlama(LlamaConfig c, Function<String, float[]> weights) {
        this.c = c;
        int L = c.numLayers();
        embedding = d(weights.apply("token_embd.weight"));
        outNorm = d(weights.apply("output_norm.weight"));
        float[] out = c.tiedEmbeddings() ? null : weights.apply("output.weight");
        classifier = out == null ? embedding : d(out);
        attnNorm = new double[L][]; wq = new double[L][]; wk = new double[L][]; wv = new double[L][];
        wo = new double[L][]; ffnNorm = new double[L][]; w1 = new double[L][]; w2 = new double[L][]; w3 = new double[L][];
        for (int l = 0; l < L; l++) {
            String b = "blk." + l + ".";
            attnNorm[l] = d(weights.apply(b + "attn_norm.weight"));
            wq[l] = d(weights.apply(b + "attn_q.weight"));
            wk[l] = d(weights.apply(b + "attn_k.weight"));
            wv[l] = d(weights.apply(b + "attn_v.weight"));
            wo[l] = d(weights.apply(b + "attn_output.weight"));
            ffnNorm[l] = d(weights.apply(b + "ffn_norm.weight"));
            w1[l] = d(weights.apply(b + "ffn_gate.weight"));
            w2[l] = d(weights.apply(b + "ffn_down.weight"));
            w3[l] = d(weights.apply(b + "ffn_up.weight"));
        }
        keyCache = new double[L][c.contextLength()][];
        valueCache = new double[L][c.contextLength()][];
    }

    /** Logits after feeding {@code token} at position {@code pos} (positions must come in order from 0). */
    double[] forward(int token, int pos) {
        int dim = c.dim(), hs = c.headDim(), kvDim = c.kvDim();
        int groups = c.numHeads() / c.numKvHeads();
        double[] x = new double[dim];
        System.arraycopy(embedding, token * dim, x, 0, dim);
        for (int l = 0; l < c.numLayers(); l++) {
            // attention rmsnorm
            double[] xb = rmsnorm(x, attnNorm[l]);
            // qkv matmuls
            double[] q = matmul(wq[l], xb, c.qDim());
            double[] k = matmul(wk[l], xb, kvDim);
            double[] v = matmul(wv[l], xb, kvDim);
            // RoPE: rotate pairs of each head by pos * frequency
            rotate(q, pos);
            rotate(k, pos);
            keyCache[l][pos] = k;
            valueCache[l][pos] = v;
            // multihead attention over positions 0..pos
            double[] att = new double[c.qDim()];
            for (int h = 0; h < c.numHeads(); h++) {
                int kvh = h / groups;
                double[] scores = new double[pos + 1];
                for (int t = 0; t <= pos; t++) {
                    double s = 0;
                    for (int i = 0; i < hs; i++) s += q[h * hs + i] * keyCache[l][t][kvh * hs + i];
                    scores[t] = s / Math.sqrt(hs);
                }
                softmax(scores);
                for (int t = 0; t <= pos; t++) {
                    for (int i = 0; i < hs; i++) att[h * hs + i] += scores[t] * valueCache[l][t][kvh * hs + i];
                }
            }
            // output projection and residual
            double[] o = matmul(wo[l], att, dim);
            for (int i = 0; i < dim; i++) x[i] += o[i];
            // ffn rmsnorm, w2(silu(w1 x) * w3 x), residual
            xb = rmsnorm(x, ffnNorm[l]);
            double[] h1 = matmul(w1[l], xb, c.ffnDim());
            double[] h3 = matmul(w3[l], xb, c.ffnDim());
            for (int i = 0; i < h1.length; i++) h1[i] = h1[i] / (1 + Math.exp(-h1[i])) * h3[i];
            double[] down = matmul(w2[l], h1, dim);
            for (int i = 0; i < dim; i++) x[i] += down[i];
        }
        // final rmsnorm and classifier
        return matmul(classifier, rmsnorm(x, outNorm), c.vocabSize());
    }

    private void rotate(double[] v, int pos) {
        int hs = c.headDim();
        for (int h = 0; h < v.length / hs; h++) {
            for (int i = 0; i < hs / 2; i++) {
                double angle = pos * frequency(i);
                double cos = Math.cos(angle), sin = Math.sin(angle);
                int a = c.ropeStyle() == LlamaConfig.RopeStyle.NEOX ? h * hs + i : h * hs + 2 * i;
                int b = c.ropeStyle() == LlamaConfig.RopeStyle.NEOX ? a + hs / 2 : a + 1;
                double x0 = v[a], x1 = v[b];
                v[a] = x0 * cos - x1 * sin;
                v[b] = x0 * sin + x1 * cos;
            }
        }
    }

    /** theta^(-2i/hs), rescaled as Meta's Llama 3.1 apply_scaling when configured. */
    private double frequency(int i) {
        double f = Math.pow(c.ropeTheta(), -2.0 * i / c.headDim());
        LlamaConfig.RopeScaling s = c.ropeScaling();
        if (s == null) return f;
        double wavelen = 2 * Math.PI / f;
        double lowWavelen = s.originalContextLength() / s.lowFreqFactor();
        double highWavelen = s.originalContextLength() / s.highFreqFactor();
        if (wavelen < highWavelen) return f;
        if (wavelen > lowWavelen) return f / s.factor();
        double smooth = (s.originalContextLength() / wavelen - s.lowFreqFactor()) / (s.highFreqFactor() - s.lowFreqFactor());
        return (1 - smooth) * f / s.factor() + smooth * f;
    }

    private double[] rmsnorm(double[] x, double[] w) {
        double ss = 0;
        for (double v : x) ss += v * v;
        double inv = 1 / Math.sqrt(ss / x.length + c.rmsEps());
        double[] o = new double[x.length];
        for (int i = 0; i < x.length; i++) o[i] = w[i] * x[i] * inv;
        return o;
    }

    /** W (rows x in, row-major) times x. */
    private static double[] matmul(double[] w, double[] x, int rows) {
        double[] o = new double[rows];
        for (int r = 0; r < rows; r++) {
            double s = 0;
            for (int i = 0; i < x.length; i++) s += w[r * x.length + i] * x[i];
            o[r] = s;
        }
        return o;
    }

    private static void softmax(double[] x) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : x) max = Math.max(max, v);
        double sum = 0;
        for (int i = 0; i < x.length; i++) {
            x[i] = Math.exp(x[i] - max);
            sum += x[i];
        }
        for (int i = 0; i < x.length; i++) x[i] /= sum;
    }

    private static double[] d(float[] f) {
        double[] o = new double[f.length];
        for (int i = 0; i < f.length; i++) o[i] = f[i];
        return o;
    }
}
