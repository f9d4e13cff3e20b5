package dev.kvasir.kernels.cuda;

/**
 * Which tensor-parallel rank a {@link CudaBackend} is: rank r of a process's ranks drives device r.
 * The model decides what each rank holds (models {@code ShardPlan}: QKV, gate and up split by output
 * rows, attention output and down by input columns); the ranks' partial sums meet in
 * {@link NcclAllReduce}.
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
}
