//! What the projection tests share: a projection that keeps the position of every event it applies.

use es_core::RecordedEvent;
use es_sqlite::{ApplyError, SqliteProjector, TableSpec, Tables};

/// Counts events; its table is enough to have generations.
pub(crate) struct Counted;

const TABLES: &[TableSpec] = &[TableSpec { name: "counted", columns: "position INTEGER PRIMARY KEY", indexes: &[] }];

impl SqliteProjector for Counted {
    fn name(&self) -> &str {
        "counted"
    }

    fn tables(&self) -> &[TableSpec] {
        TABLES
    }

    fn apply(&self, tables: &Tables<'_>, event: &RecordedEvent) -> Result<(), ApplyError> {
        let table = tables.name("counted");
        tables
            .connection()
            .execute(&format!("INSERT INTO {table} (position) VALUES (?1)"), [event.position.0 as i64])?;
        Ok(())
    }
}
