//! Pure helpers for the application layer's multi-aggregate operations. The
//! application layer composes aggregates in one atomic append (checkout =
//! `Cart::CheckOut` + one `Concert::SellHeldTickets` per concert +
//! `Order::Place`; expiry = `Concert::ExpireHold` + `Cart::ExpireItem`);
//! working out *which* commands to send is domain knowledge, so it lives
//! here, tested without any store.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use es_core::Aggregate;
use thiserror::Error;

use crate::cart::{Cart, CartCommand, CartError};
use crate::concert::{Concert, ConcertCommand};
use crate::ids::{CartId, ConcertId, CustomerId, HoldId, OrderId, TicketTypeId};
use crate::order::{OrderCommand, OrderLine};
use crate::values::{Money, Quantity, TicketCode};

/// A hold that has run out, and the cart whose item it backs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpiredHold {
    /// The hold (and cart item) id.
    pub hold_id: HoldId,
    /// The cart to send `ExpireItem` to.
    pub cart_id: CartId,
}

/// The holds of `concert` that have run out at `now`: for each, the expiry
/// process appends `Concert::ExpireHold` and `Cart::ExpireItem` together.
pub fn expired_holds(concert: &Concert, now: DateTime<Utc>) -> Vec<ExpiredHold> {
    let holds = concert.holds().iter().filter(|(_, hold)| hold.is_expired(now));
    holds.map(|(hold_id, hold)| ExpiredHold { hold_id: *hold_id, cart_id: hold.cart_id }).collect()
}

/// The items of `cart` that have run out at `now`, with their concerts: what
/// to expire before showing or checking out the cart.
pub fn expired_items(cart: &Cart, now: DateTime<Utc>) -> Vec<(HoldId, ConcertId)> {
    cart.items().iter().filter(|item| !item.is_live(now)).map(|item| (item.item_id, item.concert_id)).collect()
}

/// The holds one concert sells in a checkout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConcertSale {
    /// The concert.
    pub concert_id: ConcertId,
    /// Its holds in the cart, in the cart's order.
    pub hold_ids: Vec<HoldId>,
}

/// An order line before its ticket codes are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedLine {
    /// The concert.
    pub concert_id: ConcertId,
    /// The ticket type.
    pub ticket_type_id: TicketTypeId,
    /// The price of one ticket, from the cart.
    pub unit_price: Money,
    /// How many tickets (the cart's items of this type and price together).
    pub quantity: Quantity,
}

/// Everything a checkout appends, worked out from the cart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutPlan {
    /// The new order.
    pub order_id: OrderId,
    /// The buyer (the cart's owner).
    pub customer_id: CustomerId,
    /// The time of the checkout.
    pub now: DateTime<Utc>,
    /// One sale per concert in the cart, by concert id.
    pub sales: Vec<ConcertSale>,
    /// The order's lines, by concert, ticket type and price.
    pub lines: Vec<PlannedLine>,
    /// What the order costs.
    pub total: Money,
}

/// The edge drew a number of ticket codes other than the plan needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("the checkout needs {needed} ticket codes, {given} were given")]
pub struct TicketCodeCount {
    /// [`CheckoutPlan::tickets_needed`].
    pub needed: u32,
    /// How many were given.
    pub given: usize,
}

/// Plans the checkout of `cart` at `now`, refusing exactly what
/// `Cart::CheckOut` refuses (an empty cart, an expired item).
pub fn plan_checkout(
    cart: &Cart,
    customer_id: CustomerId,
    order_id: OrderId,
    now: DateTime<Utc>,
) -> Result<CheckoutPlan, CartError> {
    cart.decide(&CartCommand::CheckOut { order_id, now })?;
    let mut sales: BTreeMap<ConcertId, Vec<HoldId>> = BTreeMap::new();
    let mut lines: BTreeMap<(ConcertId, TicketTypeId, u64), PlannedLine> = BTreeMap::new();
    for item in cart.items() {
        sales.entry(item.concert_id).or_default().push(item.item_id);
        let key = (item.concert_id, item.ticket_type_id, item.unit_price.amount);
        lines
            .entry(key)
            .and_modify(|line| {
                line.quantity = Quantity::new(line.quantity.get() + item.quantity.get())
                    .expect("invariant: a cart holds at most 10 tickets per concert");
            })
            .or_insert(PlannedLine {
                concert_id: item.concert_id,
                ticket_type_id: item.ticket_type_id,
                unit_price: item.unit_price,
                quantity: item.quantity,
            });
    }
    Ok(CheckoutPlan {
        order_id,
        customer_id,
        now,
        sales: sales.into_iter().map(|(concert_id, hold_ids)| ConcertSale { concert_id, hold_ids }).collect(),
        lines: lines.into_values().collect(),
        total: cart.total(now).expect("invariant: the checkout was accepted, so the cart has live items"),
    })
}

impl CheckoutPlan {
    /// How many ticket codes the edge must draw.
    pub fn tickets_needed(&self) -> u32 {
        self.lines.iter().map(|line| line.quantity.get()).sum()
    }

    /// The cart's command.
    pub fn cart_command(&self) -> CartCommand {
        CartCommand::CheckOut { order_id: self.order_id, now: self.now }
    }

    /// Each concert's command.
    pub fn concert_commands(&self) -> Vec<(ConcertId, ConcertCommand)> {
        let sell = |sale: &ConcertSale| ConcertCommand::SellHeldTickets {
            hold_ids: sale.hold_ids.clone(),
            order_id: self.order_id,
            now: self.now,
        };
        self.sales.iter().map(|sale| (sale.concert_id, sell(sale))).collect()
    }

    /// The order's command, handing out `codes` to the lines in order.
    pub fn order_command(&self, codes: Vec<TicketCode>) -> Result<OrderCommand, TicketCodeCount> {
        let needed = self.tickets_needed();
        if codes.len() != needed as usize {
            return Err(TicketCodeCount { needed, given: codes.len() });
        }
        let mut codes = codes.into_iter();
        let lines = self
            .lines
            .iter()
            .map(|line| OrderLine {
                concert_id: line.concert_id,
                ticket_type_id: line.ticket_type_id,
                unit_price: line.unit_price,
                quantity: line.quantity,
                ticket_codes: codes.by_ref().take(line.quantity.get() as usize).collect(),
            })
            .collect();
        Ok(OrderCommand::Place { order_id: self.order_id, customer_id: self.customer_id, lines, now: self.now })
    }
}

#[cfg(test)]
mod tests;
