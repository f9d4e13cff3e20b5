package dev.kvasir.kernels;

/**
 * How a GPU's memory is shared out, vLLM's way: of {@code utilization} x total memory, the weights
 * and the activation workspace (the peak measured during one profiling forward at the largest
 * batch) come first, along with whatever other processes already hold; the rest becomes KV blocks.
 *
 * @param totalBytes          device memory
 * @param usedByOthersBytes   memory in use that is not ours (other processes, the CUDA context itself)
 * @param weightBytes         our weights
 * @param workspaceBytes      our peak activation and scratch memory, measured by the profiling forward
 * @param utilization         {@code --gpu-memory-utilization}, in (0, 1]
 * @param bytesPerBlock       one KV block over all layers, K and V
 * @param blockSize           tokens per block
 */
public record MemoryPlan(long totalBytes, long usedByOthersBytes, long weightBytes, long workspaceBytes,
                         double utilization, long bytesPerBlock, int blockSize) {

    public MemoryPlan {
        if (!(utilization > 0 && utilization <= 1)) {
            throw new IllegalArgumentException("--gpu-memory-utilization must be in (0, 1], got " + utilization);
        }
        if (bytesPerBlock <= 0 || blockSize <= 0) {
            throw new IllegalArgumentException("a KV block must have a positive size");
        }
    }

    /** Bytes the KV cache may take: the budget less everything else, or a negative shortfall. */
    public long kvBytes() {
        return (long) (totalBytes * utilization) - usedByOthersBytes - weightBytes - workspaceBytes;
    }

    /** KV blocks that fit; 0 when nothing fits. */
    public int numBlocks() {
        long blocks = Math.max(0, kvBytes()) / bytesPerBlock;
        return (int) Math.min(Integer.MAX_VALUE, blocks);
    }

    public long numTokens() {
        return (long) numBlocks() * blockSize;
    }

    /**
     * Throws with the numbers when fewer than {@code minBlocks} blocks fit (at least one sequence of
     * the longest allowed length must fit): out of memory is reported at start-up, never mid-request.
     */
    public MemoryPlan requireBlocks(int minBlocks) {
        if (numBlocks() < minBlocks) {
            throw new IllegalStateException("not enough GPU memory for the KV cache: " + this
                    + "; need at least " + minBlocks + " blocks (" + (long) minBlocks * blockSize + " tokens). "
                    + "Raise --gpu-memory-utilization, lower --max-model-len or --max-num-seqs, or use a smaller model");
        }
        return this;
    }

    @Override
    public String toString() {
        return String.format("GPU memory %s x %.2f = %s: weights %s, workspace %s, others %s, KV cache %s"
                        + " = %d blocks of %d tokens = %d tokens",
                gib(totalBytes), utilization, gib((long) (totalBytes * utilization)), gib(weightBytes), gib(workspaceBytes),
                gib(usedByOthersBytes), gib(Math.max(0, kvBytes())), numBlocks(), blockSize, numTokens());
    }

    private static String gib(long bytes) {
        return String.format("%.2f GiB", bytes / (double) (1L << 30));
    }
}
