//! What every projector of the shop shares: decoding a record into the
//! domain's events (unknown types are skipped, broken data fails the batch),
//! the per-aggregate version guard, and the text forms of times and ids that
//! keep SQL comparisons and sorting right.

use chrono::{DateTime, Utc};
use es_core::{DomainEvent, RecordedEvent, format_created};
use es_sqlite::{ApplyError, TableSpec, Tables};
use rusqlite::{Connection, Params, params};
use ticketing::{
    CART_EVENT_TYPES, CONCERT_EVENT_TYPES, CartEvent, ConcertEvent, ORDER_EVENT_TYPES, OrderEvent, VENUE_EVENT_TYPES,
    VenueEvent,
};

/// A decoded event of the shop.
pub(crate) enum Fact {
    /// Of a venue.
    Venue(VenueEvent),
    /// Of a concert.
    Concert(ConcertEvent),
    /// Of a cart.
    Cart(CartEvent),
    /// Of an order.
    Order(OrderEvent),
}

/// The aggregates whose events a projector reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Venues.
    Venue,
    /// Concerts.
    Concert,
    /// Carts.
    Cart,
    /// Orders.
    Order,
}

/// Decodes `event` if it is of a kind in `reads`; `None` for other kinds
/// and for types no shop aggregate writes (a newer release's event, another
/// module's). A type it reads that does not decode is an error: skipping it
/// would leave the read model silently wrong.
pub(crate) fn decode(event: &RecordedEvent, reads: &[Kind]) -> Result<Option<Fact>, ApplyError> {
    let kind = event.event_type.as_str();
    let fact = if VENUE_EVENT_TYPES.contains(&kind) && reads.contains(&Kind::Venue) {
        Fact::Venue(VenueEvent::from_record(event)?)
    } else if CONCERT_EVENT_TYPES.contains(&kind) && reads.contains(&Kind::Concert) {
        Fact::Concert(ConcertEvent::from_record(event)?)
    } else if CART_EVENT_TYPES.contains(&kind) && reads.contains(&Kind::Cart) {
        Fact::Cart(CartEvent::from_record(event)?)
    } else if ORDER_EVENT_TYPES.contains(&kind) && reads.contains(&Kind::Order) {
        Fact::Order(OrderEvent::from_record(event)?)
    } else {
        return Ok(None);
    };
    Ok(Some(fact))
}

/// The columns of a projector's guard table: the last applied version of
/// every source aggregate, kept even after the aggregate's rows are deleted
/// (an emptied cart) or when rows add up many aggregates (daily sales).
pub(crate) const APPLIED_COLUMNS: &str = "aggregate_id TEXT PRIMARY KEY, version INTEGER NOT NULL";

/// The guard table spec named `name`.
pub(crate) const fn applied_table(name: &'static str) -> TableSpec {
    TableSpec { name, columns: APPLIED_COLUMNS, indexes: &[] }
}

/// Whether `event` is newer than what `applied` has seen of its aggregate;
/// records it if so. The at-least-once guard: a redelivered event changes
/// nothing even where no checkpoint shares the transaction.
pub(crate) fn admit(tables: &Tables<'_>, applied: &str, event: &RecordedEvent) -> Result<bool, ApplyError> {
    let table = tables.name(applied);
    let changed = execute(
        tables.connection(),
        &format!(
            "INSERT INTO {table} (aggregate_id, version) VALUES (?1, ?2) \
             ON CONFLICT (aggregate_id) DO UPDATE SET version = excluded.version \
             WHERE excluded.version > version"
        ),
        params![event.aggregate_id.to_string(), int(event.aggregate_version.0)?],
    )?;
    Ok(changed == 1)
}

/// A time as stored: RFC 3339 UTC with milliseconds, fixed width, so that
/// text order is time order.
pub(crate) fn time(at: DateTime<Utc>) -> String {
    format_created(at)
}

/// A count or amount as an SQLite integer.
pub(crate) fn int(value: u64) -> Result<i64, ApplyError> {
    i64::try_from(value).map_err(|_| format!("{value} does not fit an SQLite integer").into())
}

/// Fails unless exactly one row changed: an event about a row the read
/// model does not have means it is out of step with the log.
pub(crate) fn one_row(changed: usize, what: &str) -> Result<(), ApplyError> {
    if changed == 1 { Ok(()) } else { Err(format!("{what}: {changed} rows changed, not 1").into()) }
}

/// Runs one statement through the connection's statement cache. A read
/// model runs the same few statements for every event; parsing them again
/// each time took 7% of the flash sale's CPU (`perf record` of
/// `cloudbash bench flash-sale`).
pub(crate) fn execute(connection: &Connection, sql: &str, params: impl Params) -> rusqlite::Result<usize> {
    connection.prepare_cached(sql)?.execute(params)
}
