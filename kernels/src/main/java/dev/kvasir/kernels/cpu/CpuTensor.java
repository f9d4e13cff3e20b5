package dev.kvasir.kernels.cpu;

import dev.kvasir.kernels.DeviceTensor;

/** A CPU backend tensor: a heap float array. */
final class CpuTensor implements DeviceTensor {

    final float[] data;

    CpuTensor(int size) {
        data = new float[size];
    }

    @Override
    public long size() {
        return data.length;
    }

    static float[] of(DeviceTensor t) {
        if (t instanceof CpuTensor c) return c.data;
        throw new IllegalArgumentException("not a CPU tensor: " + t);
    }
}
