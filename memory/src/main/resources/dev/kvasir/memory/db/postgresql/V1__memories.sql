-- Agent memory, version 1, PostgreSQL: the same tables as the SQLite migration (see it for what
-- they mean). Ids sort in byte order (COLLATE "C") whatever the database locale, for paging by id.
CREATE TABLE memory_users (
    tenant      TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    generation  BIGINT  NOT NULL,
    head        BIGINT  NOT NULL,
    PRIMARY KEY (tenant, user_id)
);

CREATE TABLE memories (
    id               TEXT COLLATE "C" PRIMARY KEY,
    tenant           TEXT    NOT NULL,
    user_id          TEXT    NOT NULL,
    seq              BIGINT  NOT NULL,
    scope            TEXT    NOT NULL,
    session_id       TEXT,
    fact_key         TEXT,
    content          TEXT    NOT NULL,
    importance       DOUBLE PRECISION NOT NULL,
    confidence       DOUBLE PRECISION NOT NULL,
    correction       BOOLEAN NOT NULL,
    tier             TEXT    NOT NULL,
    source_session   TEXT,
    source_turn      TEXT,
    source_time      BIGINT,
    created_at       BIGINT  NOT NULL,
    last_accessed_at BIGINT,
    access_count     BIGINT  NOT NULL,
    metadata         TEXT    NOT NULL,
    valid_at         BIGINT,
    invalid_at       BIGINT,
    expired_at       BIGINT,
    invalidated_by   TEXT,
    summary_depth    INTEGER NOT NULL,
    replaces         TEXT    NOT NULL,
    embedding        BYTEA   NOT NULL
);
CREATE INDEX memories_by_owner   ON memories (tenant, user_id, id);
CREATE INDEX memories_by_seq     ON memories (tenant, user_id, seq);
CREATE INDEX memories_by_session ON memories (tenant, user_id, session_id, id);
CREATE INDEX memories_by_fact    ON memories (tenant, user_id, fact_key);

CREATE TABLE memory_history (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant     TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    memory_id  TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    at         BIGINT  NOT NULL,
    by_what    TEXT,
    changes    TEXT    NOT NULL
);
CREATE INDEX memory_history_by_memory ON memory_history (tenant, user_id, memory_id, seq);

-- Deleted memory ids, so that other processes' indexes drop them when they catch up.
CREATE TABLE memory_tombstones (
    tenant     TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    seq        BIGINT  NOT NULL,
    memory_id  TEXT    NOT NULL,
    PRIMARY KEY (tenant, user_id, seq)
);
