package dev.kvasir.memory;

import java.util.List;

/**
 * What a chat turn gets from memory, in prompt order: the core block (tiered policies: always there,
 * canonical, null when empty) and the memories retrieved for the turn, with the conflicts resolved
 * for what was injected (the facts each injected memory superseded, and any second value the
 * read-time guard kept out).
 */
public record MemoryContext(List<Memory> core, String coreBlock, int coreTokens, SearchResult retrieved, List<ConflictNote> conflicts) {

    public static final MemoryContext EMPTY = new MemoryContext(List.of(), null, 0, new SearchResult(List.of(), null, 0), List.of());

    public MemoryContext {
        core = List.copyOf(core);
        conflicts = List.copyOf(conflicts);
    }

    /** Ids of every injected memory: core first, then retrieved. */
    public List<String> injectedIds() {
        List<String> ids = new java.util.ArrayList<>();
        core.forEach(m -> ids.add(m.id()));
        ids.addAll(retrieved.ids());
        return ids;
    }

    /** Tokens of both blocks. */
    public int tokens() {
        return coreTokens + Math.max(0, retrieved.tokens());
    }
}
