package dev.kvasir.memory;

import java.util.List;

/**
 * What a search returns: the hits in the order they are injected (stable: oldest memory first, so
 * that consecutive turns share the prompt prefix), the rendered memory block (null when there are
 * no hits) and its size in tokens (-1 when no token counter was given).
 */
public record SearchResult(List<SearchHit> hits, String block, int tokens) {
    public List<String> ids() {
        return hits.stream().map(h -> h.memory().id()).toList();
    }
}
