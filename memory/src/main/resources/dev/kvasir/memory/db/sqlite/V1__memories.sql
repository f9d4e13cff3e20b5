-- Agent memory, version 1. Times are microseconds since the epoch (UTC). Each (tenant, user) has a
-- row in memory_users whose head is bumped by every change under that row's write lock, so the
-- seq of a memory (and of a tombstone) grows in commit order per user: a search index catches up
-- by asking for rows with seq above the last head it applied. generation changes when a user is
-- forgotten and comes back, which tells an index to start over.
CREATE TABLE memory_users (
    tenant      TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    generation  INTEGER NOT NULL,
    head        INTEGER NOT NULL,
    PRIMARY KEY (tenant, user_id)
);

CREATE TABLE memories (
    id               TEXT    PRIMARY KEY,
    tenant           TEXT    NOT NULL,
    user_id          TEXT    NOT NULL,
    seq              INTEGER NOT NULL,
    scope            TEXT    NOT NULL,
    session_id       TEXT,
    fact_key         TEXT,
    content          TEXT    NOT NULL,
    importance       REAL    NOT NULL,
    confidence       REAL    NOT NULL,
    correction       INTEGER NOT NULL,
    tier             TEXT    NOT NULL,
    source_session   TEXT,
    source_turn      TEXT,
    source_time      INTEGER,
    created_at       INTEGER NOT NULL,
    last_accessed_at INTEGER,
    access_count     INTEGER NOT NULL,
    metadata         TEXT    NOT NULL,
    valid_at         INTEGER,
    invalid_at       INTEGER,
    expired_at       INTEGER,
    invalidated_by   TEXT,
    summary_depth    INTEGER NOT NULL,
    replaces         TEXT    NOT NULL,
    embedding        BLOB    NOT NULL
);
CREATE INDEX memories_by_owner   ON memories (tenant, user_id, id);
CREATE INDEX memories_by_seq     ON memories (tenant, user_id, seq);
CREATE INDEX memories_by_session ON memories (tenant, user_id, session_id, id);
CREATE INDEX memories_by_fact    ON memories (tenant, user_id, fact_key);

CREATE TABLE memory_history (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant     TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    memory_id  TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    by_what    TEXT,
    changes    TEXT    NOT NULL
);
CREATE INDEX memory_history_by_memory ON memory_history (tenant, user_id, memory_id, seq);

-- Deleted memory ids, so that other processes' indexes drop them when they catch up.
CREATE TABLE memory_tombstones (
    tenant     TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    memory_id  TEXT    NOT NULL,
    PRIMARY KEY (tenant, user_id, seq)
);
