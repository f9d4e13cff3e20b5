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

    static LayerWeights load(ModelWeights w, LlamaConfig c, int layer, Backend backend) {
        String p = "blk." + layer + ".";
        return new LayerWeights(
                backend.vector(vector(w, p + "attn_norm.weight", c.dim())),
                backend.matrix(matrix(w, p + "attn_q.weight", c.qDim(), c.dim())),
                backend.matrix(matrix(w, p + "attn_k.weight", c.kvDim(), c.dim())),
                backend.matrix(matrix(w, p + "attn_v.weight", c.kvDim(), c.dim())),
                backend.matrix(matrix(w, p + "attn_output.weight", c.dim(), c.qDim())),
                backend.vector(vector(w, p + "ffn_norm.weight", c.dim())),
                backend.matrix(matrix(w, p + "ffn_gate.weight", c.ffnDim(), c.dim())),
                backend.matrix(matrix(w, p + "ffn_up.weight", c.ffnDim(), c.dim())),
                backend.matrix(matrix(w, p + "ffn_down.weight", c.dim(), c.ffnDim())));
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
