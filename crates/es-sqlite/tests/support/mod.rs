//! What the projection tests share: a projection that keeps the position of every event it applies, and a way to
//! give one aggregate events.

use chrono::Utc;
use es_core::{
    AggregateId, AppendRequest, EventId, EventStore, ExpectedVersion, Metadata, NewEvent, RecordedEvent, Version,
};
use es_sqlite::{ApplyError, SqliteEventStore, SqliteProjector, TableSpec, Tables};

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

/// Appends `events` events to `aggregate`, one per append, its versions from `from` on.
pub(crate) async fn fill(store: &SqliteEventStore, aggregate: AggregateId, from: u64, events: u64) {
    for version in from..from + events {
        let event = NewEvent {
            event_id: EventId::random(),
            event_type: "Counted".into(),
            schema_version: 1,
            data: "{}".into(),
            created: es_core::truncate_to_millis(Utc::now()),
            metadata: Metadata::default(),
        };
        let request = AppendRequest::single(aggregate, ExpectedVersion::Exact(Version(version)), vec![event]);
        store.append(request).await.expect("append succeeds");
    }
}
