//! The catalogue's queries: the search of published concerts (each filter
//! a semi-join, so that each can use its trigram index), the organisers'
//! drafts, and one concert with its ticket types in one statement.

use es_core::{async_trait, format_created, parse_created, truncate_to_millis};
use sqlx_core::query_as::query_as;
use sqlx_core::query_builder::QueryBuilder;
use sqlx_postgres::Postgres;
use ticketing::{ConcertId, TicketTypeId, VenueId};
use ticketing_app::queries::{
    CatalogueQueries, ConcertSearch, ConcertSummary, ConcertView, DraftSummary, Page, QueryError, TicketTypeView,
    VenueRef, decode_cursor, encode_cursor, page, page_size,
};

use super::PostgresQueries;
use super::rows::{
    ConcertAndTicketType, ConcertRow, ConcertSummaryRow, DraftRow, TicketTypeRow, containing, corrupt, count, database,
    money, status,
};

#[async_trait]
impl CatalogueQueries for PostgresQueries {
    async fn concerts(&self, search: ConcertSearch) -> Result<Page<ConcertSummary>, QueryError> {
        let after = match search.cursor.as_deref().map(decode_cursor).transpose()? {
            Some((key, id)) => Some((parse_created(&key).map_err(|_| QueryError::InvalidCursor)?, id)),
            None => None,
        };
        let limit = page_size(search.limit);
        let mut sql = QueryBuilder::<Postgres>::new(
            "SELECT c.concert_id, c.name, c.genre, c.starts_at, c.ends_at, v.venue_id, v.name, v.city \
             FROM catalogue c JOIN catalogue_venues v ON v.venue_id = c.venue_id \
             WHERE c.status = 'published' AND c.starts_at IS NOT NULL",
        );
        // Filters as semi-joins, so that each can use its trigram index.
        if let Some(q) = &search.q {
            let pattern = containing(q);
            sql.push(" AND c.concert_id IN (SELECT concert_id FROM catalogue WHERE lower(name) LIKE ")
                .push_bind(pattern.clone())
                .push(" UNION ALL SELECT k.concert_id FROM catalogue k JOIN catalogue_venues w ")
                .push("ON w.venue_id = k.venue_id WHERE lower(w.name) LIKE ")
                .push_bind(pattern)
                .push(")");
        }
        if let Some(location) = &search.location {
            let pattern = containing(location);
            sql.push(" AND c.venue_id IN (SELECT venue_id FROM catalogue_venues WHERE lower(city) LIKE ")
                .push_bind(pattern.clone())
                .push(" OR lower(address) LIKE ")
                .push_bind(pattern)
                .push(")");
        }
        if let Some(from) = search.from {
            sql.push(" AND c.starts_at >= ").push_bind(truncate_to_millis(from));
        }
        if let Some(to) = search.to {
            sql.push(" AND c.starts_at <= ").push_bind(truncate_to_millis(to));
        }
        if let Some(genre) = &search.genre {
            sql.push(" AND lower(c.genre) = ").push_bind(genre.to_ascii_lowercase()).push(" COLLATE \"C\"");
        }
        if let Some((starts_at, id)) = after {
            sql.push(" AND (c.starts_at, c.concert_id) > (").push_bind(starts_at).push(", ").push_bind(id).push(")");
        }
        sql.push(" ORDER BY c.starts_at, c.concert_id LIMIT ").push_bind(i64::from(limit) + 1);
        let rows: Vec<ConcertSummaryRow> = sql.build_query_as().fetch_all(&self.pool).await.map_err(database)?;
        let concerts: Vec<ConcertSummary> = rows
            .into_iter()
            .map(|(id, name, genre, starts_at, ends_at, venue_id, venue_name, venue_city)| ConcertSummary {
                id: ConcertId(id),
                name,
                genre,
                starts_at,
                ends_at,
                venue: VenueRef { id: VenueId(venue_id), name: venue_name, city: venue_city },
            })
            .collect();
        Ok(page(concerts, limit, |concert: &ConcertSummary| {
            encode_cursor(&format_created(concert.starts_at), concert.id.0)
        }))
    }

    async fn drafts(&self, cursor: Option<String>, limit: Option<u32>) -> Result<Page<DraftSummary>, QueryError> {
        let after = cursor.as_deref().map(decode_cursor).transpose()?;
        let limit = page_size(limit);
        let mut sql = QueryBuilder::<Postgres>::new(
            "SELECT c.concert_id, c.name, c.genre, c.starts_at, v.venue_id, v.name, v.city \
             FROM catalogue c JOIN catalogue_venues v ON v.venue_id = c.venue_id WHERE c.status = 'draft'",
        );
        if let Some((name, id)) = after {
            sql.push(" AND (c.name, c.concert_id) > (")
                .push_bind(name)
                .push(" COLLATE \"C\", ")
                .push_bind(id)
                .push(")");
        }
        sql.push(" ORDER BY c.name, c.concert_id LIMIT ").push_bind(i64::from(limit) + 1);
        let rows: Vec<DraftRow> = sql.build_query_as().fetch_all(&self.pool).await.map_err(database)?;
        let drafts: Vec<DraftSummary> = rows
            .into_iter()
            .map(|(id, name, genre, starts_at, venue_id, venue_name, venue_city)| DraftSummary {
                id: ConcertId(id),
                name,
                genre,
                starts_at,
                venue: VenueRef { id: VenueId(venue_id), name: venue_name, city: venue_city },
            })
            .collect();
        Ok(page(drafts, limit, |draft: &DraftSummary| encode_cursor(&draft.name, draft.id.0)))
    }

    async fn concert(&self, id: ConcertId, include_drafts: bool) -> Result<Option<ConcertView>, QueryError> {
        let rows: Vec<(ConcertRow, TicketTypeRow)> = query_as::<_, ConcertAndTicketType>(
            "SELECT c.concert_id, c.name, c.profile, c.status, c.starts_at, c.ends_at, \
             v.venue_id, v.name, v.city, \
             t.ticket_type_id, t.name, t.price_amount, t.currency, t.quantity, t.available \
             FROM catalogue c JOIN catalogue_venues v ON v.venue_id = c.venue_id \
             LEFT JOIN ticket_types t ON t.concert_id = c.concert_id \
             WHERE c.concert_id = $1 AND (c.status <> 'draft' OR $2) ORDER BY t.seq",
        )
        .bind(id.0)
        .bind(include_drafts)
        .fetch_all(&self.pool)
        .await
        .map_err(database)?
        .into_iter()
        .map(|ConcertAndTicketType(concert, ticket_type)| (concert, ticket_type))
        .collect();
        let Some(((concert_id, name, profile, status_text, starts_at, ends_at, venue_id, venue_name, venue_city), _)) =
            rows.first().cloned()
        else {
            return Ok(None);
        };
        let mut ticket_types = Vec::new();
        for (_, ticket_type) in rows {
            let (Some(id), Some(name), Some(amount), Some(currency), Some(quantity), Some(available)) = ticket_type
            else {
                continue;
            };
            ticket_types.push(TicketTypeView {
                id: TicketTypeId(id),
                name,
                price: money(amount, &currency)?,
                quantity: count(quantity)?,
                available: count(available)?,
            });
        }
        Ok(Some(ConcertView {
            id: ConcertId(concert_id),
            name,
            profile: serde_json::from_str(&profile)
                .map_err(|error| corrupt(format!("a concert's profile: {error}")))?,
            status: status(&status_text)?,
            starts_at,
            ends_at,
            venue: VenueRef { id: VenueId(venue_id), name: venue_name, city: venue_city },
            ticket_types,
        }))
    }
}
