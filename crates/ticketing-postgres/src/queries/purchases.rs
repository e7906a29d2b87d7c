//! The queries over what was bought: orders with their tickets, newest
//! first, paged in the database, and a concert's attendees by ticket code.

use es_core::{async_trait, format_created, parse_created};
use sqlx_core::query_as::query_as;
use sqlx_core::query_builder::QueryBuilder;
use sqlx_postgres::Postgres;
use ticketing::{ConcertId, CustomerId, OrderId, TicketCode};
use ticketing_app::queries::{
    AttendeeQueries, AttendeeView, OrderQueries, OrderView, Page, QueryError, decode_cursor, encode_cursor, page,
    page_size,
};
use uuid::Uuid;

use super::PostgresQueries;
use super::rows::{ATTENDEE_COLUMNS, AttendeeRow, ORDER_SELECT, OrderRow, attendee_view, database, orders_from};

#[async_trait]
impl OrderQueries for PostgresQueries {
    async fn orders_page(
        &self,
        customer: Option<CustomerId>,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page<OrderView>, QueryError> {
        let after = match cursor.as_deref().map(decode_cursor).transpose()? {
            Some((key, id)) => Some((parse_created(&key).map_err(|_| QueryError::InvalidCursor)?, id)),
            None => None,
        };
        let limit = page_size(limit);
        let (placed, id) = after.map_or((None, None), |(placed, id)| (Some(placed), Some(id)));
        // The page's orders first, then their tickets: one row per ticket.
        let rows: Vec<OrderRow> = query_as(&format!(
            "{ORDER_SELECT} WHERE o.order_id IN (SELECT order_id FROM orders \
             WHERE ($1::uuid IS NULL OR customer_id = $1) \
             AND ($2::timestamptz IS NULL OR (placed_at, order_id) < ($2, $3)) \
             ORDER BY placed_at DESC, order_id DESC LIMIT $4) \
             ORDER BY o.placed_at DESC, o.order_id DESC, t.seq"
        ))
        .bind(customer.map(|customer| customer.0))
        .bind(placed)
        .bind(id)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        Ok(page(orders_from(rows)?, limit, |order| encode_cursor(&format_created(order.placed_at), order.id.0)))
    }

    async fn orders(&self, customer: Option<CustomerId>) -> Result<Vec<OrderView>, QueryError> {
        let mut sql = QueryBuilder::<Postgres>::new(ORDER_SELECT);
        if let Some(customer) = customer {
            sql.push(" WHERE o.customer_id = ").push_bind(customer.0);
        }
        sql.push(" ORDER BY o.placed_at DESC, o.order_id DESC, t.seq");
        let rows: Vec<OrderRow> = sql.build_query_as().fetch_all(&self.pool).await.map_err(database)?;
        orders_from(rows)
    }

    async fn order(&self, id: OrderId) -> Result<Option<OrderView>, QueryError> {
        let rows: Vec<OrderRow> = query_as(&format!("{ORDER_SELECT} WHERE o.order_id = $1 ORDER BY t.seq"))
            .bind(id.0)
            .fetch_all(&self.pool)
            .await
            .map_err(database)?;
        Ok(orders_from(rows)?.pop())
    }

    async fn ticket_order(&self, code: &TicketCode) -> Result<Option<OrderId>, QueryError> {
        let row: Option<(Uuid,)> = query_as("SELECT order_id FROM attendees WHERE ticket_code = $1")
            .bind(code.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(database)?;
        Ok(row.map(|(id,)| OrderId(id)))
    }
}

#[async_trait]
impl AttendeeQueries for PostgresQueries {
    async fn attendees(&self, concert_id: ConcertId) -> Result<Vec<AttendeeView>, QueryError> {
        let rows: Vec<AttendeeRow> = query_as(&format!(
            "SELECT {ATTENDEE_COLUMNS} FROM attendees WHERE concert_id = $1 AND NOT refunded \
             ORDER BY ticket_code, order_id"
        ))
        .bind(concert_id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        Ok(rows.into_iter().map(attendee_view).collect())
    }

    async fn attendees_page(
        &self,
        concert_id: ConcertId,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page<AttendeeView>, QueryError> {
        let after = cursor.as_deref().map(decode_cursor).transpose()?;
        let limit = page_size(limit);
        let (code, order) = after.map_or((None, None), |(code, order)| (Some(code), Some(order)));
        let rows: Vec<AttendeeRow> = query_as(&format!(
            "SELECT {ATTENDEE_COLUMNS} FROM attendees WHERE concert_id = $1 AND NOT refunded \
             AND ($2::text IS NULL OR (ticket_code, order_id) > ($2, $3)) \
             ORDER BY ticket_code, order_id LIMIT $4"
        ))
        .bind(concert_id.0)
        .bind(code)
        .bind(order)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(database)?;
        let attendees: Vec<AttendeeView> = rows.into_iter().map(attendee_view).collect();
        Ok(page(attendees, limit, |attendee| encode_cursor(&attendee.ticket_code, attendee.order_id.0)))
    }
}
