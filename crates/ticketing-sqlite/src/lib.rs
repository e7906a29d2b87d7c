//! # ticketing-sqlite: the shop's read models in the log's SQLite file
//!
//! The embedded mode keeps its read models beside the log, so that a batch's
//! rows and its checkpoint commit together ([`es_sqlite::SqliteProjection`]).
//! This crate holds the shop's projectors (one per read model, each with its
//! own tables and its own copies of what it needs from other aggregates) and
//! [`SqliteQueries`], the SQLite answer to
//! [`ticketing_app::queries::Queries`]. SQL about tickets lives here and
//! nowhere else.

mod projectors;
mod purchases;
mod queries;
mod rows;

use std::sync::Arc;

use es_core::{Projection, Rebuildable, StoreError};
use es_sqlite::{SqliteEventStore, SqliteProjection};

pub use projectors::{
    ATTENDEES, AttendeesProjector, CARTS, CATALOGUE, CartsProjector, CatalogueProjector, ORDERS, OrdersProjector,
    SALES, SalesProjector, TICKET_TYPES, TicketTypesProjector, VENUES, VenuesProjector,
};
pub use queries::SqliteQueries;

/// Every read model of the shop, opened in one file. Run each with an
/// `es_core::ProjectionRunner`; rebuild any with `es_core::rebuild`.
#[derive(Clone)]
pub struct ReadModels {
    projections: Vec<Arc<dyn Rebuildable>>,
}

impl std::fmt::Debug for ReadModels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.projections.iter().map(|projection| projection.name()).collect();
        f.debug_struct("ReadModels").field("projections", &names).finish()
    }
}

impl ReadModels {
    /// Opens every read model in `store`'s file, creating its tables and
    /// views the first time.
    pub fn open(store: &SqliteEventStore) -> Result<Self, StoreError> {
        let projections: Vec<Arc<dyn Rebuildable>> = vec![
            Arc::new(SqliteProjection::open(store, CatalogueProjector)?),
            Arc::new(SqliteProjection::open(store, VenuesProjector)?),
            Arc::new(SqliteProjection::open(store, TicketTypesProjector)?),
            Arc::new(SqliteProjection::open(store, CartsProjector)?),
            Arc::new(SqliteProjection::open(store, OrdersProjector)?),
            Arc::new(SqliteProjection::open(store, AttendeesProjector)?),
            Arc::new(SqliteProjection::open(store, SalesProjector)?),
        ];
        Ok(Self { projections })
    }

    /// Every read model, to run.
    pub fn projections(&self) -> Vec<Arc<dyn Projection>> {
        self.projections.iter().map(|projection| Arc::clone(projection) as Arc<dyn Projection>).collect()
    }

    /// Every read model, to rebuild.
    pub fn rebuildable(&self) -> Vec<Arc<dyn Rebuildable>> {
        self.projections.clone()
    }
}

/// Every read model of the shop in `store`'s file, to run with
/// `es_core::ProjectionRunner`.
pub fn all_projections(store: &SqliteEventStore) -> Result<Vec<Arc<dyn Projection>>, StoreError> {
    Ok(ReadModels::open(store)?.projections())
}

/// Every read model of the shop in `store`'s file, to rebuild with
/// `es_core::rebuild`.
pub fn rebuildable_projections(store: &SqliteEventStore) -> Result<Vec<Arc<dyn Rebuildable>>, StoreError> {
    Ok(ReadModels::open(store)?.rebuildable())
}
