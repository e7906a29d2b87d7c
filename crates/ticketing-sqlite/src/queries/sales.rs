//! The daily sales read model's query.

use chrono::NaiveDate;
use es_core::async_trait;
use ticketing::ConcertId;
use ticketing_app::queries::{DailySales, QueryError, SalesQueries};

use super::{SqliteQueries, bad, money_at, store};

#[async_trait]
impl SalesQueries for SqliteQueries {
    async fn sales(&self, concert_id: ConcertId) -> Result<Vec<DailySales>, QueryError> {
        self.read(move |connection| {
            connection
                .prepare_cached(
                    "SELECT day, tickets, revenue_amount, currency, tickets_refunded, refunded_amount FROM sales \
                     WHERE concert_id = ?1 ORDER BY day",
                )
                .and_then(|mut statement| {
                    statement
                        .query_map([concert_id.to_string()], |row| {
                            let day: String = row.get(0)?;
                            let tickets: i64 = row.get(1)?;
                            let refunded: i64 = row.get(4)?;
                            Ok(DailySales {
                                day: day.parse::<NaiveDate>().map_err(|error| bad(0, error))?,
                                tickets_sold: u64::try_from(tickets).map_err(|error| bad(1, error))?,
                                revenue: money_at(row, 2, 3)?,
                                tickets_refunded: u64::try_from(refunded).map_err(|error| bad(4, error))?,
                                refunded: money_at(row, 5, 3)?,
                            })
                        })?
                        .collect()
                })
                .map_err(store)
        })
        .await
    }
}
