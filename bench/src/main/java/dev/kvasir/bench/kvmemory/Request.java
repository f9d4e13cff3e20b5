package dev.kvasir.bench.kvmemory;

/** One request of a trace: its prompt token ids, how many tokens each sample generates, and n samples. */
record Request(int[] prompt, int outputTokens, int samples) {}
