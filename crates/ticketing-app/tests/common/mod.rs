//! What the command tests share: a shop over a real SQLite log with a
//! manual clock, and the steps that put a concert on sale.

#![allow(dead_code)]

pub(crate) mod fakes;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use es_core::{AggregateId, CommandContext, EventLog, ManualClock, SnapshotStore};
use es_sqlite::{Durability, SqliteEventStore};
use tempfile::TempDir;
use ticketing::{
    Address, Capacity, ConcertId, Currency, CustomerId, Money, Name, Quantity, RefusalKind, TicketTypeId, VenueId,
    VenueProfile,
};
use ticketing_app::{AppError, ConcertForm, RandomTicketCodes, Shop};

pub(crate) type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

pub(crate) struct Fixture {
    pub(crate) _dir: TempDir,
    pub(crate) store: Arc<SqliteEventStore>,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) shop: Arc<Shop>,
}

pub(crate) fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 10, 0, 0).single().expect("a valid time")
}

pub(crate) fn open() -> Result<Fixture, Box<dyn std::error::Error + Send + Sync>> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteEventStore::open(dir.path().join("log.db"), Durability::Normal)?);
    let clock = Arc::new(ManualClock::new(start()));
    let shop = Arc::new(shop_over(&store, &clock));
    Ok(Fixture { _dir: dir, store, clock, shop })
}

/// A second "process" over the same file: its own caches.
pub(crate) fn shop_over(store: &Arc<SqliteEventStore>, clock: &Arc<ManualClock>) -> Shop {
    let log = EventLog::new(store.clone(), clock.clone());
    let snapshots: Arc<dyn SnapshotStore> = store.clone();
    Shop::new(log, Some(snapshots), clock.clone(), Arc::new(RandomTicketCodes))
}

pub(crate) fn ctx() -> CommandContext {
    CommandContext::default()
}

pub(crate) async fn venue(shop: &Shop) -> Result<VenueId, AppError> {
    let profile = VenueProfile {
        name: Name::new("Paradiso").expect("a name"),
        address: Address::new("Weteringschans 6").expect("an address"),
        city: Name::new("Amsterdam").expect("a name"),
        capacity: Capacity::new(1_000).expect("a capacity"),
        description: None,
        web_url: None,
    };
    shop.create_venue(&ctx(), profile).await
}

pub(crate) async fn draft(shop: &Shop, venue_id: VenueId) -> Result<ConcertId, AppError> {
    let form = ConcertForm {
        name: Name::new("Night of the Crabs").expect("a name"),
        venue_id,
        profile: ticketing::ConcertProfile::default(),
    };
    shop.create_concert(&ctx(), form).await
}

pub(crate) fn evening(day: u32) -> (DateTime<Utc>, DateTime<Utc>) {
    let starts_at = Utc.with_ymd_and_hms(2030, 2, day, 20, 0, 0).single().expect("a valid time");
    (starts_at, starts_at + Duration::hours(3))
}

/// A published concert with one ticket type of `quantity` tickets.
pub(crate) async fn on_sale(shop: &Shop, quantity: u32) -> Result<(ConcertId, TicketTypeId), AppError> {
    let venue_id = venue(shop).await?;
    let concert_id = draft(shop, venue_id).await?;
    let price = Money::new(2_500, Currency::new("EUR").expect("a currency"));
    let ticket_type_id = shop
        .add_ticket_type(
            &ctx(),
            concert_id,
            Name::new("Standing").expect("a name"),
            price,
            Quantity::new(quantity).expect("a quantity"),
        )
        .await?;
    let (starts_at, ends_at) = evening(1);
    shop.schedule_concert(&ctx(), concert_id, starts_at, ends_at).await?;
    shop.publish_concert(&ctx(), concert_id).await?;
    Ok((concert_id, ticket_type_id))
}

pub(crate) fn customer() -> CustomerId {
    CustomerId(uuid::Uuid::now_v7())
}

pub(crate) fn quantity(count: u32) -> Quantity {
    Quantity::new(count).expect("a quantity")
}

pub(crate) fn is_refusal(result: &Result<impl std::fmt::Debug, AppError>, expected: RefusalKind) -> bool {
    matches!(result, Err(AppError::Rejected { kind, .. }) if *kind == expected)
}

/// A read model's answer to "which keepers have run-out holds": a list.
pub(crate) struct Named(Vec<AggregateId>);

/// [`Named`] for `keepers` (concerts or buckets).
pub(crate) fn named<K: Into<AggregateId>>(keepers: impl IntoIterator<Item = K>) -> Named {
    Named(keepers.into_iter().map(Into::into).collect())
}

#[es_core::async_trait]
impl ticketing_app::DueHolds for Named {
    async fn keepers_with_due_holds(
        &self,
        _now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<AggregateId>, ticketing_app::queries::QueryError> {
        Ok(self.0.iter().copied().take(limit).collect())
    }
}

/// Every record of the log, in order: what a process that follows the log reads when it starts.
pub(crate) async fn whole_log(
    shop: &Shop,
) -> Result<Vec<es_core::RecordedEvent>, Box<dyn std::error::Error + Send + Sync>> {
    let (mut records, mut after) = (Vec::new(), es_core::Position(0));
    loop {
        let page = shop.log().read_all(after, 500).await?;
        let Some(last) = page.last() else { return Ok(records) };
        after = last.position;
        records.extend(page);
    }
}
