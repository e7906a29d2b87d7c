//! One projector per read model of the shop. Each owns its tables, including
//! copies of whatever it needs from other aggregates (the catalogue keeps the
//! venues' names), so that it never reads another projection: read models
//! are rebuilt one at a time, and a half-built neighbour must not leak in.
//!
//! Every projector guards each source aggregate with its last applied
//! version (`rows::admit`), and every row records the version that last
//! wrote it. One file per projector.

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

mod attendees;
mod carts;
mod catalogue;
mod orders;
mod sales;
mod ticket_types;
mod venues;

pub use attendees::AttendeesProjector;
pub use carts::CartsProjector;
pub use catalogue::CatalogueProjector;
pub use orders::OrdersProjector;
pub use sales::SalesProjector;
pub use ticket_types::TicketTypesProjector;
pub use venues::VenuesProjector;
