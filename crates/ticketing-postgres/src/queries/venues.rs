//! The venues read model's queries: venues that are not deleted, by name.

use es_core::async_trait;
use sqlx_core::query_as::query_as;
use sqlx_core::query_builder::QueryBuilder;
use sqlx_postgres::Postgres;
use ticketing::VenueId;
use ticketing_app::queries::{
    Page, QueryError, VenueQueries, VenueView, decode_cursor, encode_cursor, page, page_size,
};

use super::PostgresQueries;
use super::rows::{VENUE_COLUMNS, VenueRow, database, venue_view};

#[async_trait]
impl VenueQueries for PostgresQueries {
    async fn venues(&self, cursor: Option<String>, limit: Option<u32>) -> Result<Page<VenueView>, QueryError> {
        let after = cursor.as_deref().map(decode_cursor).transpose()?;
        let limit = page_size(limit);
        let mut sql = QueryBuilder::<Postgres>::new(format!("SELECT {VENUE_COLUMNS} FROM venues WHERE NOT deleted"));
        if let Some((name, id)) = after {
            sql.push(" AND (name, venue_id) > (").push_bind(name).push(" COLLATE \"C\", ").push_bind(id).push(")");
        }
        sql.push(" ORDER BY name, venue_id LIMIT ").push_bind(i64::from(limit) + 1);
        let rows: Vec<VenueRow> = sql.build_query_as().fetch_all(&self.pool).await.map_err(database)?;
        let venues = rows.into_iter().map(venue_view).collect::<Result<Vec<_>, _>>()?;
        Ok(page(venues, limit, |venue: &VenueView| encode_cursor(&venue.name, venue.id.0)))
    }

    async fn venue(&self, id: VenueId) -> Result<Option<VenueView>, QueryError> {
        let row: Option<VenueRow> =
            query_as(&format!("SELECT {VENUE_COLUMNS} FROM venues WHERE venue_id = $1 AND NOT deleted"))
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await
                .map_err(database)?;
        row.map(venue_view).transpose()
    }
}
