package dev.kvasir.server;

/**
 * How many blocks a KV pool should have, whatever sizes it (the CPU memory budget, the CUDA memory
 * plan).
 *
 * @param min fewer cannot serve one sequence of max-model-len: its blocks, above the scheduler's 1%
 *            watermark, plus one
 * @param max more would go unused: every sequence of a full batch at max-model-len, and never less
 *            than {@code min} (one sequence alone, {@code --max-num-seqs 1}, still needs the watermark)
 */
record KvBlockBounds(long min, long max) {

    static KvBlockBounds of(int maxModelLen, int blockSize, int maxNumSeqs) {
        long perSeq = (maxModelLen + blockSize - 1) / blockSize;
        long min = (long) Math.ceil(perSeq / 0.99) + 1;
        return new KvBlockBounds(min, Math.max(min, perSeq * maxNumSeqs));
    }
}
