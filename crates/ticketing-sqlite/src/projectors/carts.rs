//! Each customer's cart items.

use es_core::RecordedEvent;
use es_sqlite::{ApplyError, SqliteProjector, TableSpec, Tables};
use rusqlite::params;
use ticketing::{CartEvent, CartId};

use super::CARTS;
use crate::rows::{Fact, Kind, admit, applied_table, decode, execute, int, time};

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
            // The customer's standing is the cart's to enforce; the cart's read model shows its items.
            CartEvent::CustomerDisabled { .. } | CartEvent::CustomerEnabled { .. } => {}
        }
        Ok(())
    }
}
