//! Pure helpers for the application layer's multi-aggregate operations. The
//! application layer composes aggregates in one atomic append (checkout =
//! `Cart::CheckOut` + one sale per [`Keeper`] of the cart's holds +
//! `Order::Place`; expiry = the keeper's expiry + `Cart::ExpireItem`);
//! working out *which* commands to send is domain knowledge, so it lives
//! here, tested without any store.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use es_core::{Aggregate, AggregateId};
use thiserror::Error;

use crate::bucket::BucketCommand;
use crate::cart::{Cart, CartCommand, CartError, CartItem};
use crate::concert::{ConcertCommand, Hold};
use crate::email::EmailAddress;
use crate::ids::{BucketId, CartId, ConcertId, CustomerId, HoldId, OrderId, TicketTypeId};
use crate::order::{OrderCommand, OrderHolds, OrderLine, PaymentTerms};
use crate::values::{Money, Quantity, TicketCode};

/// A hold that has run out, and the cart whose item it backs or the order
/// it was kept for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpiredHold {
    /// The hold (and cart item) id.
    pub hold_id: HoldId,
    /// The cart to send `ExpireItem` to, while the hold is a cart's.
    pub cart_id: CartId,
    /// The order awaiting payment it was kept for, after checkout: the
    /// order runs out with it.
    pub order_id: Option<OrderId>,
}

/// Where the tickets of a hold are kept: the concert's own stream, or one of
/// its [`crate::Bucket`]s. The hold's release, expiry and sale append there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Keeper {
    /// The concert itself.
    Concert(ConcertId),
    /// Bucket `index` of the concert.
    Bucket(ConcertId, u16),
}

impl Keeper {
    /// The keeper of a cart item's hold.
    pub fn of(item: &CartItem) -> Keeper {
        match item.bucket {
            None => Keeper::Concert(item.concert_id),
            Some(index) => Keeper::Bucket(item.concert_id, index),
        }
    }

    /// The concert whose tickets it keeps.
    pub fn concert_id(self) -> ConcertId {
        match self {
            Keeper::Concert(concert_id) | Keeper::Bucket(concert_id, _) => concert_id,
        }
    }

    /// The stream it appends to.
    pub fn aggregate_id(self) -> AggregateId {
        match self {
            Keeper::Concert(concert_id) => concert_id.into(),
            Keeper::Bucket(concert_id, index) => BucketId::of(concert_id, index).into(),
        }
    }
}

/// The holds among `holds` that have run out at `now`: for each, the expiry
/// process appends the keeper's expiry and `Cart::ExpireItem` together.
pub fn expired_holds(holds: &BTreeMap<HoldId, Hold>, now: DateTime<Utc>) -> Vec<ExpiredHold> {
    let holds = holds.iter().filter(|(_, hold)| hold.is_expired(now));
    holds
        .map(|(hold_id, hold)| ExpiredHold { hold_id: *hold_id, cart_id: hold.cart_id, order_id: hold.order_id })
        .collect()
}

/// The items of `cart` that have run out at `now`, with their concerts: what
/// to expire before showing or checking out the cart.
pub fn expired_items(cart: &Cart, now: DateTime<Utc>) -> Vec<(HoldId, ConcertId)> {
    cart.items().iter().filter(|item| !item.is_live(now)).map(|item| (item.item_id, item.concert_id)).collect()
}

/// The holds one keeper sells in a checkout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockSale {
    /// The concert or bucket keeping them.
    pub keeper: Keeper,
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
    /// One sale per keeper of the cart's holds, by keeper.
    pub sales: Vec<StockSale>,
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
    let mut sales: BTreeMap<Keeper, Vec<HoldId>> = BTreeMap::new();
    let mut lines: BTreeMap<(ConcertId, TicketTypeId, u64), PlannedLine> = BTreeMap::new();
    for item in cart.items() {
        sales.entry(Keeper::of(item)).or_default().push(item.item_id);
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
        sales: sales.into_iter().map(|(keeper, hold_ids)| StockSale { keeper, hold_ids }).collect(),
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

    /// The command of a concert that keeps its own holds: sell them when
    /// the order is paid as placed, keep them for it until `due` otherwise.
    pub fn concert_command(&self, sale: &StockSale, payment: &PaymentTerms) -> ConcertCommand {
        let (hold_ids, order_id, now) = (sale.hold_ids.clone(), self.order_id, self.now);
        match payment {
            PaymentTerms::Due { due, .. } => ConcertCommand::AwaitPayment { hold_ids, order_id, until: *due, now },
            PaymentTerms::PaidAtCheckout { .. } => ConcertCommand::SellHeldTickets { hold_ids, order_id, now },
        }
    }

    /// The command of a bucket, as [`CheckoutPlan::concert_command`].
    pub fn bucket_command(&self, sale: &StockSale, payment: &PaymentTerms) -> BucketCommand {
        let (hold_ids, order_id, now) = (sale.hold_ids.clone(), self.order_id, self.now);
        match payment {
            PaymentTerms::Due { due, .. } => BucketCommand::AwaitPayment { hold_ids, order_id, until: *due, now },
            PaymentTerms::PaidAtCheckout { .. } => BucketCommand::Sell { hold_ids, order_id, now },
        }
    }

    /// Where the order's holds are kept, for terms that await payment.
    pub fn order_holds(&self) -> Vec<OrderHolds> {
        let holds = self.sales.iter().map(|sale| {
            let bucket = match sale.keeper {
                Keeper::Concert(_) => None,
                Keeper::Bucket(_, index) => Some(index),
            };
            OrderHolds { concert_id: sale.keeper.concert_id(), bucket, hold_ids: sale.hold_ids.clone() }
        });
        holds.collect()
    }

    /// The order's command, handing out `codes` to the lines in order.
    pub fn order_command(
        &self,
        codes: Vec<TicketCode>,
        payment: PaymentTerms,
        deliver_to: Option<EmailAddress>,
    ) -> Result<OrderCommand, TicketCodeCount> {
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
        Ok(OrderCommand::Place {
            order_id: self.order_id,
            customer_id: self.customer_id,
            lines,
            payment,
            deliver_to,
            now: self.now,
        })
    }
}

impl Keeper {
    /// The keeper of an order's holds, as the order recorded it.
    pub fn of_order_holds(holds: &OrderHolds) -> Keeper {
        match holds.bucket {
            None => Keeper::Concert(holds.concert_id),
            Some(index) => Keeper::Bucket(holds.concert_id, index),
        }
    }
}

#[cfg(test)]
mod tests;
