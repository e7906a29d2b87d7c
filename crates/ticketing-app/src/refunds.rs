//! Cancellation that fans can trust. When a concert is cancelled every
//! order that paid for its tickets is paid back (the tickets of that
//! concert only, for an order of several concerts), its tickets become void
//! at the door, and its buyer is told by mail. A process that follows the
//! log does it, never the request that cancelled: a concert may have sold
//! thousands of orders, each refund is a call to the provider, and a crash
//! halfway must leave the rest to be done, not lost.
//!
//! Which orders bought a concert's tickets is in the streams that sold
//! them: the concert's own and its buckets' `TicketsSold` events. The
//! cancellation closes the concert and every bucket in one append, so once
//! it is in the log those streams sell nothing more and reading them gives
//! every order. (An order still awaiting payment then cannot be sold: its
//! payment fails and is paid back as it arrives, see the settlement.)
//!
//! Each step is recorded in the order (`OrderRefunded`, then
//! `OrderRefundMailed`), so a process started again knows from the log what
//! is left. A crash between the provider's refund and its record asks the
//! provider again under the same idempotency key, which refunds once; a
//! crash between the mail and its record sends it again under the same
//! `Message-ID`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use es_core::{CodecError, DomainEvent, Position, RecordedEvent, Version, async_trait};
use futures_util::StreamExt;
use ticketing::process::Keeper;
use ticketing::{ConcertEvent, ConcertId, ORDER_EVENT_TYPES, OrderCommand, OrderEvent, OrderId};
use ticketing::{ConcertStatus, PaymentTerms, RefundCommand, RefusalKind};

use crate::error::AppError;
use crate::follow::Follower;
use crate::mail::{Mail, Mailer, send};
use crate::shop::{Reads, Shop, load};

/// How long a refund or mail that failed waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Refunds asked of the provider at once.
const REFUNDS_IN_FLIGHT: usize = 8;

/// The cancelled concerts whose orders may not all be paid back yet, and
/// the refunds whose mail is not yet in the log; rebuilt from the log.
#[derive(Debug, Default)]
pub struct CancellationRefunds {
    cancelled: BTreeSet<ConcertId>,
    refunded: BTreeSet<(OrderId, ConcertId)>,
    unmailed: BTreeSet<(OrderId, ConcertId)>,
    position: Position,
}

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RefundReport {
    /// Orders paid back.
    pub refunded: usize,
    /// Buyers told by mail.
    pub mailed: usize,
    /// Refunds or mails that failed and will be tried again.
    pub failed: usize,
}

impl CancellationRefunds {
    /// A process that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one record of the log into account.
    pub fn observe(&mut self, record: &RecordedEvent) -> Result<(), CodecError> {
        self.position = self.position.max(record.position);
        let event_type = record.event_type.as_str();
        if event_type == "ConcertCancelled" {
            self.cancelled.insert(ConcertId::from(record.aggregate_id));
            return Ok(());
        }
        if !ORDER_EVENT_TYPES.contains(&event_type) {
            return Ok(());
        }
        let order_id = OrderId::from(record.aggregate_id);
        match OrderEvent::from_record(record)? {
            OrderEvent::Refunded { concert_id, .. } => {
                self.refunded.insert((order_id, concert_id));
                self.unmailed.insert((order_id, concert_id));
            }
            OrderEvent::RefundMailed { concert_id, .. } => {
                self.unmailed.remove(&(order_id, concert_id));
            }
            _ => {}
        }
        Ok(())
    }

    /// How many refunds still wait for their mail.
    pub fn unmailed(&self) -> usize {
        self.unmailed.len()
    }

    /// Pays back every order of every cancelled concert not paid back yet,
    /// then tells each buyer, if there is a mailer.
    pub async fn refund(&mut self, shop: &Shop, mailer: Option<&dyn Mailer>) -> RefundReport {
        let mut report = RefundReport::default();
        for concert_id in self.cancelled.clone() {
            match self.refund_concert(shop, concert_id, &mut report).await {
                Ok(true) => {
                    self.cancelled.remove(&concert_id);
                }
                // Some of its orders failed (each counted and logged): the concert is not done.
                Ok(false) => report.failed += 1,
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(%concert_id, %error, "the cancelled concert's orders cannot be read; trying again");
                }
            }
        }
        let Some(mailer) = mailer else { return report };
        for (order_id, concert_id) in self.unmailed.clone() {
            match shop.mail_refund(order_id, concert_id, mailer).await {
                Ok(mailed) => report.mailed += usize::from(mailed),
                Err(error @ AppError::Rejected { .. }) => {
                    tracing::warn!(%order_id, %error, "the mail server refused the refund's mail; not sending it again");
                }
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(%order_id, %error, "the refund's mail could not be sent; trying again later");
                    continue;
                }
            }
            self.unmailed.remove(&(order_id, concert_id));
        }
        report
    }

    /// Pays back each order of one cancelled concert; whether every one is.
    /// An order that fails is counted and left for the next round; `Err`
    /// only when the concert's orders cannot be read.
    async fn refund_concert(
        &mut self,
        shop: &Shop,
        concert_id: ConcertId,
        report: &mut RefundReport,
    ) -> Result<bool, AppError> {
        let orders = shop.orders_of(concert_id).await?;
        let unpaid: Vec<OrderId> =
            orders.into_iter().filter(|order_id| !self.refunded.contains(&(*order_id, concert_id))).collect();
        // Each refund waits on the provider: a few at once, within what its API allows a shop.
        let results: Vec<(OrderId, Result<bool, AppError>)> = futures_util::stream::iter(unpaid)
            .map(|order_id| async move { (order_id, shop.refund_cancelled(order_id, concert_id).await) })
            .buffer_unordered(REFUNDS_IN_FLIGHT)
            .collect()
            .await;
        let mut done = true;
        for (order_id, result) in results {
            match result {
                Ok(refunded) => {
                    report.refunded += usize::from(refunded);
                    self.refunded.insert((order_id, concert_id));
                }
                Err(error) => {
                    done = false;
                    report.failed += 1;
                    tracing::warn!(%order_id, %concert_id, %error, "the order cannot be paid back yet; trying again");
                }
            }
        }
        Ok(done)
    }

    /// Follows the log and pays back cancelled concerts' orders as they are
    /// cancelled, until `shutdown`.
    pub async fn run(
        self,
        shop: Arc<Shop>,
        log: es_core::EventLog,
        mailer: Option<Arc<dyn Mailer>>,
        shutdown: es_core::CancellationToken,
    ) {
        crate::follow::follow(Running { refunds: self, shop, mailer }, log, shutdown).await;
    }
}

/// The process with what it acts through.
struct Running {
    refunds: CancellationRefunds,
    shop: Arc<Shop>,
    mailer: Option<Arc<dyn Mailer>>,
}

#[async_trait]
impl Follower for Running {
    const NAME: &'static str = "cancellation refunds";

    fn position(&self) -> Position {
        self.refunds.position
    }

    fn observe(&mut self, record: &RecordedEvent) -> Result<(), CodecError> {
        self.refunds.observe(record)
    }

    async fn act(&mut self) -> Duration {
        let report = self.refunds.refund(&self.shop, self.mailer.as_deref()).await;
        if report.failed > 0 { RETRY_AFTER } else { crate::follow::IDLE }
    }
}

impl Shop {
    /// Every order that bought tickets of the concert, from the streams
    /// that sold them: the concert's own and its buckets'.
    pub(crate) async fn orders_of(&self, concert_id: ConcertId) -> Result<BTreeSet<OrderId>, AppError> {
        let concert = load(self.concerts(), concert_id, Reads::Fresh).await?;
        let buckets = concert.state.buckets();
        let keepers = std::iter::once(Keeper::Concert(concert_id))
            .chain((0..buckets).map(|index| Keeper::Bucket(concert_id, index)));
        let mut orders = BTreeSet::new();
        for keeper in keepers {
            let records = self.log().load(keeper.aggregate_id(), Version::INITIAL).await.map_err(AppError::store)?;
            for record in records.iter().filter(|record| record.event_type == "TicketsSold") {
                if let ConcertEvent::TicketsSold { order_id, .. } =
                    ConcertEvent::from_record(record).map_err(AppError::store)?
                {
                    orders.insert(order_id);
                }
            }
        }
        Ok(orders)
    }

    /// Pays back an order's tickets for a cancelled concert, at the
    /// provider that took the money, and records it; `false` when there is
    /// nothing to pay back (not paid, or paid back already).
    pub async fn refund_cancelled(&self, order_id: OrderId, concert_id: ConcertId) -> Result<bool, AppError> {
        // Cancellation is final, so a concert the cache holds cancelled is cancelled; one it does not is read
        // again before it is refused. A concert that is not cancelled is never paid back.
        let cancelled = |reads| async move {
            let concert = load(self.concerts(), concert_id, reads).await?;
            Ok::<_, AppError>(concert.state.status() == ConcertStatus::Cancelled)
        };
        if !cancelled(Reads::Cached).await? && !cancelled(Reads::Fresh).await? {
            let message = format!("concert {concert_id} is not cancelled: its tickets are not paid back");
            return Err(AppError::Rejected { kind: RefusalKind::Conflict, message });
        }
        let order = load(self.orders(), order_id, Reads::Fresh).await?;
        let Some(amount) = order.state.refund_due(concert_id) else { return Ok(false) };
        let paid_at_provider =
            matches!(order.state.placed().and_then(|placed| placed.payment.as_ref()), Some(PaymentTerms::Due { .. }));
        let refund_id = match (paid_at_provider, order.state.payment_id()) {
            (true, Some(payment_id)) => {
                let Some(payments) = self.payments() else {
                    return Err(AppError::Unavailable(Arc::new(std::io::Error::other(
                        "the order was paid at a payment provider this server is not configured for",
                    ))));
                };
                let key = format!("refund-{order_id}-{concert_id}");
                Some(payments.refund(payment_id, Some(amount), &key).await.map_err(AppError::payment)?)
            }
            // Paid by the built-in test provider, or nothing to pay: no money to move.
            _ => None,
        };
        let command = OrderCommand::Refund(RefundCommand::Cancelled { concert_id, refund_id, now: self.now() });
        self.order_step("refund_cancelled", order_id, command).await
    }

    /// Tells the buyer that a concert was cancelled and what was paid back,
    /// and records it; `false` when the order has no address to mail to,
    /// or the buyer was told already.
    pub async fn mail_refund(
        &self,
        order_id: OrderId,
        concert_id: ConcertId,
        mailer: &dyn Mailer,
    ) -> Result<bool, AppError> {
        let order = load(self.orders(), order_id, Reads::Fresh).await?;
        let to = order.state.placed().and_then(|placed| placed.deliver_to.clone());
        let Some(to) = to.filter(|_| !order.state.refund_mailed(concert_id)) else { return Ok(false) };
        let (Some(refund), Some(placed)) = (order.state.refund_of(concert_id), order.state.placed()) else {
            return Err(AppError::NotFound(format!("the refund of order {order_id} for concert {concert_id}")));
        };
        let concert = load(self.concerts(), concert_id, Reads::Cached).await?;
        let name = concert.state.details().map_or_else(|| "The concert".to_owned(), |details| details.name.to_string());
        let lines = placed.lines.iter().filter(|line| line.concert_id == concert_id);
        let codes: Vec<&str> = lines.flat_map(|line| &line.ticket_codes).map(|code| code.as_str()).collect();
        let paid_back = match (&refund.refund_id, refund.amount.amount) {
            (_, 0) => "The tickets were free, so there is nothing to pay back.".to_owned(),
            (Some(_), _) => format!("We have paid back {} to the card you paid with.", refund.amount),
            (None, _) => format!(
                "This shop takes test payments only: no money was taken, so none is paid back ({}).",
                refund.amount
            ),
        };
        let message_id = format!("<refund.{order_id}.{concert_id}@cloudbash>");
        let mail = Mail {
            to: to.to_string(),
            subject: format!("{name} is cancelled: your money back"),
            text: format!(
                "We are sorry: {name} is cancelled.\n\n{paid_back}\n\nYour ticket(s) {} of order {order_id} are no \
                 longer valid.\n",
                codes.join(", ")
            ),
            message_id: message_id.clone(),
            attachments: Vec::new(),
        };
        send(mailer, &mail).await?;
        let command = OrderCommand::Refund(RefundCommand::Mailed { concert_id, to, message_id, now: self.now() });
        self.order_step("record_refund_mailed", order_id, command).await?;
        Ok(true)
    }
}
