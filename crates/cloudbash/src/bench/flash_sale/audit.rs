//! The audit after a flash sale, done through the API as an administrator,
//! so that it holds for a server in another process too. Two independent
//! accounts must agree:
//! - the log (`GET /events`), folded here event by event: the concert's
//!   held and sold tickets at every version (held + sold must never exceed
//!   the quantity), the tickets in every order placed for the concert, the
//!   live holds at the end and the carts that own them;
//! - the read models: the concert's availability, its daily sales and the
//!   orders' tickets.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::Context;
use es_core::DomainEvent;
use reqwest::{Method, StatusCode};
use ticketing::{CART_EVENT_TYPES, CartEvent, ConcertEvent, HoldId, ORDER_EVENT_TYPES, OrderEvent};
use uuid::Uuid;

use super::{Api, OnSale};

/// Events per page read from `GET /events` (the API's maximum).
const EVENTS_PAGE: u32 = 1_000;

/// Orders per page read from `GET /orders` (the API's maximum for paged lists).
const ORDERS_PAGE: u32 = 100;

/// Longest wait for the read models to show the sale.
const READ_MODELS_WAIT_MAX: Duration = Duration::from_secs(30);

/// What the two accounts say.
#[derive(Debug, Default)]
pub(super) struct Audit {
    quantity: u64,
    /// Largest `held + sold - quantity` at any version of the concert (0 if never over).
    log_over: u64,
    pub(super) versions_over_quantity: u64,
    pub(super) log_sold: u64,
    /// Tickets held at the end.
    log_held: u64,
    pub(super) log_order_tickets: u64,
    pub(super) live_holds: u64,
    pub(super) orphan_holds: u64,
    pub(super) read_sold: u64,
    pub(super) read_available: u64,
    pub(super) read_order_tickets: u64,
    pub(super) took: Duration,
}

impl Audit {
    /// Tickets sold beyond the quantity by any account: the log at any
    /// version, the read models, or the purchases acknowledged to buyers.
    pub(super) fn oversold(&self, acknowledged: u64) -> u64 {
        let over = |sold: u64| sold.saturating_sub(self.quantity);
        self.log_over.max(over(self.read_sold)).max(over(acknowledged)).max(over(self.read_order_tickets))
    }

    /// Whether the log and the read models tell the same story.
    pub(super) fn consistent(&self) -> bool {
        self.log_sold == self.read_sold
            && self.log_order_tickets == self.log_sold
            && self.read_order_tickets == self.read_sold
            && self.read_available == self.quantity.saturating_sub(self.log_sold + self.log_held)
    }
}

/// Audits the sale of `on_sale`.
pub(super) async fn audit(api: &Api, admin: &str, on_sale: &OnSale) -> anyhow::Result<Audit> {
    let started = Instant::now();
    let mut audit = fold_log(api, admin, on_sale).await?;
    read_models(api, admin, on_sale, &mut audit).await?;
    audit.took = started.elapsed();
    Ok(audit)
}

/// Folds the whole log.
async fn fold_log(api: &Api, admin: &str, on_sale: &OnSale) -> anyhow::Result<Audit> {
    let concert_id: Uuid = on_sale.concert_id.parse()?;
    let mut audit = Audit { quantity: u64::from(on_sale.quantity), ..Audit::default() };
    let (mut held, mut sold) = (0_u64, 0_u64);
    let mut holds: HashMap<HoldId, Uuid> = HashMap::new();
    let mut carts: HashMap<Uuid, HashSet<Uuid>> = HashMap::new();
    let mut after = 0_u64;
    loop {
        let path = format!("/events?after={after}&limit={EVENTS_PAGE}");
        let page = api.expect(Method::GET, &path, admin, None, StatusCode::OK).await?;
        let items = page["items"].as_array().context("a page of events")?;
        let Some(last) = items.last() else { break };
        after = last["position"].as_u64().context("a position")?;
        for item in items {
            let event_type = item["eventType"].as_str().context("an event type")?;
            let data = item["data"].as_str().context("event data")?;
            let aggregate: Uuid = item["aggregateId"].as_str().context("an aggregate id")?.parse()?;
            if aggregate == concert_id {
                match ConcertEvent::decode(event_type, data)? {
                    ConcertEvent::TicketsHeld { hold_id, cart_id, quantity, .. } => {
                        held += u64::from(quantity.get());
                        holds.insert(hold_id, cart_id.as_uuid());
                    }
                    ConcertEvent::HoldReleased { hold_id, quantity, .. }
                    | ConcertEvent::HoldExpired { hold_id, quantity, .. } => {
                        held = held.saturating_sub(u64::from(quantity.get()));
                        holds.remove(&hold_id);
                    }
                    ConcertEvent::TicketsSold { holds: sold_holds, .. } => {
                        for hold in sold_holds {
                            held = held.saturating_sub(u64::from(hold.quantity.get()));
                            sold += u64::from(hold.quantity.get());
                            holds.remove(&hold.hold_id);
                        }
                    }
                    _ => {}
                }
                if held + sold > audit.quantity {
                    audit.versions_over_quantity += 1;
                    audit.log_over = audit.log_over.max(held + sold - audit.quantity);
                }
            } else if CART_EVENT_TYPES.contains(&event_type) {
                let items = carts.entry(aggregate).or_default();
                match CartEvent::decode(event_type, data)? {
                    CartEvent::ItemAdded { item_id, .. } => {
                        items.insert(item_id.as_uuid());
                    }
                    CartEvent::ItemRemoved { item_id } | CartEvent::ItemExpired { item_id } => {
                        items.remove(&item_id.as_uuid());
                    }
                    CartEvent::CheckedOut { .. } => items.clear(),
                    CartEvent::CustomerDisabled { .. } | CartEvent::CustomerEnabled { .. } => {}
                }
            } else if ORDER_EVENT_TYPES.contains(&event_type)
                && let OrderEvent::Placed { lines, .. } = OrderEvent::decode(event_type, data)?
            {
                for line in lines.iter().filter(|line| line.concert_id.as_uuid() == concert_id) {
                    audit.log_order_tickets += line.ticket_codes.len() as u64;
                }
            }
        }
    }
    audit.log_sold = sold;
    audit.log_held = held;
    audit.live_holds = holds.len() as u64;
    audit.orphan_holds = holds
        .iter()
        .filter(|(hold_id, cart)| !carts.get(*cart).is_some_and(|items| items.contains(&hold_id.as_uuid())))
        .count() as u64;
    Ok(audit)
}

/// Reads the read models' account, once they show what the log holds.
async fn read_models(api: &Api, admin: &str, on_sale: &OnSale, audit: &mut Audit) -> anyhow::Result<()> {
    let concert_id = &on_sale.concert_id;
    let deadline = Instant::now() + READ_MODELS_WAIT_MAX;
    loop {
        let path = format!("/concerts/{concert_id}/sales");
        let sales = api.expect(Method::GET, &path, admin, None, StatusCode::OK).await?;
        audit.read_sold = sales["items"]
            .as_array()
            .context("daily sales")?
            .iter()
            .filter_map(|day| day["ticketsSold"].as_u64())
            .sum();
        if audit.read_sold >= audit.log_sold || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let concert = api.expect(Method::GET, &format!("/concerts/{concert_id}"), admin, None, StatusCode::OK).await?;
    let ticket_type = concert["ticketTypes"]
        .as_array()
        .context("ticket types")?
        .iter()
        .find(|ticket_type| ticket_type["id"].as_str() == Some(on_sale.ticket_type_id.as_str()))
        .context("the ticket type on sale")?;
    audit.read_available = ticket_type["available"].as_u64().context("availability")?;
    audit.read_order_tickets = 0;
    let mut path = format!("/orders?limit={ORDERS_PAGE}");
    loop {
        let orders = api.expect(Method::GET, &path, admin, None, StatusCode::OK).await?;
        audit.read_order_tickets += orders["items"]
            .as_array()
            .context("orders")?
            .iter()
            .flat_map(|order| order["tickets"].as_array().into_iter().flatten())
            .filter(|ticket| ticket["concertId"].as_str() == Some(concert_id.as_str()))
            .count() as u64;
        match orders["nextCursor"].as_str() {
            Some(cursor) => path = format!("/orders?limit={ORDERS_PAGE}&cursor={cursor}"),
            None => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversold_counts_the_worst_account() {
        let audit = Audit { quantity: 10, log_sold: 10, read_sold: 12, ..Audit::default() };
        assert_eq!(audit.oversold(9), 2);
        assert_eq!(audit.oversold(13), 3);
        let fine = Audit { quantity: 10, log_sold: 10, read_sold: 10, read_order_tickets: 10, ..Audit::default() };
        assert_eq!(fine.oversold(10), 0);
    }
}
