package dev.kvasir.memory.store;

import java.util.List;

/**
 * What changed for one user since an index last caught up: rows written or updated with a seq above
 * the index's head, and ids deleted since. {@code reset} says the index must drop everything first
 * (the user was forgotten, maybe came back: a new generation); then {@code upserts} holds every row.
 * {@code generation} 0 means the user has nothing stored.
 */
public record UserChanges(long generation, long head, boolean reset, List<StoredMemory> upserts, List<String> deletedIds) {}
