package dev.kvasir.memory.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.memory.Memory;
import dev.kvasir.memory.MemoryEvent;
import dev.kvasir.memory.MemoryStoreException;
import dev.kvasir.memory.Owner;
import dev.kvasir.memory.Scope;
import dev.kvasir.memory.Source;
import dev.kvasir.memory.Tier;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The SQL both stores share: the same tables and statements work on SQLite and PostgreSQL (ON
 * CONFLICT, RETURNING); the subclasses supply connections and the dialect's migration scripts.
 * Multi-statement writes run in one transaction and have committed before a method returns.
 */
abstract class JdbcMemoryStore implements MemoryStore {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<Map<String, String>> STRING_MAP = new TypeReference<>() {};
    private static final TypeReference<List<String>> STRING_LIST = new TypeReference<>() {};
    private static final SecureRandom RANDOM = new SecureRandom();

    private static final String COLUMNS = "id, tenant, user_id, scope, session_id, fact_key, content, importance, confidence,"
            + " correction, tier, source_session, source_turn, source_time, created_at, last_accessed_at, access_count,"
            + " metadata, valid_at, invalid_at, expired_at, invalidated_by, summary_depth, replaces";
    private static final String OWNER = " tenant = ? AND user_id = ?";
    private static final String INSERT_ROW = "INSERT INTO memories (" + COLUMNS + ", seq, embedding)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

    @FunctionalInterface
    interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    /** A connection for one unit of work; {@link #release} gives it back. */
    protected abstract Connection acquire() throws SQLException;

    protected abstract void release(Connection c);

    /** A connection for reads only (autocommit); by default the same as {@link #acquire}. */
    protected Connection acquireForRead() throws SQLException {
        return acquire();
    }

    protected void releaseRead(Connection c) {
        release(c);
    }

    protected final <T> T read(Work<T> work) {
        Connection c = null;
        try {
            c = acquireForRead();
            return work.run(c);
        } catch (SQLException e) {
            throw new MemoryStoreException("memory store read failed: " + e.getMessage(), e);
        } finally {
            if (c != null) releaseRead(c);
        }
    }

    protected final <T> T write(Work<T> work) {
        Connection c = null;
        try {
            c = acquire();
            c.setAutoCommit(false);
            try {
                T result = work.run(c);
                c.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(true);
            }
        } catch (SQLException e) {
            throw new MemoryStoreException("memory store write failed: " + e.getMessage(), e);
        } finally {
            if (c != null) release(c);
        }
    }

    @Override
    public void insert(Owner owner, List<StoredMemory> memories, String by) {
        if (memories.isEmpty()) return;
        write(c -> {
            long last = bumpHead(c, owner, memories.size());
            long seq = last - memories.size();
            try (PreparedStatement row = c.prepareStatement(INSERT_ROW)) {
                for (StoredMemory sm : memories) {
                    Memory m = sm.memory();
                    if (!m.owner().equals(owner)) throw new IllegalArgumentException("memory " + m.id() + " is not " + owner + "'s");
                    int i = bindColumns(row, m);
                    row.setLong(i++, ++seq);
                    row.setBytes(i, toBytes(sm.vector()));
                    row.addBatch();
                }
                row.executeBatch();
            }
            try (PreparedStatement ev = historyInsert(c)) {
                for (StoredMemory sm : memories) {
                    bindHistory(ev, owner, sm.memory().id(), MemoryEvent.Kind.CREATED, sm.memory().createdAt(), by, Map.of());
                    ev.addBatch();
                }
                ev.executeBatch();
            }
            return null;
        });
    }

    @Override
    public Optional<Memory> get(Owner owner, String id) {
        return read(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT " + COLUMNS + " FROM memories WHERE" + OWNER + " AND id = ?")) {
                bindOwner(s, owner);
                s.setString(3, id);
                try (ResultSet rs = s.executeQuery()) {
                    return rs.next() ? Optional.of(toMemory(rs)) : Optional.empty();
                }
            }
        });
    }

    @Override
    public List<Memory> list(Owner owner, String afterId, int limit) {
        return read(c -> {
            try (PreparedStatement s = c.prepareStatement(
                    "SELECT " + COLUMNS + " FROM memories WHERE" + OWNER + " AND id > ? ORDER BY id LIMIT ?")) {
                bindOwner(s, owner);
                s.setString(3, afterId == null ? "" : afterId);
                s.setInt(4, limit);
                return memories(s);
            }
        });
    }

    @Override
    public boolean update(Owner owner, Memory m, float[] vector, MemoryEvent.Kind kind, String by, Map<String, String> changes) {
        return write(c -> {
            long seq = bumpHead(c, owner, 1);
            if (!updateRow(c, owner, m, vector, seq)) {
                c.rollback(); // nothing of this owner's to update: undo the head bump too
                return false;
            }
            try (PreparedStatement ev = historyInsert(c)) {
                bindHistory(ev, owner, m.id(), kind, now(), by, changes);
                ev.executeUpdate();
            }
            return true;
        });
    }

    /** Rewrites a memory's mutable fields (and vector, when not null) with a new seq; false when the owner has no such row. */
    private static boolean updateRow(Connection c, Owner owner, Memory m, float[] vector, long seq) throws SQLException {
        String sql = "UPDATE memories SET fact_key = ?, content = ?, importance = ?, confidence = ?, correction = ?,"
                + " tier = ?, metadata = ?, valid_at = ?, invalid_at = ?, expired_at = ?, invalidated_by = ?,"
                + " summary_depth = ?, replaces = ?, seq = ?" + (vector != null ? ", embedding = ?" : "")
                + " WHERE" + OWNER + " AND id = ?";
        try (PreparedStatement s = c.prepareStatement(sql)) {
            int i = 1;
            s.setString(i++, m.factKey());
            s.setString(i++, m.content());
            s.setDouble(i++, m.importance());
            s.setDouble(i++, m.confidence());
            s.setBoolean(i++, m.correction());
            s.setString(i++, m.tier().apiName());
            s.setString(i++, json(m.metadata()));
            setTime(s, i++, m.validAt());
            setTime(s, i++, m.invalidAt());
            setTime(s, i++, m.expiredAt());
            s.setString(i++, m.invalidatedBy());
            s.setInt(i++, m.summaryDepth());
            s.setString(i++, json(m.replaces()));
            s.setLong(i++, seq);
            if (vector != null) s.setBytes(i++, toBytes(vector));
            s.setString(i++, owner.tenant());
            s.setString(i++, owner.user());
            s.setString(i, m.id());
            return s.executeUpdate() > 0;
        }
    }

    @Override
    public FactResolution.Outcome writeFact(Owner owner, String factKey, Instant now, String by, FactResolution resolution) {
        return write(c -> {
            // The head bump first: it takes the owner row's write lock (PostgreSQL; SQLite's IMMEDIATE
            // transaction holds the whole file), so the holders read next are the committed truth.
            long seq = bumpHead(c, owner, 1);
            List<Memory> holders;
            try (PreparedStatement s = c.prepareStatement("SELECT " + COLUMNS + " FROM memories WHERE" + OWNER
                    + " AND fact_key = ? AND expired_at IS NULL AND (invalid_at IS NULL OR invalid_at > ?) ORDER BY id")) {
                // No "created before now": a writer that waited for the lock must see what committed meanwhile.
                bindOwner(s, owner);
                s.setString(3, factKey);
                setTime(s, 4, now);
                holders = memories(s);
            }
            FactResolution.Outcome outcome = resolution.resolve(holders);
            StoredMemory insert = outcome.insert();
            if (insert != null) {
                if (!insert.memory().owner().equals(owner)) throw new IllegalArgumentException("memory " + insert.memory().id() + " is not " + owner + "'s");
                insertRow(c, insert, seq);
                try (PreparedStatement ev = historyInsert(c)) {
                    bindHistory(ev, owner, insert.memory().id(), MemoryEvent.Kind.CREATED, insert.memory().createdAt(), by, Map.of());
                    ev.executeUpdate();
                    if (insert.memory().expiredAt() != null) {
                        bindHistory(ev, owner, insert.memory().id(), MemoryEvent.Kind.INVALIDATED, insert.memory().expiredAt(),
                                insert.memory().invalidatedBy(), retiredChanges(insert.memory().invalidAt(), insert.memory().expiredAt(),
                                        insert.memory().invalidatedBy()));
                        ev.executeUpdate();
                    }
                }
            }
            for (FactResolution.Retirement r : outcome.retire()) retire(c, owner, r);
            for (Memory m : outcome.reinforce()) {
                if (updateRow(c, owner, m, null, bumpHead(c, owner, 1))) {
                    try (PreparedStatement ev = historyInsert(c)) {
                        bindHistory(ev, owner, m.id(), MemoryEvent.Kind.UPDATED, now, by,
                                Map.of("importance", String.valueOf(m.importance()), "confidence", String.valueOf(m.confidence())));
                        ev.executeUpdate();
                    }
                }
            }
            return outcome;
        });
    }

    /** Retires one memory that is still current (a retired one keeps its first retirement). */
    private static void retire(Connection c, Owner owner, FactResolution.Retirement r) throws SQLException {
        long seq = bumpHead(c, owner, 1);
        try (PreparedStatement s = c.prepareStatement("UPDATE memories SET invalid_at = COALESCE(invalid_at, ?), expired_at = ?,"
                + " invalidated_by = ?, seq = ? WHERE" + OWNER + " AND id = ? AND expired_at IS NULL")) {
            setTime(s, 1, r.invalidAt());
            setTime(s, 2, r.expiredAt());
            s.setString(3, r.by());
            s.setLong(4, seq);
            s.setString(5, owner.tenant());
            s.setString(6, owner.user());
            s.setString(7, r.id());
            if (s.executeUpdate() == 0) return;
        }
        try (PreparedStatement ev = historyInsert(c)) {
            bindHistory(ev, owner, r.id(), MemoryEvent.Kind.INVALIDATED, r.expiredAt(), r.by(),
                    retiredChanges(r.invalidAt(), r.expiredAt(), r.by()));
            ev.executeUpdate();
        }
    }

    private static Map<String, String> retiredChanges(Instant invalidAt, Instant expiredAt, String by) {
        return Map.of("invalid_at", String.valueOf(invalidAt), "expired_at", String.valueOf(expiredAt), "invalidated_by", String.valueOf(by));
    }

    @Override
    public int moveTier(Owner owner, Collection<String> ids, Tier tier, String by) {
        if (ids.isEmpty()) return 0;
        return write(c -> moveTier(c, owner, ids, tier, by));
    }

    private static int moveTier(Connection c, Owner owner, Collection<String> ids, Tier tier, String by) throws SQLException {
        int moved = 0;
        Instant at = now();
        try (PreparedStatement s = c.prepareStatement("UPDATE memories SET tier = ?, seq = ? WHERE" + OWNER + " AND id = ? AND tier <> ?");
             PreparedStatement ev = historyInsert(c)) {
            for (String id : ids) {
                s.setString(1, tier.apiName());
                s.setLong(2, bumpHead(c, owner, 1));
                s.setString(3, owner.tenant());
                s.setString(4, owner.user());
                s.setString(5, id);
                s.setString(6, tier.apiName());
                if (s.executeUpdate() == 0) continue;
                moved++;
                bindHistory(ev, owner, id, MemoryEvent.Kind.UPDATED, at, by, Map.of("tier", tier.apiName()));
                ev.executeUpdate();
            }
        }
        return moved;
    }

    @Override
    public void writeSummary(Owner owner, StoredMemory summary, List<String> replaced, String by) {
        write(c -> {
            insertRow(c, summary, bumpHead(c, owner, 1));
            try (PreparedStatement ev = historyInsert(c)) {
                bindHistory(ev, owner, summary.memory().id(), MemoryEvent.Kind.CREATED, summary.memory().createdAt(), by, Map.of());
                ev.executeUpdate();
            }
            moveTier(c, owner, replaced, Tier.ARCHIVE, summary.memory().id());
            return null;
        });
    }

    @Override
    public List<Memory> active(Owner owner, Instant now) {
        return read(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT " + COLUMNS + " FROM memories WHERE" + OWNER
                    + " AND tier IN ('core', 'recent') AND expired_at IS NULL AND (invalid_at IS NULL OR invalid_at > ?)"
                    + " AND created_at <= ? ORDER BY id")) {
                bindOwner(s, owner);
                setTime(s, 3, now);
                setTime(s, 4, now);
                return memories(s);
            }
        });
    }

    @Override
    public Map<String, float[]> vectors(Owner owner, Collection<String> ids) {
        if (ids.isEmpty()) return Map.of();
        return read(c -> {
            Map<String, float[]> out = new java.util.HashMap<>();
            List<String> all = List.copyOf(ids);
            for (int from = 0; from < all.size(); from += 200) {
                List<String> chunk = all.subList(from, Math.min(all.size(), from + 200));
                String marks = String.join(", ", java.util.Collections.nCopies(chunk.size(), "?"));
                try (PreparedStatement s = c.prepareStatement("SELECT id, embedding FROM memories WHERE" + OWNER + " AND id IN (" + marks + ")")) {
                    bindOwner(s, owner);
                    for (int i = 0; i < chunk.size(); i++) s.setString(3 + i, chunk.get(i));
                    try (ResultSet rs = s.executeQuery()) {
                        while (rs.next()) out.put(rs.getString(1), toFloats(rs.getBytes(2)));
                    }
                }
            }
            return out;
        });
    }

    @Override
    public boolean delete(Owner owner, String id) {
        return write(c -> {
            try (PreparedStatement s = c.prepareStatement("DELETE FROM memories WHERE" + OWNER + " AND id = ?")) {
                bindOwner(s, owner);
                s.setString(3, id);
                if (s.executeUpdate() == 0) return false;
            }
            long seq = bumpHead(c, owner, 1);
            try (PreparedStatement s = c.prepareStatement(
                    "INSERT INTO memory_tombstones (tenant, user_id, seq, memory_id) VALUES (?, ?, ?, ?)")) {
                bindOwner(s, owner);
                s.setLong(3, seq);
                s.setString(4, id);
                s.executeUpdate();
            }
            try (PreparedStatement s = c.prepareStatement("DELETE FROM memory_history WHERE" + OWNER + " AND memory_id = ?")) {
                bindOwner(s, owner);
                s.setString(3, id);
                s.executeUpdate();
            }
            return true;
        });
    }

    @Override
    public int forget(Owner owner) {
        return write(c -> {
            int removed = deleteOwned(c, "memories", owner);
            deleteOwned(c, "memory_history", owner);
            deleteOwned(c, "memory_tombstones", owner);
            deleteOwned(c, "memory_users", owner);
            return removed;
        });
    }

    @Override
    public List<MemoryEvent> history(Owner owner, String id) {
        return read(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT seq, kind, at, by_what, changes FROM memory_history"
                    + " WHERE" + OWNER + " AND memory_id = ? ORDER BY seq")) {
                bindOwner(s, owner);
                s.setString(3, id);
                List<MemoryEvent> events = new ArrayList<>();
                try (ResultSet rs = s.executeQuery()) {
                    while (rs.next()) {
                        events.add(new MemoryEvent(rs.getLong(1), id, MemoryEvent.Kind.valueOf(rs.getString(2)),
                                time(rs, 3), rs.getString(4), parse(rs.getString(5), STRING_MAP)));
                    }
                }
                return events;
            }
        });
    }

    @Override
    public long[] head(Owner owner) {
        return read(c -> readHead(c, owner));
    }

    @Override
    public UserChanges changesSince(Owner owner, long generation, long head) {
        return read(c -> {
            // The head is read first: every row with a seq at or below it has committed (seqs are
            // handed out under the owner row's lock and commit with it), so rows and tombstones read
            // afterwards are a superset of what it covers. Later rows applied twice are harmless.
            long[] now = readHead(c, owner);
            if (now[0] == 0) return new UserChanges(0, 0, generation != 0, List.of(), List.of());
            boolean reset = now[0] != generation;
            long after = reset ? 0 : head;
            if (!reset && now[1] == head) return new UserChanges(now[0], head, false, List.of(), List.of());
            List<StoredMemory> rows = new ArrayList<>();
            try (PreparedStatement s = c.prepareStatement("SELECT " + COLUMNS + ", embedding FROM memories"
                    + " WHERE" + OWNER + " AND seq > ? ORDER BY seq")) {
                bindOwner(s, owner);
                s.setLong(3, after);
                s.setFetchSize(1000);
                try (ResultSet rs = s.executeQuery()) {
                    while (rs.next()) rows.add(new StoredMemory(toMemory(rs), toFloats(rs.getBytes(25))));
                }
            }
            List<String> deleted = new ArrayList<>();
            if (!reset) {
                try (PreparedStatement s = c.prepareStatement(
                        "SELECT memory_id FROM memory_tombstones WHERE" + OWNER + " AND seq > ? ORDER BY seq")) {
                    bindOwner(s, owner);
                    s.setLong(3, after);
                    try (ResultSet rs = s.executeQuery()) {
                        while (rs.next()) deleted.add(rs.getString(1));
                    }
                }
            }
            return new UserChanges(now[0], now[1], reset, rows, deleted);
        });
    }

    @Override
    public void touch(Owner owner, Map<String, Access> accesses) {
        if (accesses.isEmpty()) return;
        write(c -> {
            try (PreparedStatement s = c.prepareStatement("UPDATE memories SET last_accessed_at = CASE WHEN last_accessed_at IS NULL"
                    + " OR last_accessed_at < ? THEN ? ELSE last_accessed_at END, access_count = access_count + ?"
                    + " WHERE" + OWNER + " AND id = ?")) {
                for (Map.Entry<String, Access> e : accesses.entrySet()) {
                    setTime(s, 1, e.getValue().last());
                    setTime(s, 2, e.getValue().last());
                    s.setLong(3, e.getValue().count());
                    s.setString(4, owner.tenant());
                    s.setString(5, owner.user());
                    s.setString(6, e.getKey());
                    s.addBatch();
                }
                s.executeBatch();
            }
            return null;
        });
    }

    @Override
    public List<Memory> sessionMemories(Owner owner, String sessionId, int limit) {
        return read(c -> {
            try (PreparedStatement s = c.prepareStatement("SELECT " + COLUMNS + " FROM memories WHERE" + OWNER
                    + " AND session_id = ? ORDER BY id DESC LIMIT ?")) {
                bindOwner(s, owner);
                s.setString(3, sessionId);
                s.setInt(4, limit);
                return memories(s);
            }
        });
    }

    /** Adds {@code n} to the owner's head (creating the row) under its row lock; returns the new head. */
    private static long bumpHead(Connection c, Owner owner, int n) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("INSERT INTO memory_users (tenant, user_id, generation, head)"
                + " VALUES (?, ?, ?, 0) ON CONFLICT (tenant, user_id) DO NOTHING")) {
            bindOwner(s, owner);
            s.setLong(3, 1 + (RANDOM.nextLong() >>> 1)); // never 0: 0 means "nothing stored"
            s.executeUpdate();
        }
        try (PreparedStatement s = c.prepareStatement("UPDATE memory_users SET head = head + ? WHERE" + OWNER + " RETURNING head")) {
            s.setLong(1, n);
            s.setString(2, owner.tenant());
            s.setString(3, owner.user());
            try (ResultSet rs = s.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    private static void insertRow(Connection c, StoredMemory sm, long seq) throws SQLException {
        try (PreparedStatement row = c.prepareStatement(INSERT_ROW)) {
            int i = bindColumns(row, sm.memory());
            row.setLong(i++, seq);
            row.setBytes(i, toBytes(sm.vector()));
            row.executeUpdate();
        }
    }

    private static long[] readHead(Connection c, Owner owner) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT generation, head FROM memory_users WHERE" + OWNER)) {
            bindOwner(s, owner);
            try (ResultSet rs = s.executeQuery()) {
                return rs.next() ? new long[] {rs.getLong(1), rs.getLong(2)} : new long[] {0, 0};
            }
        }
    }

    private static int deleteOwned(Connection c, String table, Owner owner) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("DELETE FROM " + table + " WHERE" + OWNER)) {
            bindOwner(s, owner);
            return s.executeUpdate();
        }
    }

    private static PreparedStatement historyInsert(Connection c) throws SQLException {
        return c.prepareStatement("INSERT INTO memory_history (tenant, user_id, memory_id, kind, at, by_what, changes)"
                + " VALUES (?, ?, ?, ?, ?, ?, ?)");
    }

    private static void bindHistory(PreparedStatement s, Owner owner, String id, MemoryEvent.Kind kind, Instant at,
            String by, Map<String, String> changes) throws SQLException {
        bindOwner(s, owner);
        s.setString(3, id);
        s.setString(4, kind.name());
        setTime(s, 5, at);
        s.setString(6, by);
        s.setString(7, json(changes));
    }

    private static void bindOwner(PreparedStatement s, Owner owner) throws SQLException {
        s.setString(1, owner.tenant());
        s.setString(2, owner.user());
    }

    /** Binds the {@link #COLUMNS} in order; returns the next parameter index. */
    private static int bindColumns(PreparedStatement s, Memory m) throws SQLException {
        int i = 1;
        s.setString(i++, m.id());
        s.setString(i++, m.tenant());
        s.setString(i++, m.user());
        s.setString(i++, m.scope().apiName());
        s.setString(i++, m.sessionId());
        s.setString(i++, m.factKey());
        s.setString(i++, m.content());
        s.setDouble(i++, m.importance());
        s.setDouble(i++, m.confidence());
        s.setBoolean(i++, m.correction());
        s.setString(i++, m.tier().apiName());
        s.setString(i++, m.source().sessionId());
        s.setString(i++, m.source().turnId());
        setTime(s, i++, m.source().time());
        setTime(s, i++, m.createdAt());
        setTime(s, i++, m.lastAccessedAt());
        s.setLong(i++, m.accessCount());
        s.setString(i++, json(m.metadata()));
        setTime(s, i++, m.validAt());
        setTime(s, i++, m.invalidAt());
        setTime(s, i++, m.expiredAt());
        s.setString(i++, m.invalidatedBy());
        s.setInt(i++, m.summaryDepth());
        s.setString(i++, json(m.replaces()));
        return i;
    }

    private static List<Memory> memories(PreparedStatement s) throws SQLException {
        List<Memory> out = new ArrayList<>();
        try (ResultSet rs = s.executeQuery()) {
            while (rs.next()) out.add(toMemory(rs));
        }
        return out;
    }

    private static Memory toMemory(ResultSet rs) throws SQLException {
        return new Memory(rs.getString(1), rs.getString(2), rs.getString(3),
                Scope.parse(rs.getString(4), "scope"), rs.getString(5), rs.getString(6), rs.getString(7),
                rs.getDouble(8), rs.getDouble(9), rs.getBoolean(10), Tier.parse(rs.getString(11), "tier"),
                new Source(rs.getString(12), rs.getString(13), time(rs, 14)),
                time(rs, 15), time(rs, 16), rs.getLong(17), parse(rs.getString(18), STRING_MAP),
                time(rs, 19), time(rs, 20), time(rs, 21), rs.getString(22), rs.getInt(23),
                parse(rs.getString(24), STRING_LIST));
    }

    /** Microseconds since the epoch: what both databases hold exactly in a BIGINT. */
    static long micros(Instant t) {
        return Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000L), t.getNano() / 1000);
    }

    static Instant now() {
        return Instant.now().truncatedTo(ChronoUnit.MICROS);
    }

    private static void setTime(PreparedStatement s, int i, Instant t) throws SQLException {
        if (t == null) s.setNull(i, Types.BIGINT);
        else s.setLong(i, micros(t));
    }

    private static Instant time(ResultSet rs, int i) throws SQLException {
        long v = rs.getLong(i);
        return rs.wasNull() ? null : Instant.ofEpochSecond(Math.floorDiv(v, 1_000_000L), Math.floorMod(v, 1_000_000L) * 1000);
    }

    static byte[] toBytes(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return b.array();
    }

    static float[] toFloats(byte[] bytes) {
        float[] v = new float[bytes.length / 4];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
        return v;
    }

    private static String json(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static <T> T parse(String json, TypeReference<T> type) {
        try {
            return JSON.readValue(json, type);
        } catch (JsonProcessingException e) {
            throw new MemoryStoreException("memory store holds malformed JSON: " + e.getOriginalMessage(), e);
        }
    }
}
