package dev.kvasir.kernels.cpu;

import dev.kvasir.kernels.AllReduce;
import dev.kvasir.kernels.AllReduceGroup;
import jdk.incubator.vector.FloatVector;

import java.util.Arrays;
import java.util.Objects;

import static dev.kvasir.kernels.cpu.WeightLoads.F;
import static dev.kvasir.kernels.cpu.WeightLoads.L;

/**
 * The in-process all-reduce of CPU tensor-parallel ranks (one {@link CpuBackend} per rank, each
 * driven by its own thread): sum over shared memory in two barrier phases. Each rank publishes
 * its tensor; after the first barrier, rank r adds up slice r of every rank's tensor (always in
 * rank order, so every rank ends with bit-identical sums) into a shared buffer; after the second,
 * each copies the whole sum back into its own tensor. The shared buffer is next written only
 * after the next call's first barrier, which no rank passes before every rank has copied.
 */
public final class CpuAllReduce implements AllReduceGroup {

    private final int worldSize;
    private final RankBarrier barrier;
    private final float[][] inputs;
    private final AllReduce[] hooks;
    private float[] sum = new float[0];

    public CpuAllReduce(int worldSize) {
        if (worldSize < 1) throw new IllegalArgumentException("tensor-parallel size must be at least 1: " + worldSize);
        this.worldSize = worldSize;
        this.barrier = new RankBarrier(worldSize);
        this.inputs = new float[worldSize][];
        this.hooks = new AllReduce[worldSize];
        for (int r = 0; r < worldSize; r++) {
            int rank = r;
            hooks[r] = worldSize == 1 ? AllReduce.NONE : (tensor, count) -> sumInPlace(rank, CpuTensor.of(tensor), count);
        }
    }

    @Override
    public int worldSize() {
        return worldSize;
    }

    @Override
    public AllReduce rank(int rank) {
        return hooks[Objects.checkIndex(rank, worldSize)];
    }

    private void sumInPlace(int rank, float[] values, long count) {
        int n = Math.toIntExact(count);
        if (n > values.length) throw new IllegalArgumentException("all-reduce of " + n + " floats on a tensor of " + values.length);
        // Read before the first barrier, while no rank can be growing the buffer: every rank decides alike.
        boolean grow = n > sum.length;
        inputs[rank] = values;
        barrier.await(rank);
        if (grow) {
            // Every rank has the same count, so all of them take this extra barrier together.
            if (rank == 0) sum = new float[n];
            barrier.await(rank);
        }
        float[] s = sum;
        int per = ((n + worldSize - 1) / worldSize + L - 1) / L * L;
        int from = Math.min(n, rank * per), to = Math.min(n, from + per);
        int bound = from + (to - from) / L * L;
        int i = from;
        for (; i < bound; i += L) {
            FloatVector acc = FloatVector.fromArray(F, inputs[0], i);
            for (int r = 1; r < worldSize; r++) acc = acc.add(FloatVector.fromArray(F, inputs[r], i));
            acc.intoArray(s, i);
        }
        for (; i < to; i++) {
            float acc = inputs[0][i];
            for (int r = 1; r < worldSize; r++) acc += inputs[r][i];
            s[i] = acc;
        }
        barrier.await(rank);
        System.arraycopy(s, 0, values, 0, n);
        inputs[rank] = null;
    }

    @Override
    public void abort() {
        barrier.abort();
    }

    @Override
    public void recover() {
        barrier.reset();
        Arrays.fill(inputs, null);
    }

    @Override
    public void close() {
        abort();
    }
}
