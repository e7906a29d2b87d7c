//! What every read model shares: decoding a record into the domain's events
//! (types of other aggregates and unknown types are skipped, a type it reads
//! that does not decode fails the batch), the per-aggregate version guard,
//! and the conversions of counts and amounts to PostgreSQL's `bigint`.

use es_core::{DomainEvent, RecordedEvent};
use sqlx_postgres::PgConnection;
use ticketing::{
    BUCKET_EVENT_TYPES, CONCERT_EVENT_TYPES, ConcertEvent, ORDER_EVENT_TYPES, OrderEvent, VENUE_EVENT_TYPES, VenueEvent,
};

/// A decoded event of the shop.
pub(crate) enum Fact {
    /// Of a venue.
    Venue(VenueEvent),
    /// Of a concert, or about the holds in one of its buckets.
    Concert(ConcertEvent),
    /// A bucket's own change (opened, moved, closed): no read model shows
    /// it, but every one that reads concerts admits it, so that the
    /// bucket's version advances everywhere and a caller waiting for its
    /// own writes is not kept waiting for a version nobody applies.
    Bucket,
    /// Of an order.
    Order(OrderEvent),
}

/// The kinds of aggregate a read model on PostgreSQL reads (carts live in
/// DynamoDB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Venues.
    Venue,
    /// Concerts.
    Concert,
    /// Orders.
    Order,
}

impl Kind {
    /// As stored in `applied_versions.kind`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Venue => "venue",
            Kind::Concert => "concert",
            Kind::Order => "order",
        }
    }

    /// The kind stored as `text`, if it is one.
    pub(crate) fn parse(text: &str) -> Option<Kind> {
        [Kind::Venue, Kind::Concert, Kind::Order].into_iter().find(|kind| kind.as_str() == text)
    }

    /// The kind of aggregate that writes events of `event_type`, if any
    /// read model here reads it.
    pub(crate) fn of(event_type: &str) -> Option<Kind> {
        if VENUE_EVENT_TYPES.contains(&event_type) {
            Some(Kind::Venue)
        } else if CONCERT_EVENT_TYPES.contains(&event_type) || BUCKET_EVENT_TYPES.contains(&event_type) {
            // A bucket sells a concert's tickets: its stream is read as part
            // of the concert's (its hold events are the concert's own).
            Some(Kind::Concert)
        } else if ORDER_EVENT_TYPES.contains(&event_type) {
            Some(Kind::Order)
        } else {
            // Carts (in DynamoDB) and types no shop aggregate writes.
            None
        }
    }
}

/// Why one event could not be applied: PostgreSQL failed, or the event does
/// not fit the read model (given the event's context by the caller).
pub(crate) enum Refusal {
    /// A statement failed.
    Database(sqlx_core::Error),
    /// The event does not decode or does not fit the rows.
    Unfit(String),
}

impl From<sqlx_core::Error> for Refusal {
    fn from(error: sqlx_core::Error) -> Self {
        Refusal::Database(error)
    }
}

impl From<ticketing::ValueError> for Refusal {
    fn from(error: ticketing::ValueError) -> Self {
        Refusal::Unfit(error.to_string())
    }
}

/// Decodes `event` if it is of a kind in `reads`; `None` for other kinds
/// and for types no shop aggregate writes (a newer release's event, another
/// module's). A type it reads that does not decode is an error: skipping it
/// would leave the read model silently wrong.
pub(crate) fn decode(event: &RecordedEvent, reads: &[Kind]) -> Result<Option<(Kind, Fact)>, Refusal> {
    let Some(kind) = Kind::of(&event.event_type).filter(|kind| reads.contains(kind)) else {
        return Ok(None);
    };
    let unfit = |error: es_core::CodecError| Refusal::Unfit(error.to_string());
    let fact = match kind {
        Kind::Venue => Fact::Venue(VenueEvent::from_record(event).map_err(unfit)?),
        Kind::Concert if BUCKET_EVENT_TYPES.contains(&event.event_type.as_str()) => Fact::Bucket,
        Kind::Concert => Fact::Concert(ConcertEvent::from_record(event).map_err(unfit)?),
        Kind::Order => Fact::Order(OrderEvent::from_record(event).map_err(unfit)?),
    };
    Ok(Some((kind, fact)))
}

/// Whether `event` is newer than what `sink` has applied of its aggregate;
/// records it if so. The at-least-once guard: an event at or below the
/// applied version changes nothing. Two transactions admitting the same
/// aggregate take turns on its row, and the second sees the first's version.
pub(crate) async fn admit(
    connection: &mut PgConnection,
    sink: &str,
    kind: Kind,
    event: &RecordedEvent,
) -> Result<bool, Refusal> {
    let changed = sqlx_core::query::query(
        "INSERT INTO applied_versions (sink, aggregate_id, kind, version) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (sink, aggregate_id) DO UPDATE SET version = excluded.version \
         WHERE applied_versions.version < excluded.version",
    )
    .bind(sink)
    .bind(event.aggregate_id.0)
    .bind(kind.as_str())
    .bind(int(event.aggregate_version.0)?)
    .execute(&mut *connection)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// A count, amount or version as a PostgreSQL `bigint`.
pub(crate) fn int(value: u64) -> Result<i64, Refusal> {
    i64::try_from(value).map_err(|_| Refusal::Unfit(format!("{value} does not fit a bigint")))
}

/// Fails unless exactly one row changed: an event about a row the read
/// model does not have means it is out of step with the log.
pub(crate) fn one_row(changed: u64, what: &str) -> Result<(), Refusal> {
    if changed == 1 { Ok(()) } else { Err(Refusal::Unfit(format!("{what}: {changed} rows changed, not 1"))) }
}
