//! Holding tickets of a concert that sells from buckets, and settling any
//! hold where it is kept (the concert itself or one of its buckets).
//!
//! A buyer starts at a bucket of their own (their id decides it, so buyers
//! spread evenly and the same buyer comes back to the same bucket): in a
//! sale with stock left everywhere, each purchase appends to one bucket and
//! one cart, and purchases in different buckets never wait for each other.
//! When that bucket cannot cover the request, the buyer takes another bucket
//! that can; when no single bucket can but all together can, tickets move
//! into the buyer's bucket from the fullest others in the same append as the
//! hold. All items of one concert in a cart stay in one bucket, so that a
//! checkout appends as many streams as the cart has concerts.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use es_core::{Aggregate, AggregateId, CommandContext, Loaded, Repository};
use ticketing::bucket::moves_for;
use ticketing::process::Keeper;
use ticketing::{
    Bucket, BucketCommand, BucketEvent, BucketId, CartCommand, CartId, CartItem, ConcertCommand, ConcertError,
    ConcertId, CustomerId, HoldId, HoldRequest, Money, Quantity, TicketTypeId,
};

use crate::error::{AppError, AttemptError, Refusal, rejected};
use crate::sales::{Reservation, room_for_concert};
use crate::shop::{Batch, Reads, Shop, decide, decide_each, load};

/// A reservation on a concert that sells from `buckets` buckets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BucketReservation {
    pub(crate) concert_id: ConcertId,
    pub(crate) buckets: u16,
    pub(crate) ticket_type_id: TicketTypeId,
    pub(crate) quantity: Quantity,
    pub(crate) unit_price: Money,
    pub(crate) reservation: Reservation,
    pub(crate) now: DateTime<Utc>,
}

/// The bucket a customer starts at: spread evenly by their (random) id.
fn home(customer: CustomerId, buckets: u16) -> u16 {
    let index = customer.as_uuid().as_u128() % u128::from(buckets.max(1));
    u16::try_from(index).unwrap_or(0)
}

impl Shop {
    /// Holds the tickets in a bucket and adds them to the customer's cart,
    /// moving tickets between buckets when no single one has enough.
    pub(crate) async fn reserve_in_buckets(
        &self,
        context: &CommandContext,
        customer: CustomerId,
        request: BucketReservation,
    ) -> Result<Reservation, AppError> {
        let cart_id = CartId::of(customer);
        let start = home(customer, request.buckets);
        let lead = BucketId::of(request.concert_id, start);
        let shared_context = Arc::new(context.clone());
        self.run_shared(context, "reserve", &[lead.into(), cart_id.into()], move |shop, reads| {
            let context = Arc::clone(&shared_context);
            Box::pin(async move {
                let cart = load(shop.carts(), cart_id, reads).await?;
                room_for_concert(&cart.state, request.concert_id)?;
                let pinned = cart.state.items().iter().find(|item| item.concert_id == request.concert_id);
                let target = pinned.and_then(|item| item.bucket).unwrap_or(start);
                let mut batch = Batch::new(&context);
                let chosen =
                    shop.hold_in_buckets(&mut batch, cart_id, &request, target, pinned.is_some(), reads).await?;
                let item = CartItem {
                    item_id: request.reservation.hold_id,
                    concert_id: request.concert_id,
                    ticket_type_id: request.ticket_type_id,
                    quantity: request.quantity,
                    unit_price: request.unit_price,
                    expires_at: request.reservation.expires_at,
                    bucket: Some(chosen),
                };
                let cart_events = decide(&cart, &CartCommand::AddItem { item, now: request.now })?;
                batch.add(shop.carts(), &cart, &cart_events)?;
                Ok(batch.finish(request.reservation))
            })
        })
        .await
    }

    /// Records the hold in `target`, or in another bucket with enough when
    /// `pinned` is false, or in `target` after moving tickets into it.
    /// Returns the bucket that holds them.
    async fn hold_in_buckets(
        &self,
        batch: &mut Batch,
        cart_id: CartId,
        request: &BucketReservation,
        target: u16,
        pinned: bool,
        reads: Reads<'_>,
    ) -> Result<u16, AttemptError> {
        let BucketReservation { concert_id, buckets, ticket_type_id, quantity, now, reservation, .. } = *request;
        let hold = BucketCommand::Hold(HoldRequest {
            cart_id,
            hold_id: reservation.hold_id,
            ticket_type_id,
            quantity,
            now,
            expires_at: reservation.expires_at,
        });
        let first = load(self.buckets(), BucketId::of(concert_id, target), reads).await?;
        if first.state.available(ticket_type_id, now) >= quantity.get() {
            batch.add(self.buckets(), &first, &decide(&first, &hold)?)?;
            return Ok(target);
        }
        let mut all = vec![(target, first)];
        for step in 1..buckets {
            let index = (target + step) % buckets;
            all.push((index, load(self.buckets(), BucketId::of(concert_id, index), reads).await?));
        }
        if !pinned
            && let Some((index, other)) =
                all.iter().find(|(_, bucket)| bucket.state.available(ticket_type_id, now) >= quantity.get())
        {
            batch.add(self.buckets(), other, &decide(other, &hold)?)?;
            return Ok(*index);
        }
        let states: Vec<(u16, &Bucket)> = all.iter().map(|(index, bucket)| (*index, &bucket.state)).collect();
        let Some(moves) = moves_for(&states, target, ticket_type_id, quantity.get(), now) else {
            return Err(short_everywhere(&all, &hold, ticket_type_id, quantity, now));
        };
        let mut into_target: Vec<BucketEvent> = Vec::new();
        for (from, count) in moves {
            let Some((_, giver)) = all.iter().find(|(index, _)| *index == from) else { continue };
            let move_out = BucketCommand::MoveOut { ticket_type_id, quantity: count, to: target };
            batch.add(self.buckets(), giver, &decide(giver, &move_out)?)?;
            into_target.extend(decide(&all[0].1, &BucketCommand::MoveIn { ticket_type_id, quantity: count, from })?);
        }
        let mut filled: Loaded<Bucket> = all[0].1.clone();
        for event in &into_target {
            filled.state.evolve(event);
        }
        into_target.extend(decide(&filled, &hold)?);
        batch.add(self.buckets(), &all[0].1, &into_target)?;
        Ok(target)
    }

    /// Records the expiry of each of `holds` on the concert or bucket that
    /// keeps them; returns those it expired (the others were settled
    /// meanwhile).
    pub(crate) async fn expire_at(
        &self,
        batch: &mut Batch,
        keeper: Keeper,
        hold_ids: &[HoldId],
        now: DateTime<Utc>,
        reads: Reads<'_>,
    ) -> Result<Vec<HoldId>, AttemptError> {
        let hold_ids = hold_ids.iter().copied();
        match keeper {
            Keeper::Concert(concert_id) => {
                let commands = hold_ids.map(|hold_id| (hold_id, ConcertCommand::ExpireHold { hold_id, now }));
                decide_each_on(batch, self.concerts(), concert_id.into(), commands, reads).await
            }
            Keeper::Bucket(..) => {
                let commands = hold_ids.map(|hold_id| (hold_id, BucketCommand::Expire { hold_id, now }));
                decide_each_on(batch, self.buckets(), keeper.aggregate_id(), commands, reads).await
            }
        }
    }

    /// Records the release of a hold on the concert or bucket that keeps it.
    pub(crate) async fn release_at(
        &self,
        batch: &mut Batch,
        keeper: Keeper,
        hold_id: HoldId,
        reads: Reads<'_>,
    ) -> Result<(), AttemptError> {
        match keeper {
            Keeper::Concert(concert_id) => {
                let concert = load(self.concerts(), concert_id, reads).await?;
                batch.add(self.concerts(), &concert, &decide(&concert, &ConcertCommand::ReleaseHold { hold_id })?)?;
            }
            Keeper::Bucket(..) => {
                let bucket = load(self.buckets(), keeper.aggregate_id(), reads).await?;
                batch.add(self.buckets(), &bucket, &decide(&bucket, &BucketCommand::Release { hold_id })?)?;
            }
        }
        Ok(())
    }
}

/// Loads `aggregate_id`, decides `commands` on it one after another
/// ([`decide_each`]) and records their events in `batch`; the keys of those
/// decided.
async fn decide_each_on<A>(
    batch: &mut Batch,
    repository: &Repository<A>,
    aggregate_id: AggregateId,
    commands: impl IntoIterator<Item = (HoldId, A::Command)>,
    reads: Reads<'_>,
) -> Result<Vec<HoldId>, AttemptError>
where
    A: Aggregate,
    A::Error: Refusal,
{
    let loaded = load(repository, aggregate_id, reads).await?;
    let (events, decided) = decide_each(&loaded, commands)?;
    batch.add(repository, &loaded, &events)?;
    Ok(decided)
}

/// The refusal when the buckets together cannot cover a hold: the target
/// bucket's own reason (cancelled, started, no such type), or not enough
/// tickets counted over every bucket.
fn short_everywhere(
    all: &[(u16, Loaded<Bucket>)],
    hold: &BucketCommand,
    ticket_type_id: TicketTypeId,
    quantity: Quantity,
    now: DateTime<Utc>,
) -> AttemptError {
    let available = all.iter().map(|(_, bucket)| bucket.state.available(ticket_type_id, now)).sum();
    match all.first().map(|(_, bucket)| bucket.state.decide(hold)) {
        Some(Err(ConcertError::NotEnoughTickets { .. })) | Some(Ok(_)) | None => {
            rejected(ConcertError::NotEnoughTickets { ticket_type_id, available, requested: quantity.get() })
        }
        Some(Err(reason)) => rejected(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_start_at_every_bucket_evenly() {
        let mut starts = [0_u32; 8];
        for n in 0..8_000_u128 {
            let customer = CustomerId(uuid::Uuid::from_u128(n.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)));
            starts[usize::from(home(customer, 8))] += 1;
        }
        assert!(starts.iter().all(|count| (900..=1_100).contains(count)), "{starts:?}");
        assert_eq!(home(CustomerId(uuid::Uuid::from_u128(5)), 1), 0);
    }
}
