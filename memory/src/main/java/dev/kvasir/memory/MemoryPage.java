package dev.kvasir.memory;

import java.util.List;

/** One page of a user's memories, oldest first; {@code nextCursor} is null on the last page. */
public record MemoryPage(List<Memory> data, String nextCursor) {}
