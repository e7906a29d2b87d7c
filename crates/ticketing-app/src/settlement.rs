//! The handlers of an order's payment: starting it at the provider, taking
//! the provider's word that it succeeded or failed, and closing the window
//! of an order nobody paid. Each appends the order with every stock that
//! holds its tickets, so tickets are sold exactly when the order is paid
//! and back on sale exactly when it is not.
//!
//! The provider's notifications come at least once, in any order, and may
//! come after the order ran out: a repeat changes nothing, and money that
//! can no longer buy the tickets is paid back (once: the refund's
//! idempotency key is the payment's, and the order records it).

use std::sync::Arc;

use chrono::Duration;
use es_core::{Aggregate, AggregateId, CommandContext, Decision};
use serde::{Deserialize, Serialize};
use ticketing::limits::PAYMENT_MINUTES;
use ticketing::process::{CheckoutPlan, ExpiredHold, Keeper};
use ticketing::{
    BucketCommand, ConcertCommand, CustomerId, HoldId, OrderCommand, OrderHolds, OrderId, OrderStatus, PaymentCommand,
    PaymentTerms,
};

use crate::error::{AppError, AttemptError};
use crate::payments::{PaymentNotice, PaymentOutcome, PaymentRequest, PaymentSession};
use crate::shop::{Batch, Reads, Shop, decide, decide_each, load};

/// How an order is being paid, for its buyer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderPayment {
    /// Where the order stands.
    pub status: OrderStatus,
    /// The provider (`"stripe"`, or `"test"` for the built-in one).
    pub provider: String,
    /// The provider's payment, while the order awaits it.
    pub session: Option<PaymentSession>,
}

/// What a provider's notification did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Settlement {
    /// The order is paid and its tickets sold.
    Paid,
    /// The payment failed and the tickets went back on sale.
    Failed,
    /// Nothing: the notification was handled before.
    Repeated,
    /// The money came after the order failed or ran out, or it paid an
    /// order paid already: it was paid back.
    Returned,
}

impl Shop {
    /// How an order placed at `now` from `plan` is paid: due within
    /// [`PAYMENT_MINUTES`] when there is something to pay and a provider to
    /// pay it to, paid at once otherwise.
    pub(crate) fn payment_terms(&self, plan: &CheckoutPlan) -> PaymentTerms {
        match self.payments() {
            Some(provider) if plan.total.amount > 0 => PaymentTerms::Due {
                provider: provider.name().to_owned(),
                due: plan.now + Duration::minutes(PAYMENT_MINUTES),
                holds: plan.order_holds(),
            },
            _ if plan.total.amount == 0 => PaymentTerms::PaidAtCheckout { provider: "none".to_owned() },
            _ => PaymentTerms::PaidAtCheckout { provider: "test".to_owned() },
        }
    }

    /// The payment of an order, started at the provider if it has not been:
    /// what the buyer's browser needs to pay. `customer` is the caller, or
    /// `None` for an organiser; someone else's order is not found.
    pub async fn order_payment(
        &self,
        context: &CommandContext,
        customer: Option<CustomerId>,
        order_id: OrderId,
    ) -> Result<OrderPayment, AppError> {
        // Without a provider an order is settled as placed, and checkout asks right after placing it: the cache,
        // which took the order at its commit, answers without a read of the log on the buyers' path.
        let reads = if self.payments().is_some() { Reads::Fresh } else { Reads::Cached };
        let order = load(self.orders(), order_id, reads).await?;
        let placed =
            order.state.placed().filter(|placed| customer.is_none_or(|customer| placed.customer_id == customer));
        let not_found = || AppError::NotFound(format!("order {order_id}"));
        let placed = placed.ok_or_else(not_found)?;
        let provider = match &placed.payment {
            Some(PaymentTerms::Due { provider, .. }) => provider.clone(),
            Some(PaymentTerms::PaidAtCheckout { provider }) => provider.clone(),
            None => "test".to_owned(),
        };
        let status = order.state.status();
        let session = match (status, self.payments()) {
            (OrderStatus::PendingPayment, Some(payments)) => Some(match order.state.payment_id() {
                Some(payment_id) => payments.payment(payment_id).await.map_err(AppError::payment)?,
                None => {
                    let key = format!("order-{order_id}");
                    let request = PaymentRequest { order_id, amount: placed.total, idempotency_key: key };
                    let session = payments.create_payment(&request).await.map_err(AppError::payment)?;
                    match self.record_payment(context, order_id, &session.payment_id).await {
                        Ok(()) => session,
                        // Another request recorded its own payment first (that one is the order's), or the
                        // order stopped awaiting payment meanwhile.
                        Err(AppError::Rejected { .. }) => {
                            let order = load(self.orders(), order_id, Reads::Fresh).await?;
                            let status = order.state.status();
                            match order.state.payment_id().filter(|_| status == OrderStatus::PendingPayment) {
                                Some(recorded) => payments.payment(recorded).await.map_err(AppError::payment)?,
                                None => return Ok(OrderPayment { status, provider, session: None }),
                            }
                        }
                        Err(error) => return Err(error),
                    }
                }
            }),
            _ => None,
        };
        Ok(OrderPayment { status, provider, session })
    }

    /// Records the provider's payment created for an order; when another
    /// process recorded its own first, that one is the order's. The record
    /// keeps the request's metadata but not its command id: that names the
    /// checkout, whose answer a retry must get.
    async fn record_payment(
        &self,
        context: &CommandContext,
        order_id: OrderId,
        payment_id: &str,
    ) -> Result<(), AppError> {
        let command = OrderCommand::Payment(PaymentCommand::Requested { payment_id: payment_id.to_owned() });
        let context = CommandContext { command_id: None, ..context.clone() };
        let job = Arc::new((command, context.clone()));
        self.run(&context, "request_payment", &[order_id.into()], move |shop, reads| {
            let job = Arc::clone(&job);
            Box::pin(async move {
                let (command, context) = &*job;
                let order = load(shop.orders(), order_id, reads).await?;
                let mut batch = Batch::new(context);
                batch.add(shop.orders(), &order, &decide(&order, command)?)?;
                Ok(batch.finish(()))
            })
        })
        .await
    }

    /// Acts on a provider's verified notification about an order's payment.
    pub async fn settle_payment(&self, notice: &PaymentNotice) -> Result<Settlement, AppError> {
        let order_id = notice.order_id;
        let order = load(self.orders(), order_id, Reads::Fresh).await?;
        let Some(placed) = order.state.placed() else {
            return Err(AppError::NotFound(format!("order {order_id}")));
        };
        let holds = match &placed.payment {
            Some(PaymentTerms::Due { holds, .. }) => holds.clone(),
            _ => Vec::new(),
        };
        let payment_id = notice.payment_id.clone();
        match &notice.outcome {
            PaymentOutcome::Succeeded { amount } => {
                let command = PaymentCommand::Pay { payment_id: payment_id.clone(), amount: *amount, now: self.now() };
                match self.settle(order_id, holds.clone(), command, "pay_order").await {
                    Ok(Some(settlement)) => Ok(settlement),
                    // Paid after it failed or ran out, paid twice, or paid the wrong amount.
                    Ok(None) => self.return_payment(order_id, &payment_id).await,
                    // A stock refused the sale (its concert was cancelled meanwhile):
                    // the order cannot be had; let it fail, and pay the money back.
                    Err(AppError::Rejected { message, .. }) => {
                        let command = PaymentCommand::Fail { reason: message, now: self.now() };
                        self.settle(order_id, holds, command, "fail_order").await?;
                        self.return_payment(order_id, &payment_id).await
                    }
                    Err(error) => Err(error),
                }
            }
            PaymentOutcome::Failed { reason } => {
                let command = PaymentCommand::Fail { reason: reason.clone(), now: self.now() };
                let settlement = self.settle(order_id, holds, command, "fail_order").await?;
                // The provider lets a buyer try another card on the same payment;
                // the order is gone, so the payment must not succeed any more.
                self.cancel_payment(order_id, &payment_id).await;
                Ok(settlement.unwrap_or(Settlement::Repeated))
            }
        }
    }

    /// Decides a payment step on the order and, if it pays or fails the
    /// order, sells or releases its holds, in one append. `None` when the
    /// order no longer awaits payment and was not paid by this payment.
    async fn settle(
        &self,
        order_id: OrderId,
        holds: Vec<OrderHolds>,
        command: PaymentCommand,
        name: &'static str,
    ) -> Result<Option<Settlement>, AppError> {
        let mut involved: Vec<AggregateId> =
            holds.iter().map(|holds| Keeper::of_order_holds(holds).aggregate_id()).collect();
        involved.push(order_id.into());
        let job = Arc::new((holds, command));
        self.run(&CommandContext::default(), name, &involved, move |shop, reads| {
            let job = Arc::clone(&job);
            Box::pin(async move {
                let (holds, command) = &*job;
                let order = load(shop.orders(), order_id, reads).await?;
                let decided = order.state.decide(&OrderCommand::Payment(command.clone()));
                let events = match decided {
                    Ok(events) if events.is_empty() => return Ok(Decision::unchanged(Some(Settlement::Repeated))),
                    Ok(events) => events,
                    Err(_) if order.state.status() != OrderStatus::PendingPayment => {
                        let repeated = matches!(command, PaymentCommand::Fail { .. });
                        return Ok(Decision::unchanged(repeated.then_some(Settlement::Repeated)));
                    }
                    // Money that cannot pay for the order: paid back, the order still awaits its own.
                    Err(ticketing::OrderError::WrongAmount { .. }) => return Ok(Decision::unchanged(None)),
                    Err(refusal) => return Err(crate::error::rejected(refusal)),
                };
                let mut batch = Batch::new(&CommandContext::default());
                batch.add(shop.orders(), &order, &events)?;
                let paid = matches!(command, PaymentCommand::Pay { .. });
                for holds in holds {
                    let keeper = Keeper::of_order_holds(holds);
                    if paid {
                        shop.sell_kept(&mut batch, keeper, order_id, &holds.hold_ids, reads).await?;
                    } else {
                        shop.release_kept(&mut batch, keeper, &holds.hold_ids, reads).await?;
                    }
                }
                Ok(batch.finish(Some(if paid { Settlement::Paid } else { Settlement::Failed })))
            })
        })
        .await
    }

    /// Pays back a payment the order cannot keep, once.
    async fn return_payment(&self, order_id: OrderId, payment_id: &str) -> Result<Settlement, AppError> {
        let order = load(self.orders(), order_id, Reads::Fresh).await?;
        if order.state.has_returned(payment_id) {
            return Ok(Settlement::Repeated);
        }
        let Some(payments) = self.payments() else {
            return Err(AppError::NotFound(format!("payment {payment_id}")));
        };
        let refund_id =
            payments.refund(payment_id, None, &format!("return-{payment_id}")).await.map_err(AppError::payment)?;
        let command = OrderCommand::Payment(PaymentCommand::ReturnLatePayment {
            payment_id: payment_id.to_owned(),
            refund_id,
            now: self.now(),
        });
        self.order_step("return_payment", order_id, command).await?;
        Ok(Settlement::Returned)
    }

    /// Cancels an order's payment at the provider so that it cannot succeed
    /// any more. Best effort: a payment that succeeds regardless is paid back
    /// when its notification comes.
    async fn cancel_payment(&self, order_id: OrderId, payment_id: &str) {
        let Some(payments) = self.payments() else { return };
        if let Err(error) = payments.cancel_payment(payment_id, &format!("cancel-{payment_id}")).await {
            tracing::warn!(%order_id, payment_id, error = %error, "the order's payment could not be cancelled");
        }
    }

    /// Closes the payment window of the orders whose kept holds in `expired`
    /// have run out: each order runs out with every hold it kept, in one
    /// append per order. Returns how many holds went back on sale.
    pub(crate) async fn expire_orders(&self, expired: &[ExpiredHold]) -> Result<usize, AppError> {
        let now = self.now();
        let mut orders: Vec<OrderId> = expired.iter().filter_map(|hold| hold.order_id).collect();
        orders.sort_unstable_by_key(|order_id| order_id.0);
        orders.dedup();
        let mut count = 0;
        for order_id in orders {
            let order = load(self.orders(), order_id, Reads::Fresh).await?;
            let holds = match order.state.placed().and_then(|placed| placed.payment.clone()) {
                Some(PaymentTerms::Due { holds, .. }) => holds,
                _ => continue,
            };
            let mut involved: Vec<AggregateId> =
                holds.iter().map(|holds| Keeper::of_order_holds(holds).aggregate_id()).collect();
            involved.push(order_id.into());
            let holds = Arc::new(holds);
            let (expired_now, released) = self
                .run(&CommandContext::default(), "expire_order", &involved, move |shop, reads| {
                    let holds = Arc::clone(&holds);
                    Box::pin(async move {
                        let order = load(shop.orders(), order_id, reads).await?;
                        let expire = OrderCommand::Payment(PaymentCommand::Expire { now });
                        let events = match order.state.status() {
                            OrderStatus::PendingPayment => decide(&order, &expire)?,
                            _ => Vec::new(),
                        };
                        let mut batch = Batch::new(&CommandContext::default());
                        batch.add(shop.orders(), &order, &events)?;
                        let mut released = 0;
                        for holds in holds.iter() {
                            let keeper = Keeper::of_order_holds(holds);
                            released += shop.expire_kept(&mut batch, keeper, &holds.hold_ids, now, reads).await?;
                        }
                        Ok(batch.finish((!events.is_empty(), released)))
                    })
                })
                .await?;
            if expired_now && let Some(payment_id) = order.state.payment_id() {
                self.cancel_payment(order_id, payment_id).await;
            }
            count += released;
        }
        Ok(count)
    }

    /// Sells the holds a stock kept for an order.
    async fn sell_kept(
        &self,
        batch: &mut Batch,
        keeper: Keeper,
        order_id: OrderId,
        hold_ids: &[HoldId],
        reads: Reads<'_>,
    ) -> Result<(), AttemptError> {
        let (hold_ids, now) = (hold_ids.to_vec(), self.now());
        match keeper {
            Keeper::Concert(concert_id) => {
                let concert = load(self.concerts(), concert_id, reads).await?;
                let sell = ConcertCommand::SellHeldTickets { hold_ids, order_id, now };
                batch.add(self.concerts(), &concert, &decide(&concert, &sell)?)?;
            }
            Keeper::Bucket(..) => {
                let bucket = load(self.buckets(), keeper.aggregate_id(), reads).await?;
                let sell = BucketCommand::Sell { hold_ids, order_id, now };
                batch.add(self.buckets(), &bucket, &decide(&bucket, &sell)?)?;
            }
        }
        Ok(())
    }

    /// Gives back the holds a stock kept for an order, those still kept.
    async fn release_kept(
        &self,
        batch: &mut Batch,
        keeper: Keeper,
        hold_ids: &[HoldId],
        reads: Reads<'_>,
    ) -> Result<usize, AttemptError> {
        let released = match keeper {
            Keeper::Concert(concert_id) => {
                let concert = load(self.concerts(), concert_id, reads).await?;
                let commands = hold_ids.iter().map(|&hold_id| (hold_id, ConcertCommand::ReleaseHold { hold_id }));
                let (events, released) = decide_each(&concert, commands)?;
                batch.add(self.concerts(), &concert, &events)?;
                released
            }
            Keeper::Bucket(..) => {
                let bucket = load(self.buckets(), keeper.aggregate_id(), reads).await?;
                let commands = hold_ids.iter().map(|&hold_id| (hold_id, BucketCommand::Release { hold_id }));
                let (events, released) = decide_each(&bucket, commands)?;
                batch.add(self.buckets(), &bucket, &events)?;
                released
            }
        };
        Ok(released.len())
    }

    /// Expires the holds a stock kept for an order whose window has closed,
    /// those still kept.
    async fn expire_kept(
        &self,
        batch: &mut Batch,
        keeper: Keeper,
        hold_ids: &[HoldId],
        now: chrono::DateTime<chrono::Utc>,
        reads: Reads<'_>,
    ) -> Result<usize, AttemptError> {
        Ok(self.expire_at(batch, keeper, hold_ids, now, reads).await?.len())
    }
}
