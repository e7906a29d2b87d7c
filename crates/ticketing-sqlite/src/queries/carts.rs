//! The carts read model's query: a customer's live items and their total.

use chrono::{DateTime, Utc};
use es_core::async_trait;
use rusqlite::params;
use ticketing::{ConcertId, CustomerId, Money};
use ticketing_app::queries::{CartItemView, CartQueries, CartView, QueryError};

use super::{SqliteQueries, count_at, money_at, store, time_at, uuid_at};
use crate::rows::time;

#[async_trait]
impl CartQueries for SqliteQueries {
    async fn cart(&self, customer: CustomerId, now: DateTime<Utc>) -> Result<CartView, QueryError> {
        self.read(move |connection| {
            let items: Vec<CartItemView> = connection
                .prepare_cached(
                    "SELECT item_id, concert_id, ticket_type_id, quantity, unit_amount, currency, expires_at \
                     FROM cart_items WHERE customer_id = ?1 AND expires_at > ?2 ORDER BY seq",
                )
                .and_then(|mut statement| {
                    statement
                        .query_map(params![customer.to_string(), time(now)], |row| {
                            Ok(CartItemView {
                                id: ticketing::HoldId(uuid_at(row, 0)?),
                                concert_id: ConcertId(uuid_at(row, 1)?),
                                ticket_type_id: ticketing::TicketTypeId(uuid_at(row, 2)?),
                                quantity: count_at(row, 3)?,
                                unit_price: money_at(row, 4, 5)?,
                                expires_at: time_at(row, 6)?,
                            })
                        })?
                        .collect()
                })
                .map_err(store)?;
            let mut total: Option<Money> = None;
            for item in &items {
                let quantity = ticketing::Quantity::new(item.quantity).map_err(QueryError::store)?;
                let subtotal = item.unit_price.times(quantity).map_err(QueryError::store)?;
                total = Some(match total {
                    None => subtotal,
                    Some(sum) => sum.plus(subtotal).map_err(QueryError::store)?,
                });
            }
            Ok(CartView { items, total })
        })
        .await
    }
}
