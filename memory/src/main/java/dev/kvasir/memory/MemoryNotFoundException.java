package dev.kvasir.memory;

/**
 * No memory with this id for this tenant and user. Also what another owner's id gets, so an id
 * never tells whether it exists elsewhere.
 */
public final class MemoryNotFoundException extends RuntimeException {
    public MemoryNotFoundException(String id) {
        super("no memory '" + id + "' for this user");
    }
}
