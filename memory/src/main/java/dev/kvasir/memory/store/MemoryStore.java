package dev.kvasir.memory.store;

import dev.kvasir.memory.Memory;
import dev.kvasir.memory.MemoryEvent;
import dev.kvasir.memory.Owner;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Durable memories: every method scopes by owner (tenant + user), and every write has committed
 * when it returns. Each change bumps the owner's change sequence ({@link #changesSince}), which is
 * how search indexes in this and other processes catch up. Implementations: SQLite (embedded
 * default) and PostgreSQL (shared by replicas); one contract test suite runs against both.
 */
public interface MemoryStore extends AutoCloseable {

    /** Writes new memories of one owner, each with a "created" history event, in one transaction. */
    void insert(Owner owner, List<StoredMemory> memories, String by);

    Optional<Memory> get(Owner owner, String id);

    /** Up to {@code limit} memories with ids above {@code afterId} (null: from the start), in id order. */
    List<Memory> list(Owner owner, String afterId, int limit);

    /**
     * Replaces a memory's mutable fields (and its vector, when not null) and records one history
     * event; false when the owner has no memory with that id.
     */
    boolean update(Owner owner, Memory updated, float[] vector, MemoryEvent.Kind kind, String by, Map<String, String> changes);

    /** Deletes one memory with its history; false when the owner has none with that id. */
    boolean delete(Owner owner, String id);

    /** Deletes everything of the owner: memories, vectors, history, tombstones. Returns the memories removed. */
    int forget(Owner owner);

    /** The memory's events, oldest first; empty when the owner has no such memory. */
    List<MemoryEvent> history(Owner owner, String id);

    /** Rows and deletions since {@code head} of {@code generation} (0, 0: everything). */
    UserChanges changesSince(Owner owner, long generation, long head);

    /** The owner's current (generation, head), or (0, 0): the cheap check a search makes before it runs. */
    long[] head(Owner owner);

    /** Notes that memories were read now: last accessed time and access count. Not a change for indexes. */
    void touch(Owner owner, Collection<String> ids, Instant at);

    /** The newest {@code limit} memories of a session, newest first. */
    List<Memory> sessionMemories(Owner owner, String sessionId, int limit);

    @Override
    void close();
}
