package dev.kvasir.kernels;

/**
 * The all-reduce that joins the tensor-parallel ranks of one process: one {@link AllReduce} hook
 * per rank, each called by the thread that drives that rank, all of them concurrently.
 * Implementations: {@link #single()} for one rank, {@code cpu.CpuAllReduce} (shared memory) and
 * {@code cuda.NcclAllReduce} (NCCL, one communicator per device).
 */
public interface AllReduceGroup extends AutoCloseable {

    int worldSize();

    /** Rank {@code rank}'s hook; it returns once every rank has called its own with the same count. */
    AllReduce rank(int rank);

    /**
     * A rank failed: ranks waiting for it in a collective stop waiting and throw, where the
     * transport allows it (the CPU's does; NCCL's calls cannot be interrupted). Once every rank has
     * returned, {@link #recover()} makes the group usable again.
     */
    default void abort() {
    }

    /** After {@link #abort()}, once no rank is inside a collective: ready for the next step. */
    default void recover() {
    }

    @Override
    void close();

    /** One rank: its partial sums already are the sums. */
    static AllReduceGroup single() {
        return new AllReduceGroup() {
            @Override
            public int worldSize() {
                return 1;
            }

            @Override
            public AllReduce rank(int rank) {
                java.util.Objects.checkIndex(rank, 1);
                return AllReduce.NONE;
            }

            @Override
            public void close() {
            }
        };
    }
}
