package dev.kvasir.memory.store;

import dev.kvasir.memory.Memory;

/** A memory with its unit-length embedding, as a store writes and an index loads it. */
public record StoredMemory(Memory memory, float[] vector) {}
