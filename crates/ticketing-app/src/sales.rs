//! The buyer's handlers. Every one spans aggregates and appends them
//! together: reserving holds tickets on the concert and adds the cart item;
//! removing or expiring releases both; checkout empties the cart, sells the
//! held tickets of every concert in it and places the order. So the
//! concert's inventory and the carts can never disagree, whatever fails.
//!
//! Because checkout is one append, a cart holds tickets of at most
//! [`CONCERTS_PER_CART_MAX`] concerts: tickets of a further concert are
//! refused when reserved, rather than leaving a cart whose checkout could
//! never commit.
//!
//! The file stays whole, a little over 400 lines: each handler is read with
//! the attempt it hands the runner, and the three share their loading and
//! refusal helpers.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use es_core::limits::{AGGREGATES_PER_APPEND_MAX, EVENTS_PER_APPEND_MAX};
use es_core::{AggregateId, CommandContext, RepositoryError};
use serde::{Deserialize, Serialize};
use ticketing::limits::HOLD_MINUTES;
use ticketing::process::{ExpiredHold, Keeper, expired_holds, plan_checkout};
use ticketing::{
    Cart, CartCommand, CartId, CartItem, ConcertCommand, ConcertError, ConcertId, CustomerId, EmailAddress, HoldId,
    HoldRequest, OrderCommand, OrderError, OrderId, Quantity, RefusalKind, TicketCode, TicketTypeId,
};

use crate::buckets::BucketReservation;
use crate::error::{AppError, AttemptError, Refused, rejected};
use crate::shop::{Batch, Reads, Shop, decide, decide_each, load};

/// Most concerts one cart may hold tickets of. Checkout appends the cart, the
/// new order and every concert of the cart in one atomic append, and the log
/// takes at most [`AGGREGATES_PER_APPEND_MAX`] aggregates per append.
pub const CONCERTS_PER_CART_MAX: usize = AGGREGATES_PER_APPEND_MAX - 2;

/// Most carts whose run-out holds one append expires: with their keeper,
/// as many aggregates as an append takes.
pub(crate) const EXPIRIES_PER_APPEND: usize = AGGREGATES_PER_APPEND_MAX - 1;

/// Most holds one append expires: each writes an event to its keeper and
/// one to its cart.
const EXPIRED_HOLDS_PER_APPEND: usize = EVENTS_PER_APPEND_MAX / 2;

/// Run-out holds in groups that fit one append each: at most
/// [`EXPIRIES_PER_APPEND`] carts and [`EXPIRED_HOLDS_PER_APPEND`] holds.
fn in_groups(mut holds: Vec<ExpiredHold>) -> Vec<Vec<ExpiredHold>> {
    holds.sort_by_key(|hold| (hold.cart_id.0, hold.hold_id.0));
    let mut groups: Vec<Vec<ExpiredHold>> = Vec::new();
    let mut carts = 0;
    for hold in holds {
        let last = groups.last_mut().filter(|group| group.len() < EXPIRED_HOLDS_PER_APPEND);
        let new_cart = last.as_ref().and_then(|group| group.last()).is_none_or(|held| held.cart_id != hold.cart_id);
        match last {
            Some(group) if !new_cart || carts < EXPIRIES_PER_APPEND => {
                carts += usize::from(new_cart);
                group.push(hold);
            }
            _ => {
                groups.push(vec![hold]);
                carts = 1;
            }
        }
    }
    groups
}

/// Tickets held in a cart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    /// The hold on the concert, and the cart item's id.
    pub hold_id: HoldId,
    /// When the hold runs out unless the cart is checked out.
    pub expires_at: DateTime<Utc>,
}

impl Shop {
    /// Holds `quantity` tickets of a ticket type for the customer's cart for
    /// [`HOLD_MINUTES`] and adds them to the cart at the ticket type's price.
    pub async fn reserve(
        &self,
        context: &CommandContext,
        customer: CustomerId,
        concert_id: ConcertId,
        ticket_type_id: TicketTypeId,
        quantity: Quantity,
    ) -> Result<Reservation, AppError> {
        let cart_id = CartId::of(customer);
        let now = self.now();
        let reservation =
            Reservation { hold_id: HoldId(uuid::Uuid::now_v7()), expires_at: now + Duration::minutes(HOLD_MINUTES) };
        if let Some((buckets, unit_price)) = self.sold_from_buckets(concert_id, ticket_type_id).await? {
            let request =
                BucketReservation { concert_id, buckets, ticket_type_id, quantity, unit_price, reservation, now };
            return self.reserve_in_buckets(context, customer, request).await;
        }
        let hold = ConcertCommand::HoldTickets(HoldRequest {
            cart_id,
            hold_id: reservation.hold_id,
            ticket_type_id,
            quantity,
            now,
            expires_at: reservation.expires_at,
        });
        // Read the cart here, beside the other buyers, rather than in the
        // concert's lane, where commands are decided one at a time.
        let _ = self.carts().load(cart_id.into()).await;
        let shared_context = Arc::new(context.clone());
        self.run_shared(context, "reserve", &[concert_id.into(), cart_id.into()], move |shop, reads| {
            let (hold, context) = (hold.clone(), Arc::clone(&shared_context));
            Box::pin(async move {
                let concert = load(shop.concerts(), concert_id, reads).await?;
                let concert_events = decide(&concert, &hold)?;
                // The hold was accepted, so the ticket type exists.
                let Some(ticket_type) = concert.state.ticket_type(ticket_type_id) else {
                    return Err(rejected(ticketing::ConcertError::TicketTypeNotFound(ticket_type_id)));
                };
                let item = CartItem {
                    item_id: reservation.hold_id,
                    concert_id,
                    ticket_type_id,
                    quantity,
                    unit_price: ticket_type.price,
                    expires_at: reservation.expires_at,
                    bucket: None,
                };
                let cart = load(shop.carts(), cart_id, reads).await?;
                room_for_concert(&cart.state, concert_id)?;
                let cart_events = decide(&cart, &CartCommand::AddItem { item, now })?;
                let mut batch = Batch::new(&context);
                batch.add(shop.concerts(), &concert, &concert_events)?;
                batch.add(shop.carts(), &cart, &cart_events)?;
                Ok(batch.finish(reservation))
            })
        })
        .await
    }

    /// Removes an item from the customer's cart and releases its hold.
    pub async fn remove_cart_item(
        &self,
        context: &CommandContext,
        customer: CustomerId,
        hold_id: HoldId,
    ) -> Result<(), AppError> {
        let cart_id = CartId::of(customer);
        let keeper = self.keeper_of_item(cart_id, hold_id).await?;
        let shared_context = Arc::new(context.clone());
        self.run(context, "remove_cart_item", &[keeper.aggregate_id(), cart_id.into()], move |shop, reads| {
            let context = Arc::clone(&shared_context);
            Box::pin(async move {
                let cart = load(shop.carts(), cart_id, reads).await?;
                let cart_events = decide(&cart, &CartCommand::RemoveItem { item_id: hold_id })?;
                let mut batch = Batch::new(&context);
                batch.add(shop.carts(), &cart, &cart_events)?;
                shop.release_at(&mut batch, keeper, hold_id, reads).await?;
                Ok(batch.finish(()))
            })
        })
        .await
    }

    /// Releases every hold kept by `keeper` (a concert, or a bucket's
    /// stream) that has run out at `now`, and removes its cart item: the
    /// holds of up to [`EXPIRIES_PER_APPEND`] carts in one append, so that
    /// thousands of abandoned holds cost a hundred-odd appends. Holds settled
    /// meanwhile by someone else are skipped. Returns how many holds it
    /// expired.
    pub async fn expire_holds(&self, keeper: AggregateId, now: DateTime<Utc>) -> Result<usize, AppError> {
        // A sweep reads the log's head: holds made by other processes count too.
        let (keeper, holds) = if self.is_bucket(keeper).await? {
            let bucket = load(self.buckets(), keeper, Reads::Fresh).await?;
            let Some(concert_id) = bucket.state.concert_id() else { return Ok(0) };
            (Keeper::Bucket(concert_id, bucket.state.index()), expired_holds(bucket.state.holds(), now))
        } else {
            let concert = load(self.concerts(), keeper, Reads::Fresh).await?;
            (Keeper::Concert(keeper.into()), expired_holds(concert.state.holds(), now))
        };
        // Holds kept for orders awaiting payment run out with their order.
        let (kept, holds): (Vec<ExpiredHold>, Vec<ExpiredHold>) =
            holds.into_iter().partition(|hold| hold.order_id.is_some());
        let mut expired = self.expire_orders(&kept).await?;
        for group in in_groups(holds) {
            let mut involved = vec![keeper.aggregate_id()];
            involved.extend(group.iter().map(|hold| AggregateId::from(hold.cart_id)));
            involved.dedup();
            // One command id per group would make the sweep idempotent across
            // processes; without one, a settled hold is simply passed over.
            let group = Arc::new(group);
            expired += self
                .run(&CommandContext::default(), "expire_holds", &involved, move |shop, reads| {
                    let group = Arc::clone(&group);
                    Box::pin(async move {
                        let mut batch = Batch::new(&CommandContext::default());
                        let hold_ids: Vec<HoldId> = group.iter().map(|hold| hold.hold_id).collect();
                        let settled = shop.expire_at(&mut batch, keeper, &hold_ids, now, reads).await?;
                        // A group holds each cart's holds side by side (`in_groups`).
                        for holds in group.chunk_by(|one, other| one.cart_id == other.cart_id) {
                            let cart = load(shop.carts(), holds[0].cart_id, reads).await?;
                            let mine = holds.iter().filter(|hold| settled.contains(&hold.hold_id));
                            let commands =
                                mine.map(|hold| (hold.hold_id, CartCommand::ExpireItem { item_id: hold.hold_id, now }));
                            let (events, _) = decide_each(&cart, commands)?;
                            batch.add(shop.carts(), &cart, &events)?;
                        }
                        Ok(batch.finish(settled.len()))
                    })
                })
                .await?;
        }
        metrics::counter!(crate::expiry::HOLDS_EXPIRED).increment(expired as u64);
        Ok(expired)
    }

    /// Buys everything in the customer's cart: empties the cart, places an
    /// order with one fresh ticket code per ticket and, all in one append,
    /// sells the held tickets of each concert in it, or keeps them for the
    /// order while it is paid ([`Shop::order_payment`] starts the payment).
    /// Returns the order's id.
    pub async fn checkout(&self, context: &CommandContext, customer: CustomerId) -> Result<OrderId, AppError> {
        self.checkout_to(context, customer, None).await
    }

    /// [`Shop::checkout`], mailing the tickets to `deliver_to` once the
    /// order is paid.
    pub async fn checkout_to(
        &self,
        context: &CommandContext,
        customer: CustomerId,
        deliver_to: Option<EmailAddress>,
    ) -> Result<OrderId, AppError> {
        let cart_id = CartId::of(customer);
        let order_id = OrderId::from(AggregateId::random());
        let now = self.now();
        // The turns to take come from the cart as cached; if it changes before
        // the attempt, the expected versions still keep the append correct.
        let cart = load(self.carts(), cart_id, Reads::Cached).await?;
        let mut involved: Vec<AggregateId> = keepers_in(&cart.state).into_iter().map(Keeper::aggregate_id).collect();
        involved.push(cart_id.into());
        involved.push(order_id.into());
        let shared_context = Arc::new(context.clone());
        self.run_shared(context, "checkout", &involved, move |shop, reads| {
            let (context, deliver_to) = (Arc::clone(&shared_context), deliver_to.clone());
            Box::pin(async move {
                let cart = load(shop.carts(), cart_id, reads).await?;
                fits_one_append(&cart.state)?;
                let plan = plan_checkout(&cart.state, customer, order_id, now).map_err(rejected)?;
                let terms = shop.payment_terms(&plan);
                let mut batch = Batch::new(&context);
                batch.add(shop.carts(), &cart, &decide(&cart, &plan.cart_command())?)?;
                for sale in &plan.sales {
                    match sale.keeper {
                        Keeper::Concert(concert_id) => {
                            let concert = load(shop.concerts(), concert_id, reads).await?;
                            let command = plan.concert_command(sale, &terms);
                            batch.add(shop.concerts(), &concert, &decide(&concert, &command)?)?;
                        }
                        Keeper::Bucket(..) => {
                            let bucket = load(shop.buckets(), sale.keeper.aggregate_id(), reads).await?;
                            batch.add(
                                shop.buckets(),
                                &bucket,
                                &decide(&bucket, &plan.bucket_command(sale, &terms))?,
                            )?;
                        }
                    }
                }
                let codes: Vec<TicketCode> = (0..plan.tickets_needed()).map(|_| shop.codes().next()).collect();
                let place = plan
                    .order_command(codes, terms, deliver_to)
                    .map_err(|error| es_core::RepositoryError::Rejected(Refused::invalid(error)))?;
                // The order's id was minted above: it has no events to read.
                let order = shop.orders().new_aggregate(order_id.into());
                batch.add(shop.orders(), &order, &decide(&order, &place)?)?;
                Ok(batch.finish(order_id))
            })
        })
        .await
    }

    /// Checks one ticket of an order in at its own concert's door; a second
    /// check-in of the same ticket is refused as a conflict, and so is a
    /// ticket of a cancelled concert. For a scanner that does not say which
    /// door it stands at; [`Shop::check_in_at_door`] also refuses tickets of
    /// other concerts.
    pub async fn check_in(
        &self,
        context: &CommandContext,
        order_id: OrderId,
        code: TicketCode,
    ) -> Result<(), AppError> {
        self.check_in_ticket(context, None, order_id, code).await
    }

    /// Checks one ticket of an order in at the door of `concert_id`: a
    /// ticket of another concert is refused as invalid, a ticket of a
    /// cancelled concert or one checked in before as a conflict.
    pub async fn check_in_at_door(
        &self,
        context: &CommandContext,
        concert_id: ConcertId,
        order_id: OrderId,
        code: TicketCode,
    ) -> Result<(), AppError> {
        self.check_in_ticket(context, Some(concert_id), order_id, code).await
    }

    /// Checks a ticket in at `door`, or at its own concert's door when
    /// `None`. The door's concert is read for its status and its version is
    /// asserted in the append (no events), so a cancellation that commits
    /// first refuses the check-in however stale this process's cache was.
    async fn check_in_ticket(
        &self,
        context: &CommandContext,
        door: Option<ConcertId>,
        order_id: OrderId,
        code: TicketCode,
    ) -> Result<(), AppError> {
        let now = self.now();
        let mut involved: Vec<AggregateId> = door.into_iter().map(AggregateId::from).collect();
        involved.push(order_id.into());
        let job = Arc::new((context.clone(), code));
        self.run(context, "check_in", &involved, move |shop, reads| {
            let job = Arc::clone(&job);
            Box::pin(async move {
                let (context, code) = &*job;
                let order = load(shop.orders(), order_id, reads).await?;
                let ticket_concert = order.state.ticket(code).map(|ticket| ticket.line.concert_id);
                let Some(door) = door.or(ticket_concert) else {
                    let absent = match order.state.placed() {
                        None => OrderError::NotFound,
                        Some(_) => OrderError::TicketNotFound(code.clone()),
                    };
                    return Err(rejected(absent));
                };
                let concert = load(shop.concerts(), door, reads).await?;
                if concert.state.details().is_none() {
                    return Err(rejected(ConcertError::NotFound));
                }
                let command = OrderCommand::CheckInTicket {
                    code: code.clone(),
                    door,
                    concert_status: concert.state.status(),
                    now,
                };
                let mut batch = Batch::new(context);
                batch.add(shop.orders(), &order, &decide(&order, &command)?)?;
                batch.add(shop.concerts(), &concert, &[])?;
                Ok(batch.finish(()))
            })
        })
        .await
    }

    /// Whether a stream is a bucket's: its first event opened a bucket.
    async fn is_bucket(&self, stream: AggregateId) -> Result<bool, AppError> {
        let first = self.log().store().load(stream, es_core::Version(0), 1).await;
        let first = first.map_err(AppError::store)?;
        Ok(first.first().is_some_and(|record| ticketing::BUCKET_EVENT_TYPES.contains(&record.event_type.as_str())))
    }

    /// Where the hold of a cart item is kept.
    async fn keeper_of_item(&self, cart_id: CartId, hold_id: HoldId) -> Result<Keeper, AppError> {
        for reads in [Reads::Cached, Reads::Fresh] {
            let cart = load(self.carts(), cart_id, reads).await?;
            if let Some(item) = cart.state.item(hold_id) {
                return Ok(Keeper::of(item));
            }
        }
        Err(Refused::from_cart_item(hold_id).into())
    }

    /// The number of buckets and the ticket type's price when the concert
    /// sells from buckets; `None` when it sells its tickets itself (or is
    /// not on sale: its own decision then says why). The concert is read
    /// from the cache, and again from the log when the cache has it not yet
    /// published.
    async fn sold_from_buckets(
        &self,
        concert_id: ConcertId,
        ticket_type_id: TicketTypeId,
    ) -> Result<Option<(u16, ticketing::Money)>, AppError> {
        for reads in [Reads::Cached, Reads::Fresh] {
            let concert = load(self.concerts(), concert_id, reads).await?;
            if concert.state.status() != ticketing::ConcertStatus::Draft {
                let price = concert.state.ticket_type(ticket_type_id).map(|ticket_type| ticket_type.price);
                return match (concert.state.buckets(), price) {
                    (0, _) => Ok(None),
                    (_, None) => Err(rejected(ConcertError::TicketTypeNotFound(ticket_type_id)).into()),
                    (buckets, Some(price)) => Ok(Some((buckets, price))),
                };
            }
        }
        Ok(None)
    }
}

/// Where the holds of a cart's items are kept, each once.
fn keepers_in(cart: &Cart) -> Vec<Keeper> {
    let mut keepers: Vec<Keeper> = Vec::new();
    for item in cart.items() {
        if !keepers.contains(&Keeper::of(item)) {
            keepers.push(Keeper::of(item));
        }
    }
    keepers
}

/// The concerts of a cart's items, live or not, each once.
fn concerts_in(cart: &Cart) -> Vec<ConcertId> {
    let mut concerts: Vec<ConcertId> = Vec::new();
    for item in cart.items() {
        if !concerts.contains(&item.concert_id) {
            concerts.push(item.concert_id);
        }
    }
    concerts
}

/// Refuses tickets of a concert new to a cart that holds tickets of
/// [`CONCERTS_PER_CART_MAX`] concerts already: its checkout could not commit.
pub(crate) fn room_for_concert(cart: &Cart, concert_id: ConcertId) -> Result<(), AttemptError> {
    let concerts = concerts_in(cart);
    if concerts.contains(&concert_id) || concerts.len() < CONCERTS_PER_CART_MAX {
        return Ok(());
    }
    Err(invalid(format!(
        "a cart holds tickets of at most {CONCERTS_PER_CART_MAX} concerts, because checkout buys them all at once; \
         check out or remove the tickets of another concert first"
    )))
}

/// Refuses the checkout of a cart of more concerts than one append takes
/// (one filled before [`room_for_concert`] was checked).
fn fits_one_append(cart: &Cart) -> Result<(), AttemptError> {
    // The items of one concert share one keeper, so keepers are concerts;
    // counting keepers counts what the append really takes.
    let concerts = keepers_in(cart).len();
    if concerts <= CONCERTS_PER_CART_MAX {
        return Ok(());
    }
    Err(invalid(format!(
        "a checkout buys tickets of at most {CONCERTS_PER_CART_MAX} concerts and the cart holds tickets of \
         {concerts}; remove the tickets of {} of them first",
        concerts - CONCERTS_PER_CART_MAX
    )))
}

fn invalid(message: String) -> AttemptError {
    RepositoryError::Rejected(Refused::Domain { kind: RefusalKind::Invalid, message })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use es_core::Aggregate;
    use ticketing::{CartEvent, Currency, Money};

    use super::*;

    fn hold_of(cart: u128) -> ExpiredHold {
        ExpiredHold {
            hold_id: HoldId(uuid::Uuid::new_v4()),
            cart_id: CartId(uuid::Uuid::from_u128(cart)),
            order_id: None,
        }
    }

    #[test]
    fn expiries_come_in_groups_that_fit_one_append() {
        // 40 carts with one hold each, then one cart with 40 holds.
        let mut holds: Vec<ExpiredHold> = (0..40).map(hold_of).collect();
        holds.extend((0..40).map(|_| hold_of(1_000)));

        let groups = in_groups(holds);

        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 80, "every hold once");
        for group in &groups {
            let mut carts: Vec<CartId> = group.iter().map(|hold| hold.cart_id).collect();
            carts.dedup();
            assert!(carts.len() <= EXPIRIES_PER_APPEND && group.len() <= EXPIRED_HOLDS_PER_APPEND, "{group:?}");
        }
        assert!(groups.len() <= 6, "{} groups", groups.len());
    }

    /// A cart holding one ticket of each of `concerts` concerts, as its events built it (whatever rules held then).
    fn cart_of(concerts: usize) -> Cart {
        let expires_at = Utc.with_ymd_and_hms(2030, 1, 1, 10, 15, 0).single().expect("a valid time");
        let mut cart = Cart::default();
        for _ in 0..concerts {
            cart.evolve(&CartEvent::ItemAdded {
                item_id: HoldId(uuid::Uuid::new_v4()),
                concert_id: ConcertId(uuid::Uuid::new_v4()),
                ticket_type_id: TicketTypeId(uuid::Uuid::new_v4()),
                quantity: Quantity::new(1).expect("a quantity"),
                unit_price: Money::new(2_500, Currency::new("EUR").expect("a currency")),
                expires_at,
                bucket: None,
            });
        }
        cart
    }

    #[test]
    fn a_checkout_of_more_concerts_than_one_append_takes_is_refused_as_invalid() {
        assert!(fits_one_append(&cart_of(CONCERTS_PER_CART_MAX)).is_ok());

        let refused = fits_one_append(&cart_of(CONCERTS_PER_CART_MAX + 2));

        let Err(RepositoryError::Rejected(Refused::Domain { kind, message })) = refused else {
            panic!("not refused: {refused:?}");
        };
        assert_eq!(kind, RefusalKind::Invalid);
        assert!(message.contains("remove the tickets of 2 of them"), "{message}");
    }
}
