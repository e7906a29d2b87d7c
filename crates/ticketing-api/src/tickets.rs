//! Finding the order a scanned ticket code belongs to. A door's check-in names its concert and the code, but a
//! ticket lives inside its order's aggregate, so the route needs a code → order map: the attendee read model's
//! job. [`TicketLocator`] is that port. With read models, [`ReadModelTickets`] asks the attendee read model (a
//! code the client has seen is there: the checkout that issued it answered only once the read models caught up).
//! An API serving commands only uses [`LogTicketIndex`]: an in-memory map fed from the log's `OrderPlaced` events,
//! caught up on every lookup of a code it does not know.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use es_core::{DomainEvent, EventLog, Position, async_trait};
use ticketing::{ORDER_EVENT_TYPES, OrderEvent, OrderId, TicketCode};
use ticketing_app::AppError;
use ticketing_app::queries::Queries;

use crate::limits::TICKET_INDEX_PAGE_EVENTS;

/// Maps a ticket code to its order.
#[async_trait]
pub trait TicketLocator: Debug + Send + Sync {
    /// The order holding the ticket with `code`, if any order does.
    async fn order_of(&self, code: &TicketCode) -> Result<Option<OrderId>, AppError>;
}

/// Looks codes up in the read models.
#[derive(Clone)]
pub struct ReadModelTickets(pub Arc<dyn Queries>);

impl Debug for ReadModelTickets {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("ReadModelTickets")
    }
}

#[async_trait]
impl TicketLocator for ReadModelTickets {
    async fn order_of(&self, code: &TicketCode) -> Result<Option<OrderId>, AppError> {
        self.0.ticket_order(code).await.map_err(AppError::store)
    }
}

/// A code → order map in memory, read from the log. It knows every order placed up to its position; a code not
/// found makes it read the rest of the log first, so an order placed a moment ago (by any process) is found.
/// Memory grows with the tickets sold (about 60 bytes each); the attendee read model replaces it at scale.
#[derive(Debug)]
pub struct LogTicketIndex {
    log: EventLog,
    /// Held across the log reads so that concurrent lookups catch up once; a `tokio` mutex for that reason.
    index: tokio::sync::Mutex<Index>,
}

#[derive(Debug, Default)]
struct Index {
    after: Position,
    orders: HashMap<TicketCode, OrderId>,
}

impl LogTicketIndex {
    /// An index over `log`, empty until its first lookup.
    pub fn new(log: EventLog) -> Self {
        Self { log, index: tokio::sync::Mutex::new(Index { after: Position(0), orders: HashMap::new() }) }
    }
}

#[async_trait]
impl TicketLocator for LogTicketIndex {
    async fn order_of(&self, code: &TicketCode) -> Result<Option<OrderId>, AppError> {
        let mut index = self.index.lock().await;
        if let Some(order_id) = index.orders.get(code) {
            return Ok(Some(*order_id));
        }
        loop {
            let page = self.log.read_all(index.after, TICKET_INDEX_PAGE_EVENTS).await.map_err(AppError::store)?;
            let Some(last) = page.last() else { break };
            let next = last.position;
            for record in page.iter().filter(|record| ORDER_EVENT_TYPES.contains(&record.event_type.as_str())) {
                let event = OrderEvent::from_record(record).map_err(AppError::store)?;
                if let OrderEvent::Placed { order_id, lines, .. } = event {
                    for code in lines.into_iter().flat_map(|line| line.ticket_codes) {
                        // Codes are random and long enough not to collide; should two ever do, the first stays.
                        index.orders.entry(code).or_insert(order_id);
                    }
                }
            }
            // Only an empty page proves the end: a backend may return short pages.
            index.after = next;
        }
        Ok(index.orders.get(code).copied())
    }
}
