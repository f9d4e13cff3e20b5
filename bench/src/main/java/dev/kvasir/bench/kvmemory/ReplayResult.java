package dev.kvasir.bench.kvmemory;

/**
 * What one trace replay measured. Waste and saving are time-averaged over decode steps.
 *
 * @param wastePct          reserved slots holding no token ÷ reserved slots, in percent
 * @param peakSeqs          most sequences running at once within the slot budget
 * @param meanSeqs          sequences running on an average step
 * @param sharingSavingPct  slots saved by sharing ÷ slots the same sequences would need unshared, in percent
 * @param preemptions       requests preempted (recompute) because a block could not be appended
 */
record ReplayResult(String workload, Strategy strategy, double wastePct, int peakSeqs, double meanSeqs,
                    double sharingSavingPct, long steps, int preemptions) {}
