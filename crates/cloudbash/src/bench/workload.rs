//! What the log scenarios share: a fresh store in a temporary directory, and
//! the aggregate they drive — a block of seats whose events are about the
//! size of a real reservation (~150 bytes of JSON with two UUIDs), so that
//! the figures are not flattered by toy payloads.

use std::sync::Arc;

use anyhow::Context;
use es_core::{
    Aggregate, CodecError, DomainEvent, EventLog, Repository, SystemClock, decode_adjacent, encode_adjacent,
};
use es_sqlite::{Durability, SqliteEventStore};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A log in a directory that is removed when dropped (keep the directory
/// alive as long as the store).
pub(super) fn fresh_store(durability: Durability) -> anyhow::Result<(tempfile::TempDir, Arc<SqliteEventStore>)> {
    let dir = tempfile::Builder::new().prefix("cloudbash-bench").tempdir()?;
    let store = SqliteEventStore::open(dir.path().join("bench.db"), durability).context("opening the bench log")?;
    Ok((dir, Arc::new(store)))
}

/// A repository of seat blocks over `store`, with its own cache and turns.
pub(super) fn seat_blocks(store: &Arc<SqliteEventStore>) -> Repository<SeatBlock> {
    Repository::new(EventLog::new(store.clone(), Arc::new(SystemClock)))
}

/// A block of seats sold one by one: the rule is that a block never sells
/// more seats than it has.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct SeatBlock {
    reserved: u32,
}

/// Reserve `seats` seats for a buyer, one event per seat.
#[derive(Clone, Debug)]
pub(super) struct Reserve {
    pub(super) seats: u32,
    pub(super) buyer: Uuid,
}

impl Reserve {
    /// `seats` seats for a random buyer.
    pub(super) fn seats(seats: u32) -> Self {
        Self { seats, buyer: Uuid::new_v4() }
    }
}

/// A seat was reserved.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub(super) enum SeatEvent {
    /// One seat of the block went to a buyer.
    SeatReserved { seat: u32, price_cents: u64, buyer: Uuid, reservation_id: Uuid },
}

/// The block is full.
#[derive(Debug, thiserror::Error)]
#[error("the block has no seat left")]
pub(super) struct BlockFull;

/// Seats per block: large enough that no scenario runs out.
const SEATS_PER_BLOCK: u32 = u32::MAX;

impl DomainEvent for SeatEvent {
    fn event_type(&self) -> &'static str {
        "SeatReserved"
    }

    fn encode(&self) -> Result<String, CodecError> {
        encode_adjacent(self.event_type(), self)
    }

    fn decode(event_type: &str, data: &str) -> Result<Self, CodecError> {
        decode_adjacent(event_type, data)
    }
}

impl Aggregate for SeatBlock {
    const KIND: &'static str = "seat-block";
    type Event = SeatEvent;
    type Command = Reserve;
    type Error = BlockFull;

    fn decide(&self, command: &Reserve) -> Result<Vec<SeatEvent>, BlockFull> {
        if SEATS_PER_BLOCK - self.reserved < command.seats {
            return Err(BlockFull);
        }
        let reservation_id = Uuid::now_v7();
        Ok((1..=command.seats)
            .map(|seat| SeatEvent::SeatReserved {
                seat: self.reserved + seat,
                price_cents: 4_500,
                buyer: command.buyer,
                reservation_id,
            })
            .collect())
    }

    fn evolve(&mut self, event: &SeatEvent) {
        match event {
            SeatEvent::SeatReserved { .. } => self.reserved += 1,
        }
    }
}
