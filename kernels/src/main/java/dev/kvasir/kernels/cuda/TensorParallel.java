package dev.kvasir.kernels.cuda;

import dev.kvasir.kernels.WeightTensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Tensor parallelism inside a node, Megatron-style: one backend per device rank; QKV, gate and up
 * projections split by output rows (column-parallel: each rank computes its heads and its MLP
 * columns), O and down split by input columns (row-parallel: each rank's partial sums are added by
 * an all-reduce after attention and after the MLP: {@link dev.kvasir.kernels.AllReduce}, which the
 * model calls, and {@link NcclAllReduce} on CUDA).
 *
 * @param rank      this backend's rank, 0 .. worldSize - 1 (also its device ordinal)
 * @param worldSize number of ranks
 */
public record TensorParallel(int rank, int worldSize) {

    public static final TensorParallel SINGLE = new TensorParallel(0, 1);

    public TensorParallel {
        if (worldSize < 1 || rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("invalid tensor-parallel rank " + rank + " of " + worldSize);
        }
    }

    /**
     * Rows {@code [rank * rows / worldSize, (rank + 1) * rows / worldSize)} of a matrix: a
     * column-parallel shard. Rows are contiguous in the file, so this is a view, not a copy.
     */
    public WeightTensor columnShard(WeightTensor w) {
        int rows = w.rows();
        requireDivisible(rows, "rows", w);
        int part = rows / worldSize;
        long rowBytes = w.type().bytesFor(w.cols());
        long[] shape = w.shape();
        if (shape.length != 2) throw new IllegalArgumentException("tensor " + w.name() + " is not a matrix");
        shape[1] = part;
        return new WeightTensor(w.name(), w.type(), shape, w.data().asSlice(rank * part * rowBytes, part * rowBytes));
    }

    /**
     * Columns {@code [rank * cols / worldSize, ...)} of every row: a row-parallel shard, copied
     * into {@code arena} since the pieces are strided. For block-quantised types the split must
     * fall on block boundaries.
     */
    public WeightTensor rowShard(WeightTensor w, Arena arena) {
        int cols = w.cols();
        requireDivisible(cols, "columns", w);
        int part = cols / worldSize;
        if (part % w.type().blockSize != 0) {
            throw new IllegalArgumentException("tensor " + w.name() + ": " + cols + " columns split " + worldSize
                    + " ways is not a multiple of " + w.type() + "'s block of " + w.type().blockSize);
        }
        long rowBytes = w.type().bytesFor(cols);
        long partBytes = w.type().bytesFor(part);
        int rows = w.rows();
        MemorySegment out = arena.allocate(partBytes * rows, 64);
        for (long r = 0; r < rows; r++) {
            MemorySegment.copy(w.data(), r * rowBytes + rank * partBytes, out, r * partBytes, partBytes);
        }
        long[] shape = w.shape();
        shape[0] = part;
        return new WeightTensor(w.name(), w.type(), shape, out);
    }

    private void requireDivisible(int n, String what, WeightTensor w) {
        if (n % worldSize != 0) {
            throw new IllegalArgumentException("tensor " + w.name() + ": " + n + " " + what + " do not split evenly over "
                    + worldSize + " ranks");
        }
    }
}
