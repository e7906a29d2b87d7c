//! One projector per read model of the shop. Each owns its tables, including
//! copies of whatever it needs from other aggregates (the catalogue keeps the
//! venues' names), so that it never reads another projection: read models
//! are rebuilt one at a time, and a half-built neighbour must not leak in.
//!
//! Every projector guards each source aggregate with its last applied
//! version ([`admit`]), and every row records the version that last wrote it.

use es_core::RecordedEvent;
use es_sqlite::{ApplyError, SqliteProjector, TableSpec, Tables};
use rusqlite::{OptionalExtension, params};
use ticketing::{CartEvent, CartId, ConcertEvent, ConcertProfile, OrderEvent, VenueEvent};

use crate::rows::{Fact, Kind, admit, applied_table, decode, execute, int, one_row, time};

/// The catalogue's projection name.
pub const CATALOGUE: &str = "catalogue";
/// The venues' projection name.
pub const VENUES: &str = "venues";
/// The ticket types' projection name.
pub const TICKET_TYPES: &str = "ticket_types";
/// The carts' projection name.
pub const CARTS: &str = "carts";
/// The orders' projection name.
pub const ORDERS: &str = "orders";
/// The attendees' projection name.
pub const ATTENDEES: &str = "attendees";
/// The daily sales' projection name.
pub const SALES: &str = "sales";

/// Concerts with their venue's name, city and address, status and schedule:
/// what search and the concert page read. The concert's profile is kept
/// whole as JSON (a new field of it needs no column); its genre also has a
/// column of its own, for search.
#[derive(Debug, Default)]
pub struct CatalogueProjector;

const CATALOGUE_TABLES: &[TableSpec] = &[
    TableSpec {
        name: "catalogue",
        columns: "concert_id TEXT PRIMARY KEY, name TEXT NOT NULL, profile TEXT NOT NULL, genre TEXT, \
                  status TEXT NOT NULL, starts_at TEXT, ends_at TEXT, venue_id TEXT NOT NULL, \
                  venue_name TEXT NOT NULL, venue_city TEXT NOT NULL, venue_address TEXT NOT NULL, \
                  version INTEGER NOT NULL",
        indexes: &["status, starts_at, concert_id", "lower(name)", "lower(genre)", "venue_id"],
    },
    TableSpec {
        name: "catalogue_venues",
        columns: "venue_id TEXT PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL, address TEXT NOT NULL, \
                  version INTEGER NOT NULL",
        indexes: &[],
    },
    applied_table("catalogue_applied"),
];

impl SqliteProjector for CatalogueProjector {
    fn name(&self) -> &str {
        CATALOGUE
    }

    fn tables(&self) -> &[TableSpec] {
        CATALOGUE_TABLES
    }

    /// 2: the concert's profile is kept whole, as JSON (it had a column per
    /// field).
    fn shape(&self) -> u32 {
        2
    }

    fn apply(&self, tables: &Tables<'_>, event: &RecordedEvent) -> Result<(), ApplyError> {
        let Some(fact) = decode(event, &[Kind::Venue, Kind::Concert])? else {
            return Ok(());
        };
        if !admit(tables, "catalogue_applied", event)? {
            return Ok(());
        }
        let connection = tables.connection();
        let id = event.aggregate_id.to_string();
        let version = int(event.aggregate_version.0)?;
        let catalogue = tables.name("catalogue");
        let venues = tables.name("catalogue_venues");
        match fact {
            Fact::Venue(VenueEvent::Created { name, address, city, .. }) => {
                execute(
                    connection,
                    &format!(
                        "INSERT INTO {venues} (venue_id, name, city, address, version) VALUES (?1, ?2, ?3, ?4, ?5)"
                    ),
                    params![id, name.as_str(), city.as_str(), address.as_str(), version],
                )?;
            }
            Fact::Venue(_) => {
                execute(
                    connection,
                    &format!("UPDATE {venues} SET version = ?2 WHERE venue_id = ?1"),
                    params![id, version],
                )?;
            }
            Fact::Concert(ConcertEvent::Created { name, venue_id, profile, .. }) => {
                let changed = execute(
                    connection,
                    &format!(
                        "INSERT INTO {catalogue} (concert_id, name, profile, genre, status, venue_id, \
                         venue_name, venue_city, venue_address, version) \
                         SELECT ?1, ?2, ?3, ?4, 'draft', venue_id, name, city, address, ?5 \
                         FROM {venues} WHERE venue_id = ?6"
                    ),
                    params![
                        id,
                        name.as_str(),
                        serde_json::to_string(&profile)?,
                        profile.genre.as_ref().map(|text| text.as_str()),
                        version,
                        venue_id.to_string()
                    ],
                )?;
                one_row(changed, "a concert at an unknown venue")?;
            }
            Fact::Concert(ConcertEvent::DetailsUpdated { name, profile: changes }) => {
                let stored: Option<String> = connection
                    .prepare_cached(&format!("SELECT profile FROM {catalogue} WHERE concert_id = ?1"))?
                    .query_row([&id], |row| row.get(0))
                    .optional()?;
                let Some(stored) = stored else {
                    return Ok(());
                };
                let profile = serde_json::from_str::<ConcertProfile>(&stored)?.changed_by(&changes);
                execute(
                    connection,
                    &format!(
                        "UPDATE {catalogue} SET name = coalesce(?2, name), profile = ?3, genre = ?4, version = ?5 \
                         WHERE concert_id = ?1"
                    ),
                    params![
                        id,
                        name.as_ref().map(|text| text.as_str()),
                        serde_json::to_string(&profile)?,
                        profile.genre.as_ref().map(|text| text.as_str()),
                        version
                    ],
                )?;
            }
            Fact::Concert(ConcertEvent::Scheduled { starts_at, ends_at }) => {
                execute(
                    connection,
                    &format!("UPDATE {catalogue} SET starts_at = ?2, ends_at = ?3, version = ?4 WHERE concert_id = ?1"),
                    params![id, time(starts_at), time(ends_at), version],
                )?;
            }
            Fact::Concert(ConcertEvent::Published { .. }) => set_status(tables, &id, "published", version)?,
            Fact::Concert(ConcertEvent::Cancelled {}) => set_status(tables, &id, "cancelled", version)?,
            Fact::Concert(_) => {
                execute(
                    connection,
                    &format!("UPDATE {catalogue} SET version = ?2 WHERE concert_id = ?1"),
                    params![id, version],
                )?;
            }
            Fact::Cart(_) | Fact::Order(_) => {}
        }
        Ok(())
    }
}

fn set_status(tables: &Tables<'_>, concert_id: &str, status: &str, version: i64) -> Result<(), ApplyError> {
    let catalogue = tables.name("catalogue");
    execute(
        tables.connection(),
        &format!("UPDATE {catalogue} SET status = ?2, version = ?3 WHERE concert_id = ?1"),
        params![concert_id, status, version],
    )?;
    Ok(())
}

/// Venues as listed and shown; deleted ones stay, marked.
#[derive(Debug, Default)]
pub struct VenuesProjector;

const VENUE_TABLES: &[TableSpec] = &[
    TableSpec {
        name: "venues",
        columns: "venue_id TEXT PRIMARY KEY, name TEXT NOT NULL, address TEXT NOT NULL, city TEXT NOT NULL, \
                  capacity INTEGER NOT NULL, description TEXT, web_url TEXT, deleted INTEGER NOT NULL, \
                  version INTEGER NOT NULL",
        indexes: &["deleted, name, venue_id"],
    },
    applied_table("venues_applied"),
];

impl SqliteProjector for VenuesProjector {
    fn name(&self) -> &str {
        VENUES
    }

    fn tables(&self) -> &[TableSpec] {
        VENUE_TABLES
    }

    fn apply(&self, tables: &Tables<'_>, event: &RecordedEvent) -> Result<(), ApplyError> {
        let Some(Fact::Venue(fact)) = decode(event, &[Kind::Venue])? else {
            return Ok(());
        };
        if !admit(tables, "venues_applied", event)? {
            return Ok(());
        }
        let venues = tables.name("venues");
        let id = event.aggregate_id.to_string();
        let version = int(event.aggregate_version.0)?;
        let connection = tables.connection();
        match fact {
            VenueEvent::Created { name, address, city, capacity, description, web_url } => {
                execute(
                    connection,
                    &format!(
                        "INSERT INTO {venues} (venue_id, name, address, city, capacity, description, web_url, \
                         deleted, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8)"
                    ),
                    params![
                        id,
                        name.as_str(),
                        address.as_str(),
                        city.as_str(),
                        capacity.get(),
                        description.as_ref().map(|text| text.as_str()),
                        web_url.as_ref().map(|url| url.as_str()),
                        version
                    ],
                )?;
            }
            VenueEvent::Deleted { .. } => {
                execute(
                    connection,
                    &format!("UPDATE {venues} SET deleted = 1, version = ?2 WHERE venue_id = ?1"),
                    params![id, version],
                )?;
            }
            VenueEvent::Booked { .. } | VenueEvent::BookingReleased { .. } | VenueEvent::BookingPublished { .. } => {
                execute(
                    connection,
                    &format!("UPDATE {venues} SET version = ?2 WHERE venue_id = ?1"),
                    params![id, version],
                )?;
            }
        }
        Ok(())
    }
}

/// Each concert's ticket types with held, sold and available counts.
#[derive(Debug, Default)]
pub struct TicketTypesProjector;

const TICKET_TYPE_TABLES: &[TableSpec] = &[
    TableSpec {
        name: "ticket_types",
        columns: "ticket_type_id TEXT PRIMARY KEY, concert_id TEXT NOT NULL, seq INTEGER NOT NULL, \
                  name TEXT NOT NULL, price_amount INTEGER NOT NULL, currency TEXT NOT NULL, \
                  quantity INTEGER NOT NULL, held INTEGER NOT NULL, sold INTEGER NOT NULL, \
                  available INTEGER NOT NULL, version INTEGER NOT NULL",
        indexes: &["concert_id, seq"],
    },
    applied_table("ticket_types_applied"),
];

impl SqliteProjector for TicketTypesProjector {
    fn name(&self) -> &str {
        TICKET_TYPES
    }

    fn tables(&self) -> &[TableSpec] {
        TICKET_TYPE_TABLES
    }

    fn apply(&self, tables: &Tables<'_>, event: &RecordedEvent) -> Result<(), ApplyError> {
        let Some(Fact::Concert(fact)) = decode(event, &[Kind::Concert])? else {
            return Ok(());
        };
        if !admit(tables, "ticket_types_applied", event)? {
            return Ok(());
        }
        let table = tables.name("ticket_types");
        let concert_id = event.aggregate_id.to_string();
        let version = int(event.aggregate_version.0)?;
        let connection = tables.connection();
        match fact {
            ConcertEvent::TicketTypeAdded { ticket_type_id, name, price, quantity } => {
                execute(
                    connection,
                    &format!(
                        "INSERT INTO {table} (ticket_type_id, concert_id, seq, name, price_amount, currency, \
                         quantity, held, sold, available, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0, ?7, ?8)"
                    ),
                    params![
                        ticket_type_id.to_string(),
                        concert_id,
                        int(event.position.0)?,
                        name.as_str(),
                        int(price.amount)?,
                        price.currency.as_str(),
                        quantity.get(),
                        version
                    ],
                )?;
            }
            ConcertEvent::TicketTypeRemoved { ticket_type_id } => {
                let changed = execute(
                    connection,
                    &format!("DELETE FROM {table} WHERE ticket_type_id = ?1"),
                    [ticket_type_id.to_string()],
                )?;
                one_row(changed, "removing an unknown ticket type")?;
            }
            ConcertEvent::TicketsHeld { ticket_type_id, quantity, .. } => {
                adjust(tables, &ticket_type_id.to_string(), i64::from(quantity.get()), 0, version)?;
            }
            ConcertEvent::HoldReleased { ticket_type_id, quantity, .. }
            | ConcertEvent::HoldExpired { ticket_type_id, quantity, .. } => {
                adjust(tables, &ticket_type_id.to_string(), -i64::from(quantity.get()), 0, version)?;
            }
            ConcertEvent::TicketsSold { holds, .. } => {
                for hold in holds {
                    let count = i64::from(hold.quantity.get());
                    adjust(tables, &hold.ticket_type_id.to_string(), -count, count, version)?;
                }
            }
            ConcertEvent::Created { .. }
            | ConcertEvent::DetailsUpdated { .. }
            | ConcertEvent::Scheduled { .. }
            | ConcertEvent::Published { .. }
            | ConcertEvent::Cancelled {} => {}
        }
        Ok(())
    }
}

/// Moves a ticket type's held and sold counts, keeping `available` in step.
fn adjust(tables: &Tables<'_>, ticket_type_id: &str, held: i64, sold: i64, version: i64) -> Result<(), ApplyError> {
    let table = tables.name("ticket_types");
    let changed = execute(
        tables.connection(),
        &format!(
            "UPDATE {table} SET held = held + ?2, sold = sold + ?3, \
             available = quantity - (held + ?2) - (sold + ?3), version = ?4 WHERE ticket_type_id = ?1"
        ),
        params![ticket_type_id, held, sold, version],
    )?;
    one_row(changed, "tickets of an unknown ticket type")
}

/// Each customer's cart items, until removed, expired or checked out.
#[derive(Debug, Default)]
pub struct CartsProjector;

const CART_TABLES: &[TableSpec] = &[
    TableSpec {
        name: "cart_items",
        columns: "item_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, seq INTEGER NOT NULL, \
                  concert_id TEXT NOT NULL, ticket_type_id TEXT NOT NULL, quantity INTEGER NOT NULL, \
                  unit_amount INTEGER NOT NULL, currency TEXT NOT NULL, expires_at TEXT NOT NULL, \
                  version INTEGER NOT NULL",
        indexes: &["customer_id, seq"],
    },
    applied_table("carts_applied"),
];

impl SqliteProjector for CartsProjector {
    fn name(&self) -> &str {
        CARTS
    }

    fn tables(&self) -> &[TableSpec] {
        CART_TABLES
    }

    fn apply(&self, tables: &Tables<'_>, event: &RecordedEvent) -> Result<(), ApplyError> {
        let Some(Fact::Cart(fact)) = decode(event, &[Kind::Cart])? else {
            return Ok(());
        };
        if !admit(tables, "carts_applied", event)? {
            return Ok(());
        }
        let table = tables.name("cart_items");
        let customer = CartId::from(event.aggregate_id).customer().to_string();
        let connection = tables.connection();
        match fact {
            CartEvent::ItemAdded { item_id, concert_id, ticket_type_id, quantity, unit_price, expires_at, .. } => {
                execute(
                    connection,
                    &format!(
                        "INSERT INTO {table} (item_id, customer_id, seq, concert_id, ticket_type_id, quantity, \
                         unit_amount, currency, expires_at, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                    ),
                    params![
                        item_id.to_string(),
                        customer,
                        int(event.position.0)?,
                        concert_id.to_string(),
                        ticket_type_id.to_string(),
                        quantity.get(),
                        int(unit_price.amount)?,
                        unit_price.currency.as_str(),
                        time(expires_at),
                        int(event.aggregate_version.0)?
                    ],
                )?;
            }
            CartEvent::ItemRemoved { item_id } | CartEvent::ItemExpired { item_id } => {
                execute(connection, &format!("DELETE FROM {table} WHERE item_id = ?1"), [item_id.to_string()])?;
            }
            CartEvent::CheckedOut { item_ids, .. } => {
                for item_id in item_ids {
                    execute(connection, &format!("DELETE FROM {table} WHERE item_id = ?1"), [item_id.to_string()])?;
                }
            }
        }
        Ok(())
    }
}

/// Orders with their tickets.
#[derive(Debug, Default)]
pub struct OrdersProjector;

const ORDER_TABLES: &[TableSpec] = &[
    TableSpec {
        name: "orders",
        columns: "order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, total_amount INTEGER NOT NULL, \
                  currency TEXT NOT NULL, placed_at TEXT NOT NULL, version INTEGER NOT NULL",
        indexes: &["customer_id, placed_at", "placed_at"],
    },
    TableSpec {
        name: "order_tickets",
        columns: "order_id TEXT NOT NULL, code TEXT NOT NULL, seq INTEGER NOT NULL, concert_id TEXT NOT NULL, \
                  ticket_type_id TEXT NOT NULL, checked_in_at TEXT, version INTEGER NOT NULL, \
                  PRIMARY KEY (order_id, code)",
        indexes: &["order_id, seq"],
    },
    applied_table("orders_applied"),
];

impl SqliteProjector for OrdersProjector {
    fn name(&self) -> &str {
        ORDERS
    }

    fn tables(&self) -> &[TableSpec] {
        ORDER_TABLES
    }

    fn apply(&self, tables: &Tables<'_>, event: &RecordedEvent) -> Result<(), ApplyError> {
        let Some(Fact::Order(fact)) = decode(event, &[Kind::Order])? else {
            return Ok(());
        };
        if !admit(tables, "orders_applied", event)? {
            return Ok(());
        }
        let orders = tables.name("orders");
        let tickets = tables.name("order_tickets");
        let order_id = event.aggregate_id.to_string();
        let version = int(event.aggregate_version.0)?;
        let connection = tables.connection();
        match fact {
            OrderEvent::Placed { customer_id, lines, total, placed_at, .. } => {
                execute(
                    connection,
                    &format!(
                        "INSERT INTO {orders} (order_id, customer_id, total_amount, currency, placed_at, version) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                    ),
                    params![
                        order_id,
                        customer_id.to_string(),
                        int(total.amount)?,
                        total.currency.as_str(),
                        time(placed_at),
                        version
                    ],
                )?;
                let mut insert = connection.prepare_cached(&format!(
                    "INSERT INTO {tickets} (order_id, code, seq, concert_id, ticket_type_id, version) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ))?;
                let codes = lines.iter().flat_map(|line| line.ticket_codes.iter().map(move |code| (line, code)));
                for (seq, (line, code)) in codes.enumerate() {
                    insert.execute(params![
                        order_id,
                        code.as_str(),
                        int(seq as u64)?,
                        line.concert_id.to_string(),
                        line.ticket_type_id.to_string(),
                        version
                    ])?;
                }
            }
            OrderEvent::TicketCheckedIn { code, checked_in_at } => {
                let changed = execute(
                    connection,
                    &format!("UPDATE {tickets} SET checked_in_at = ?3, version = ?4 WHERE order_id = ?1 AND code = ?2"),
                    params![order_id, code.as_str(), time(checked_in_at), version],
                )?;
                one_row(changed, "checking in an unknown ticket")?;
                execute(
                    connection,
                    &format!("UPDATE {orders} SET version = ?2 WHERE order_id = ?1"),
                    params![order_id, version],
                )?;
            }
        }
        Ok(())
    }
}

/// Ticket holders per concert, for the door: looked up by code.
#[derive(Debug, Default)]
pub struct AttendeesProjector;

const ATTENDEE_TABLES: &[TableSpec] = &[
    TableSpec {
        name: "attendees",
        columns: "ticket_code TEXT PRIMARY KEY, concert_id TEXT NOT NULL, order_id TEXT NOT NULL, \
                  customer_id TEXT NOT NULL, ticket_type_id TEXT NOT NULL, checked_in_at TEXT, \
                  version INTEGER NOT NULL",
        indexes: &["concert_id, ticket_code"],
    },
    applied_table("attendees_applied"),
];

impl SqliteProjector for AttendeesProjector {
    fn name(&self) -> &str {
        ATTENDEES
    }

    fn tables(&self) -> &[TableSpec] {
        ATTENDEE_TABLES
    }

    fn apply(&self, tables: &Tables<'_>, event: &RecordedEvent) -> Result<(), ApplyError> {
        let Some(Fact::Order(fact)) = decode(event, &[Kind::Order])? else {
            return Ok(());
        };
        if !admit(tables, "attendees_applied", event)? {
            return Ok(());
        }
        let table = tables.name("attendees");
        let order_id = event.aggregate_id.to_string();
        let version = int(event.aggregate_version.0)?;
        let connection = tables.connection();
        match fact {
            OrderEvent::Placed { customer_id, lines, .. } => {
                // A code issued twice is refused here (primary key): the door
                // must never find two tickets under one code.
                let mut insert = connection.prepare_cached(&format!(
                    "INSERT INTO {table} (ticket_code, concert_id, order_id, customer_id, ticket_type_id, version) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ))?;
                for line in &lines {
                    for code in &line.ticket_codes {
                        insert.execute(params![
                            code.as_str(),
                            line.concert_id.to_string(),
                            order_id,
                            customer_id.to_string(),
                            line.ticket_type_id.to_string(),
                            version
                        ])?;
                    }
                }
            }
            OrderEvent::TicketCheckedIn { code, checked_in_at } => {
                let changed = execute(
                    connection,
                    &format!(
                        "UPDATE {table} SET checked_in_at = ?3, version = ?4 WHERE ticket_code = ?1 AND order_id = ?2"
                    ),
                    params![code.as_str(), order_id, time(checked_in_at), version],
                )?;
                one_row(changed, "checking in an unknown ticket")?;
            }
        }
        Ok(())
    }
}

/// Tickets sold and revenue per concert per UTC day of the sale, at the
/// prices paid (from the orders, which carry them).
#[derive(Debug, Default)]
pub struct SalesProjector;

const SALES_TABLES: &[TableSpec] = &[
    TableSpec {
        name: "sales",
        columns: "concert_id TEXT NOT NULL, day TEXT NOT NULL, tickets INTEGER NOT NULL, \
                  revenue_amount INTEGER NOT NULL, currency TEXT NOT NULL, PRIMARY KEY (concert_id, day)",
        indexes: &[],
    },
    applied_table("sales_applied"),
];

impl SqliteProjector for SalesProjector {
    fn name(&self) -> &str {
        SALES
    }

    fn tables(&self) -> &[TableSpec] {
        SALES_TABLES
    }

    fn apply(&self, tables: &Tables<'_>, event: &RecordedEvent) -> Result<(), ApplyError> {
        let Some(Fact::Order(OrderEvent::Placed { lines, placed_at, .. })) = decode(event, &[Kind::Order])? else {
            return Ok(());
        };
        // Rows add up many orders, so the guard table alone keeps their versions.
        if !admit(tables, "sales_applied", event)? {
            return Ok(());
        }
        let table = tables.name("sales");
        let day = placed_at.date_naive().to_string();
        for line in &lines {
            let revenue = line.unit_price.times(line.quantity)?;
            let changed = execute(
                tables.connection(),
                &format!(
                    "INSERT INTO {table} (concert_id, day, tickets, revenue_amount, currency) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (concert_id, day) DO UPDATE SET \
                     tickets = tickets + excluded.tickets, revenue_amount = revenue_amount + excluded.revenue_amount \
                     WHERE currency = excluded.currency"
                ),
                params![
                    line.concert_id.to_string(),
                    day,
                    line.quantity.get(),
                    int(revenue.amount)?,
                    revenue.currency.as_str()
                ],
            )?;
            one_row(changed, "a sale in a second currency for one concert")?;
        }
        Ok(())
    }
}
