//! The SQLite schema. The `events` table has the seed's five columns under
//! the seed's names, plus `Position` (the global order for tailing, the
//! rowid), `EventId`, `SchemaVersion` and `Metadata`. Triggers refuse every
//! `UPDATE` and `DELETE`: the log is append-only even for a stray `sqlite3`
//! shell.

/// Applied on every open; every statement is idempotent.
pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS events (
    Position          INTEGER PRIMARY KEY,
    AggregateId       TEXT    NOT NULL,
    AggregateVersion  INTEGER NOT NULL CHECK (AggregateVersion >= 1),
    Created           TEXT    NOT NULL,
    EventType         TEXT    NOT NULL,
    Data              TEXT    NOT NULL,
    EventId           TEXT    NOT NULL,
    SchemaVersion     INTEGER NOT NULL CHECK (SchemaVersion >= 1),
    Metadata          TEXT,
    UNIQUE (AggregateId, AggregateVersion)
) STRICT;

CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;

CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;

CREATE TABLE IF NOT EXISTS commands (
    CommandId  TEXT    PRIMARY KEY,
    Result     TEXT    NOT NULL,
    Position   INTEGER NOT NULL
) STRICT;

-- Files of older releases hold a table of consumer positions that the shop
-- never used; it is dropped when such a file is opened.
DROP TABLE IF EXISTS checkpoints;

CREATE TABLE IF NOT EXISTS snapshots (
    AggregateId   TEXT    NOT NULL,
    Kind          TEXT    NOT NULL,
    Version       INTEGER NOT NULL,
    ShapeVersion  INTEGER NOT NULL,
    State         TEXT    NOT NULL,
    PRIMARY KEY (AggregateId, Kind)
) STRICT;
"#;

/// The read models' own file: each projection's generations and their
/// checkpoints. The tables themselves are created by their projections.
pub(crate) const READ_MODELS_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS projections (
    Name        TEXT    NOT NULL,
    Generation  INTEGER NOT NULL,
    Position    INTEGER NOT NULL,
    Live        INTEGER NOT NULL CHECK (Live IN (0, 1)),
    Shape       INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (Name, Generation)
) STRICT;
"#;

/// The columns every event query selects, in the order [`crate::rows`] reads.
pub(crate) const EVENT_COLUMNS: &str =
    "Position, AggregateId, AggregateVersion, Created, EventType, Data, EventId, SchemaVersion, Metadata";
