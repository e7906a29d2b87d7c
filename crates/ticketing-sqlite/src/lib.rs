//! # ticketing-sqlite: the shop's read models in SQLite
//!
//! The embedded mode keeps its read models in a file beside the log's, each
//! batch's rows committing with its checkpoint
//! ([`es_sqlite::SqliteProjection`]).
//! This crate holds the shop's projectors (one per read model, each with its
//! own tables and its own copies of what it needs from other aggregates) and
//! [`SqliteQueries`], the SQLite answer to
//! every read model port of `ticketing_app::queries`. SQL about tickets lives here and
//! nowhere else.

mod projectors;
mod queries;
mod rows;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use es_core::{Projection, Rebuildable, StoreError};
use es_sqlite::{SqliteEventStore, SqliteProjection};

pub use projectors::{
    ATTENDEES, AttendeesProjector, CARTS, CATALOGUE, CartsProjector, CatalogueProjector, ORDERS, OrdersProjector,
    SALES, SalesProjector, TICKET_TYPES, TicketTypesProjector, VENUES, VenuesProjector,
};
pub use queries::SqliteQueries;

/// The name of every read model [`ReadModels::open`] opens, in its order:
/// what a look at a data directory from outside the process serving it
/// (`es_sqlite::Inspection`) expects to find there.
pub const READ_MODEL_NAMES: [&str; 7] = [CATALOGUE, VENUES, TICKET_TYPES, CARTS, ORDERS, ATTENDEES, SALES];

/// Every read model of the shop, opened in one file. Run each with an
/// `es_core::ProjectionRunner`; rebuild any with `es_core::rebuild`.
#[derive(Clone)]
pub struct ReadModels {
    projections: Vec<Arc<dyn Rebuildable>>,
    path: PathBuf,
}

impl std::fmt::Debug for ReadModels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.projections.iter().map(|projection| projection.name()).collect();
        f.debug_struct("ReadModels").field("projections", &names).finish()
    }
}

impl ReadModels {
    /// Opens every read model in the read models' file of `store`, creating
    /// its tables and views the first time.
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
        Ok(Self { projections, path: store.read_models_path() })
    }

    /// The file they are kept in.
    pub fn path(&self) -> &Path {
        &self.path
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

/// Every read model of the shop of `store`, to run with
/// `es_core::ProjectionRunner`.
pub fn all_projections(store: &SqliteEventStore) -> Result<Vec<Arc<dyn Projection>>, StoreError> {
    Ok(ReadModels::open(store)?.projections())
}

/// Every read model of the shop of `store`, to rebuild with
/// `es_core::rebuild`.
pub fn rebuildable_projections(store: &SqliteEventStore) -> Result<Vec<Arc<dyn Rebuildable>>, StoreError> {
    Ok(ReadModels::open(store)?.rebuildable())
}

#[cfg(test)]
mod tests {
    use es_sqlite::Durability;

    use super::*;

    #[test]
    fn the_read_model_names_are_those_of_the_read_models_opened() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteEventStore::open(dir.path().join("log.db"), Durability::Normal).expect("the log opens");
        let opened = ReadModels::open(&store).expect("the read models open");
        let names: Vec<String> = opened.projections().iter().map(|projection| projection.name().to_owned()).collect();
        assert_eq!(names, READ_MODEL_NAMES);
    }
}
