package dev.kvasir.kernels;

/**
 * Tensor parallelism's hook: sums a tensor over all ranks in place. The model calls it on the
 * row-parallel projections' partial results (attention output, MLP down) before each residual add,
 * so every rank continues with the full sum. {@link #NONE} for a single rank, where the partial sum
 * already is the sum; NCCL's all-reduce on CUDA ({@code cuda.NcclAllReduce}).
 */
@FunctionalInterface
public interface AllReduce {

    /** Replaces the first {@code count} values of {@code tensor} with their sum over all ranks. */
    void sumInPlace(DeviceTensor tensor, long count);

    /** A single rank's all-reduce: its own values are already the sum. */
    AllReduce NONE = (tensor, count) -> { };
}
