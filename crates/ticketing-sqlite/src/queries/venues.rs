//! The venues read model's queries: venues that are not deleted, by name.

use rusqlite::{OptionalExtension, Row, params};
use ticketing::VenueId;
use ticketing_app::queries::{
    Page, QueryError, VenueQueries, VenueView, decode_cursor, encode_cursor, page, page_size,
};

use super::{SqliteQueries, count_at, store, uuid_at};
use es_core::async_trait;

fn venue_row(row: &Row<'_>) -> rusqlite::Result<VenueView> {
    Ok(VenueView {
        id: VenueId(uuid_at(row, 0)?),
        name: row.get(1)?,
        address: row.get(2)?,
        city: row.get(3)?,
        capacity: count_at(row, 4)?,
        description: row.get(5)?,
        web_url: row.get(6)?,
    })
}

const VENUE_COLUMNS: &str = "venue_id, name, address, city, capacity, description, web_url";

#[async_trait]
impl VenueQueries for SqliteQueries {
    async fn venues(&self, cursor: Option<String>, limit: Option<u32>) -> Result<Page<VenueView>, QueryError> {
        let after = cursor.as_deref().map(decode_cursor).transpose()?;
        let limit = page_size(limit);
        self.read(move |connection| {
            let (key, id) = after.map_or((None, None), |(key, id)| (Some(key), Some(id.to_string())));
            let rows = connection
                .prepare_cached(&format!(
                    "SELECT {VENUE_COLUMNS} FROM venues WHERE deleted = 0 \
                     AND (?1 IS NULL OR name > ?1 OR (name = ?1 AND venue_id > ?2)) \
                     ORDER BY name, venue_id LIMIT ?3"
                ))
                .and_then(|mut statement| {
                    statement.query_map(params![key, id, i64::from(limit) + 1], venue_row)?.collect()
                })
                .map_err(store)?;
            Ok(page(rows, limit, |venue: &VenueView| encode_cursor(&venue.name, venue.id.0)))
        })
        .await
    }

    async fn venue(&self, id: VenueId) -> Result<Option<VenueView>, QueryError> {
        self.read(move |connection| {
            connection
                .query_row(
                    &format!("SELECT {VENUE_COLUMNS} FROM venues WHERE venue_id = ?1 AND deleted = 0"),
                    [id.to_string()],
                    venue_row,
                )
                .optional()
                .map_err(store)
        })
        .await
    }
}
