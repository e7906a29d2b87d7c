//! The daily sales read model's query.

use chrono::NaiveDate;
use es_core::async_trait;
use sqlx_core::query_as::query_as;
use ticketing::ConcertId;
use ticketing_app::queries::{DailySales, QueryError, SalesQueries};

use super::PostgresQueries;
use super::rows::{database, money, unsigned};

#[async_trait]
impl SalesQueries for PostgresQueries {
    async fn sales(&self, concert_id: ConcertId) -> Result<Vec<DailySales>, QueryError> {
        let rows: Vec<(NaiveDate, i64, i64, String, i64, i64)> = query_as(
            "SELECT day, tickets, revenue_amount, currency, tickets_refunded, refunded_amount FROM sales \
             WHERE concert_id = $1 ORDER BY day",
        )
        .bind(concert_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        rows.into_iter()
            .map(|(day, tickets, revenue, currency, tickets_refunded, refunded)| {
                Ok(DailySales {
                    day,
                    tickets_sold: unsigned(tickets)?,
                    revenue: money(revenue, &currency)?,
                    tickets_refunded: unsigned(tickets_refunded)?,
                    refunded: money(refunded, &currency)?,
                })
            })
            .collect()
    }
}
