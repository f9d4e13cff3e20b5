package dev.kvasir.memory;

/** The store failed (I/O, database down, constraint); the operation did not happen. */
public final class MemoryStoreException extends RuntimeException {
    public MemoryStoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
