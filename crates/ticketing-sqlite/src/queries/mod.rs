//! The read side's queries over the read models' views (the plain table
//! names, which always point at the live generation). Reads run on tokio's
//! blocking pool, on a connection that cannot write: a GET never changes a
//! read model.
//!
//! [`SqliteQueries`] serves every read model's port, one file per read
//! model; this file holds the connection, the column readers they share,
//! and how far the read models have followed the log.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use es_core::{Position, Projection, async_trait, parse_created};
use rusqlite::types::Type;
use rusqlite::{Connection, OpenFlags, Row};
use ticketing::{Currency, Money};
use ticketing_app::queries::{QueryError, ReadProgress};
use uuid::Uuid;

use crate::ReadModels;

mod carts;
mod catalogue;
mod purchases;
mod sales;
mod venues;

/// How long a read waits for a lock held by a projection's commit.
const READ_BUSY_TIMEOUT_MILLIS: u64 = 5_000;

/// Every read model's queries over the read models' SQLite file.
pub struct SqliteQueries {
    connection: Arc<Mutex<Connection>>,
    projections: Vec<Arc<dyn Projection>>,
}

impl std::fmt::Debug for SqliteQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteQueries").field("projections", &self.projections.len()).finish_non_exhaustive()
    }
}

impl SqliteQueries {
    /// Queries over `read_models` (already opened, so their views exist).
    pub fn open(read_models: &ReadModels) -> Result<Self, QueryError> {
        let connection = Connection::open_with_flags(
            read_models.path(),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(store)?;
        connection.busy_timeout(Duration::from_millis(READ_BUSY_TIMEOUT_MILLIS)).map_err(store)?;
        Ok(Self { connection: Arc::new(Mutex::new(connection)), projections: read_models.projections() })
    }

    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, QueryError> + Send + 'static,
    ) -> Result<T, QueryError> {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            let connection = connection.lock().map_err(|_| QueryError::store("a reader panicked"))?;
            work(&connection)
        })
        .await
        .map_err(QueryError::store)?
    }
}

pub(crate) fn store(error: rusqlite::Error) -> QueryError {
    QueryError::store(error)
}

pub(crate) fn bad<E: std::error::Error + Send + Sync + 'static>(column: usize, error: E) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, Type::Text, Box::new(error))
}

pub(crate) fn uuid_at(row: &Row<'_>, column: usize) -> rusqlite::Result<Uuid> {
    let text: String = row.get(column)?;
    Uuid::parse_str(&text).map_err(|error| bad(column, error))
}

pub(crate) fn time_at(row: &Row<'_>, column: usize) -> rusqlite::Result<DateTime<Utc>> {
    let text: String = row.get(column)?;
    parse_created(&text).map_err(|error| bad(column, error))
}

pub(crate) fn optional_time_at(row: &Row<'_>, column: usize) -> rusqlite::Result<Option<DateTime<Utc>>> {
    let text: Option<String> = row.get(column)?;
    text.map(|text| parse_created(&text).map_err(|error| bad(column, error))).transpose()
}

pub(crate) fn money_at(row: &Row<'_>, amount: usize, currency: usize) -> rusqlite::Result<Money> {
    let value: i64 = row.get(amount)?;
    let value = u64::try_from(value).map_err(|error| bad(amount, error))?;
    let code: String = row.get(currency)?;
    Ok(Money::new(value, Currency::new(&code).map_err(|error| bad(currency, error))?))
}

pub(crate) fn count_at(row: &Row<'_>, column: usize) -> rusqlite::Result<u32> {
    let value: i64 = row.get(column)?;
    u32::try_from(value).map_err(|error| bad(column, error))
}

#[async_trait]
impl ReadProgress for SqliteQueries {
    async fn position(&self) -> Result<Position, QueryError> {
        let mut lowest: Option<Position> = None;
        for projection in &self.projections {
            let position = projection.position().await.map_err(QueryError::store)?;
            lowest = Some(lowest.map_or(position, |lowest| lowest.min(position)));
        }
        Ok(lowest.unwrap_or(Position::START))
    }
}
