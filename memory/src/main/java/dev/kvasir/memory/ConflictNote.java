package dev.kvasir.memory;

import java.util.List;

/**
 * A conflict resolved for an injected fact: {@code kept} is the memory injected for {@code factKey};
 * {@code dropped} the other values. {@code how}: {@code "write"} (superseded when the newer fact was
 * written: invalidated, kept in history and for as_of) or {@code "read_guard"} (a second value that
 * was still valid, kept out of this prompt by the read-time guard).
 */
public record ConflictNote(String factKey, String kept, List<String> dropped, String how) {
    public ConflictNote {
        dropped = List.copyOf(dropped);
    }
}
