package dev.kvasir.memory;

import java.time.Instant;
import java.util.Map;

/**
 * One entry of a memory's history: what happened, when, by what ({@code by}: "api", "chat", or the
 * id of the memory that invalidated it), and the fields it set ({@code changes}: field → new value,
 * and for content "previous_content" too).
 */
public record MemoryEvent(long seq, String memoryId, Kind kind, Instant at, String by, Map<String, String> changes) {

    public enum Kind { CREATED, UPDATED, INVALIDATED }

    public MemoryEvent {
        changes = Map.copyOf(changes);
    }
}
