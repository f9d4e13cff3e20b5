package dev.kvasir.memory;

import java.util.List;

/**
 * A user's core memory as one editable block ({@code GET/PUT /v1/memories/core}): the memories in
 * canonical order, their texts one per line ({@code content}, what PUT takes back), the block as
 * injected and its tokens, and the core budget it must fit.
 */
public record CoreBlock(List<Memory> memories, String content, String block, int tokens, int budget) {
    public CoreBlock {
        memories = List.copyOf(memories);
    }
}
