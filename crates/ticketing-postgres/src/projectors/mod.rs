//! One projector per read model: what each event does to its tables. The
//! semantics are those of the embedded mode's SQLite projectors, with one
//! change the bus forces: the bus keeps order per aggregate only, so nothing
//! here may depend on the order of two aggregates' events. The catalogue
//! therefore joins its concerts to its venues when read instead of copying
//! the venue into the concert when written, ticket types keep the order
//! they were added by the concert's version (not the log position), and
//! every read model records every event of the aggregates it reads in the
//! version guard, even one that changes no row (daily sales and a check-in),
//! so that [`crate::PostgresQueries::applied_version`] can tell when a
//! version has been applied everywhere.

use es_core::RecordedEvent;
use sqlx_core::query::query;
use sqlx_postgres::PgConnection;
use ticketing::{ConcertEvent, HoldId, VenueEvent};

use crate::rows::{Fact, Kind, Refusal, int, one_row};

mod purchases;

use self::purchases::{attendees, order, sales};

/// The shop's read models on PostgreSQL, each fed by its own sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReadModel {
    /// Concerts with their venue's name, city and address, status and
    /// schedule: what search and the concert page read.
    Catalogue,
    /// Venues as listed and shown; deleted ones stay, marked.
    Venues,
    /// Each concert's ticket types with held, sold and available counts,
    /// and the live holds with their expiry (what hold expiry asks).
    TicketTypes,
    /// Orders with their tickets.
    Orders,
    /// Ticket holders per concert, for the door: looked up by code.
    Attendees,
    /// Tickets sold and revenue per concert per UTC day of the sale.
    Sales,
}

impl ReadModel {
    /// Every read model, in the order they are listed and rebuilt.
    pub const ALL: [ReadModel; 6] = [
        ReadModel::Catalogue,
        ReadModel::Venues,
        ReadModel::TicketTypes,
        ReadModel::Orders,
        ReadModel::Attendees,
        ReadModel::Sales,
    ];

    /// Its stable name (the same as the embedded mode's projection): it
    /// scopes its checkpoints and applied versions.
    pub fn name(self) -> &'static str {
        match self {
            ReadModel::Catalogue => "catalogue",
            ReadModel::Venues => "venues",
            ReadModel::TicketTypes => "ticket_types",
            ReadModel::Orders => "orders",
            ReadModel::Attendees => "attendees",
            ReadModel::Sales => "sales",
        }
    }

    /// The kinds of aggregate it reads.
    pub(crate) fn reads(self) -> &'static [Kind] {
        match self {
            ReadModel::Catalogue => &[Kind::Venue, Kind::Concert],
            ReadModel::Venues => &[Kind::Venue],
            ReadModel::TicketTypes => &[Kind::Concert],
            ReadModel::Orders | ReadModel::Attendees | ReadModel::Sales => &[Kind::Order],
        }
    }

    /// Its own tables (the shared `applied_versions` and `bus_checkpoints`
    /// rows are scoped by its name).
    pub(crate) fn tables(self) -> &'static [&'static str] {
        match self {
            ReadModel::Catalogue => &["catalogue", "catalogue_venues"],
            ReadModel::Venues => &["venues"],
            ReadModel::TicketTypes => &["ticket_types", "holds"],
            ReadModel::Orders => &["orders", "order_tickets"],
            ReadModel::Attendees => &["attendees"],
            ReadModel::Sales => &["sales"],
        }
    }

    /// Applies one admitted event (newer than the applied version of its
    /// aggregate) to the read model's rows.
    pub(crate) async fn project(
        self,
        connection: &mut PgConnection,
        event: &RecordedEvent,
        fact: Fact,
    ) -> Result<(), Refusal> {
        let version = int(event.aggregate_version.0)?;
        let id = event.aggregate_id.0;
        match (self, fact) {
            (ReadModel::Catalogue, Fact::Venue(fact)) => catalogue_venue(connection, id, version, fact).await,
            (ReadModel::Catalogue, Fact::Concert(fact)) => catalogue_concert(connection, id, version, fact).await,
            (ReadModel::Venues, Fact::Venue(fact)) => venue(connection, id, version, fact).await,
            (ReadModel::TicketTypes, Fact::Concert(fact)) => ticket_types(connection, id, version, fact).await,
            (ReadModel::Orders, Fact::Order(fact)) => order(connection, id, version, fact).await,
            (ReadModel::Attendees, Fact::Order(fact)) => attendees(connection, id, version, fact).await,
            (ReadModel::Sales, Fact::Order(fact)) => sales(connection, fact).await,
            (_, Fact::Bucket) => Ok(()),
            (model, _) => unreachable!("{} is handed only the kinds it reads", model.name()),
        }
    }
}

type Id = uuid::Uuid;

async fn catalogue_venue(connection: &mut PgConnection, id: Id, version: i64, fact: VenueEvent) -> Result<(), Refusal> {
    if let VenueEvent::Created { name, address, city, .. } = fact {
        query("INSERT INTO catalogue_venues (venue_id, name, city, address, version) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(name.as_str())
            .bind(city.as_str())
            .bind(address.as_str())
            .bind(version)
            .execute(&mut *connection)
            .await?;
    } else {
        query("UPDATE catalogue_venues SET version = $2 WHERE venue_id = $1")
            .bind(id)
            .bind(version)
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

async fn catalogue_concert(
    connection: &mut PgConnection,
    id: Id,
    version: i64,
    fact: ConcertEvent,
) -> Result<(), Refusal> {
    let statement = match fact {
        ConcertEvent::Created { name, venue_id, profile, .. } => query(
            "INSERT INTO catalogue (concert_id, name, profile, genre, status, venue_id, version) \
             VALUES ($1, $2, $3, $4, 'draft', $5, $6)",
        )
        .bind(id)
        .bind(name.as_str().to_owned())
        .bind(profile_json(&profile)?)
        .bind(profile.genre.map(|text| text.as_str().to_owned()))
        .bind(venue_id.0)
        .bind(version),
        // The fields a change leaves out are null in its JSON: stripped, the
        // rest replaces what the profile had (`ConcertProfile::changed_by`).
        ConcertEvent::DetailsUpdated { name, profile } => query(
            "UPDATE catalogue SET name = coalesce($2, name), \
             profile = (profile::jsonb || jsonb_strip_nulls($3::jsonb))::text, \
             genre = coalesce($4, genre), version = $5 WHERE concert_id = $1",
        )
        .bind(id)
        .bind(name.map(|text| text.as_str().to_owned()))
        .bind(profile_json(&profile)?)
        .bind(profile.genre.map(|text| text.as_str().to_owned()))
        .bind(version),
        ConcertEvent::Scheduled { starts_at, ends_at } => {
            query("UPDATE catalogue SET starts_at = $2, ends_at = $3, version = $4 WHERE concert_id = $1")
                .bind(id)
                .bind(starts_at)
                .bind(ends_at)
                .bind(version)
        }
        ConcertEvent::Published { .. } => {
            query("UPDATE catalogue SET status = 'published', version = $2 WHERE concert_id = $1")
                .bind(id)
                .bind(version)
        }
        ConcertEvent::Cancelled {} => {
            query("UPDATE catalogue SET status = 'cancelled', version = $2 WHERE concert_id = $1")
                .bind(id)
                .bind(version)
        }
        ConcertEvent::TicketTypeAdded { .. }
        | ConcertEvent::TicketTypeRemoved { .. }
        | ConcertEvent::TicketsHeld { .. }
        | ConcertEvent::HoldReleased { .. }
        | ConcertEvent::HoldExpired { .. }
        | ConcertEvent::TicketsSold { .. }
        | ConcertEvent::HoldsAwaitingPayment { .. } => {
            query("UPDATE catalogue SET version = $2 WHERE concert_id = $1").bind(id).bind(version)
        }
    };
    statement.execute(&mut *connection).await?;
    Ok(())
}

async fn venue(connection: &mut PgConnection, id: Id, version: i64, fact: VenueEvent) -> Result<(), Refusal> {
    let statement = match fact {
        VenueEvent::Created { name, address, city, capacity, description, web_url } => query(
            "INSERT INTO venues (venue_id, name, address, city, capacity, description, web_url, deleted, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, false, $8)",
        )
        .bind(id)
        .bind(name.as_str().to_owned())
        .bind(address.as_str().to_owned())
        .bind(city.as_str().to_owned())
        .bind(i64::from(capacity.get()))
        .bind(description.map(|text| text.as_str().to_owned()))
        .bind(web_url.map(|url| url.as_str().to_owned()))
        .bind(version),
        VenueEvent::Deleted { .. } => {
            query("UPDATE venues SET deleted = true, version = $2 WHERE venue_id = $1").bind(id).bind(version)
        }
        VenueEvent::Booked { .. } | VenueEvent::BookingReleased { .. } | VenueEvent::BookingPublished { .. } => {
            query("UPDATE venues SET version = $2 WHERE venue_id = $1").bind(id).bind(version)
        }
    };
    statement.execute(&mut *connection).await?;
    Ok(())
}

async fn ticket_types(
    connection: &mut PgConnection,
    concert_id: Id,
    version: i64,
    fact: ConcertEvent,
) -> Result<(), Refusal> {
    match fact {
        ConcertEvent::TicketTypeAdded { ticket_type_id, name, price, quantity } => {
            query(
                "INSERT INTO ticket_types (ticket_type_id, concert_id, seq, name, price_amount, currency, quantity, \
                 held, sold, available, version) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, $7, $3) \
                 ON CONFLICT (ticket_type_id) DO UPDATE SET concert_id = $2, seq = $3, name = $4, price_amount = $5, \
                 currency = $6, quantity = $7, available = $7 - ticket_types.held - ticket_types.sold, version = $3",
            )
            .bind(ticket_type_id.0)
            .bind(concert_id)
            .bind(version)
            .bind(name.as_str().to_owned())
            .bind(int(price.amount)?)
            .bind(price.currency.as_str().to_owned())
            .bind(i64::from(quantity.get()))
            .execute(&mut *connection)
            .await?;
        }
        ConcertEvent::TicketTypeRemoved { ticket_type_id } => {
            let changed = query("DELETE FROM ticket_types WHERE ticket_type_id = $1")
                .bind(ticket_type_id.0)
                .execute(&mut *connection)
                .await?
                .rows_affected();
            one_row(changed, "removing an unknown ticket type")?;
        }
        ConcertEvent::TicketsHeld { hold_id, ticket_type_id, quantity, expires_at, .. } => {
            adjust(connection, concert_id, ticket_type_id.0, i64::from(quantity.get()), 0, version).await?;
            crate::holds::held(connection, hold_id, concert_id, expires_at).await?;
        }
        ConcertEvent::HoldReleased { hold_id, ticket_type_id, quantity }
        | ConcertEvent::HoldExpired { hold_id, ticket_type_id, quantity } => {
            adjust(connection, concert_id, ticket_type_id.0, -i64::from(quantity.get()), 0, version).await?;
            crate::holds::settled(connection, &[hold_id]).await?;
        }
        ConcertEvent::TicketsSold { holds, .. } => {
            for hold in &holds {
                let count = i64::from(hold.quantity.get());
                adjust(connection, concert_id, hold.ticket_type_id.0, -count, count, version).await?;
            }
            let settled: Vec<HoldId> = holds.iter().map(|hold| hold.hold_id).collect();
            crate::holds::settled(connection, &settled).await?;
        }
        // Held for an order instead of a cart: still held, until the order's due time.
        ConcertEvent::HoldsAwaitingPayment { hold_ids, until, .. } => {
            crate::holds::rescheduled(connection, &hold_ids, until).await?;
        }
        ConcertEvent::Created { .. }
        | ConcertEvent::DetailsUpdated { .. }
        | ConcertEvent::Scheduled { .. }
        | ConcertEvent::Published { .. }
        | ConcertEvent::Cancelled {} => {}
    }
    Ok(())
}

/// Moves a ticket type's held and sold counts, keeping `available` in step.
/// `keeper` wrote the event: the concert, or one of its buckets. A bucket's
/// stream is not ordered with its concert's, so its holds may arrive before
/// the ticket type does: the counts then wait in a row keyed by the bucket
/// (no concert lists it) until `TicketTypeAdded` fills in the rest.
async fn adjust(
    connection: &mut PgConnection,
    keeper: Id,
    ticket_type_id: Id,
    held: i64,
    sold: i64,
    version: i64,
) -> Result<(), Refusal> {
    query(
        "INSERT INTO ticket_types (ticket_type_id, concert_id, seq, name, price_amount, currency, quantity, held, \
         sold, available, version) VALUES ($1, $5, 0, '', 0, '', 0, $2, $3, -($2 + $3), $4) \
         ON CONFLICT (ticket_type_id) DO UPDATE SET held = ticket_types.held + $2, sold = ticket_types.sold + $3, \
         available = ticket_types.quantity - (ticket_types.held + $2) - (ticket_types.sold + $3), version = $4",
    )
    .bind(ticket_type_id)
    .bind(held)
    .bind(sold)
    .bind(version)
    .bind(keeper)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// A concert's profile as the catalogue keeps it: the JSON of its events.
fn profile_json(profile: &ticketing::ConcertProfile) -> Result<String, Refusal> {
    serde_json::to_string(profile).map_err(|error| Refusal::Unfit(format!("a concert's profile: {error}")))
}
