package dev.kvasir.memory;

import java.time.Instant;
import java.util.Map;

/**
 * A change to a memory ({@code PATCH /v1/memories/{id}}): null fields stay as they are. Setting
 * {@code invalidAt} or {@code invalidatedBy} records an "invalidated" event in the history; a
 * {@code invalidatedBy} also retires the memory now ({@code expiredAt}). {@code metadata} replaces
 * the whole map.
 */
public record MemoryPatch(
        String content,
        Double importance,
        Double confidence,
        Boolean correction,
        Tier tier,
        String factKey,
        Map<String, String> metadata,
        Instant validAt,
        Instant invalidAt,
        String invalidatedBy) {

    public static MemoryPatch content(String newContent) {
        return new MemoryPatch(newContent, null, null, null, null, null, null, null, null, null);
    }

    public boolean isEmpty() {
        return content == null && importance == null && confidence == null && correction == null && tier == null
                && factKey == null && metadata == null && validAt == null && invalidAt == null && invalidatedBy == null;
    }
}
