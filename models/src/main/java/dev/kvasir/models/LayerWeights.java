package dev.kvasir.models;

import dev.kvasir.kernels.Backend;
import dev.kvasir.kernels.DeviceMatrix;
import dev.kvasir.kernels.DeviceTensor;
import dev.kvasir.kernels.WeightTensor;

/** One transformer block's weights, prepared on the backend and checked against the config. */
record LayerWeights(DeviceTensor attnNorm, DeviceMatrix wq, DeviceMatrix wk, DeviceMatrix wv, DeviceMatrix wo,
                    DeviceTensor ffnNorm, DeviceMatrix gate, DeviceMatrix up, DeviceMatrix down,
                    DeviceMatrix[] qkv, DeviceMatrix[] gateUp) {

    LayerWeights(DeviceTensor attnNorm, DeviceMatrix wq, DeviceMatrix wk, DeviceMatrix wv, DeviceMatrix wo,
                 DeviceTensor ffnNorm, DeviceMatrix gate, DeviceMatrix up, DeviceMatrix down) {
        // The projections sharing an input, for one dispatch each (Backend.matmuls).
        this(attnNorm, wq, wk, wv, wo, ffnNorm, gate, up, down, new DeviceMatrix[] {wq, wk, wv}, new DeviceMatrix[] {gate, up});
    }

    /**
     * Layer {@code layer}'s weights as {@code shard} holds them: its query and KV heads' rows of Q,
     * K and V and its MLP columns' rows of gate and up (column-parallel: row ranges, views of the
     * file), and the same heads' and columns' input columns of O and down (row-parallel). The whole
     * matrices for a single rank.
     */
    static LayerWeights load(ModelWeights w, LlamaConfig c, RankShard shard, int layer, Backend backend) {
        String p = "blk." + layer + ".";
        int hd = c.headDim();
        int q0 = shard.firstHead() * hd, q1 = q0 + shard.heads() * hd;
        int kv0 = shard.firstKvHead() * hd, kv1 = kv0 + shard.kvHeads() * hd;
        return new LayerWeights(
                backend.vector(vector(w, p + "attn_norm.weight", c.dim())),
                backend.matrix(matrix(w, p + "attn_q.weight", c.qDim(), c.dim()).rows(q0, q1)),
                backend.matrix(matrix(w, p + "attn_k.weight", c.kvDim(), c.dim()).rows(kv0, kv1)),
                backend.matrix(matrix(w, p + "attn_v.weight", c.kvDim(), c.dim()).rows(kv0, kv1)),
                columns(backend, matrix(w, p + "attn_output.weight", c.dim(), c.qDim()), q0, q1),
                backend.vector(vector(w, p + "ffn_norm.weight", c.dim())),
                backend.matrix(matrix(w, p + "ffn_gate.weight", c.ffnDim(), c.dim()).rows(shard.ffnFrom(), shard.ffnTo())),
                backend.matrix(matrix(w, p + "ffn_up.weight", c.ffnDim(), c.dim()).rows(shard.ffnFrom(), shard.ffnTo())),
                columns(backend, matrix(w, p + "ffn_down.weight", c.dim(), c.ffnDim()), shard.ffnFrom(), shard.ffnTo()));
    }

    /** Input columns {@code [from, to)} of a row-parallel matrix; the matrix itself when that is all of them. */
    private static DeviceMatrix columns(Backend backend, WeightTensor t, int from, int to) {
        return from == 0 && to == t.cols() ? backend.matrix(t) : backend.matrix(t, from, to);
    }

    static WeightTensor matrix(ModelWeights w, String name, int rows, int cols) {
        WeightTensor t = w.tensor(name);
        if (t.cols() != cols || t.rows() != rows) {
            throw new IllegalArgumentException("tensor " + name + " is " + t.cols() + " x " + t.rows()
                    + " (in x out) but the config needs " + cols + " x " + rows);
        }
        return t;
    }

    static WeightTensor vector(ModelWeights w, String name, int size) {
        WeightTensor t = w.tensor(name);
        if (t.elements() != size) {
            throw new IllegalArgumentException("tensor " + name + " has " + t.elements() + " values but the config needs " + size);
        }
        return t;
    }
}
