//! Tickets by mail. When an order is paid its buyer gets one mail with the
//! tickets as a PDF, sent by a process that follows the log, never by the
//! request that paid: a slow mail server must not hold up a webhook, and a
//! crash between the payment and the mail must not lose the mail.
//!
//! The process keeps, in memory, the paid orders whose mail is not yet in
//! the log (`OrderTicketsMailed`), rebuilt from the log when it starts, as
//! hold expiry does. For each it draws the PDF, sends the mail and records
//! it. A crash after the mail server took the mail and before the record
//! sends it again: at least once, under the same `Message-ID`, so the
//! buyer's mail software can tell the copy.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use es_core::{CancellationToken, CodecError, DomainEvent, EventLog, Position, RecordedEvent, async_trait};
use ticketing::{CustomerId, ORDER_EVENT_TYPES, OrderCommand, OrderEvent, OrderId, OrderStatus};

use crate::documents::{PrintedTicket, TicketDocuments, TicketSheet};
use crate::error::AppError;
use crate::follow::Follower;
use crate::mail::{Attachment, Mail, Mailer, send};
use crate::shop::{Reads, Shop, load};

/// How long a mail that failed waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Paid orders whose tickets are not yet mailed, rebuilt from the log.
#[derive(Debug, Default)]
pub struct TicketDelivery {
    pending: BTreeSet<OrderId>,
    position: Position,
}

/// What one round of mailing did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Mails the server took.
    pub sent: usize,
    /// Orders with no address to mail to.
    pub skipped: usize,
    /// Mails that failed and will be tried again.
    pub failed: usize,
}

impl TicketDelivery {
    /// A process that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one record of the log into account.
    pub fn observe(&mut self, record: &RecordedEvent) -> Result<(), CodecError> {
        self.position = self.position.max(record.position);
        if !ORDER_EVENT_TYPES.contains(&record.event_type.as_str()) {
            return Ok(());
        }
        let order_id = OrderId::from(record.aggregate_id);
        match OrderEvent::from_record(record)? {
            event if event.paid_tickets().is_some() => {
                self.pending.insert(order_id);
            }
            OrderEvent::TicketsMailed { .. } => {
                self.pending.remove(&order_id);
            }
            _ => {}
        }
        Ok(())
    }

    /// How many paid orders still wait for their mail.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Mails the tickets of every paid order still waiting.
    pub async fn deliver(
        &mut self,
        shop: &Shop,
        mailer: &dyn Mailer,
        documents: &dyn TicketDocuments,
    ) -> DeliveryReport {
        let mut report = DeliveryReport::default();
        for order_id in self.pending.clone() {
            match shop.mail_tickets(order_id, mailer, documents).await {
                Ok(true) => report.sent += 1,
                Ok(false) => report.skipped += 1,
                // Refused for good (a bad address): sending it again would not help.
                Err(error @ AppError::Rejected { .. }) => {
                    report.skipped += 1;
                    tracing::warn!(%order_id, %error, "the mail server refused the tickets' mail; not sending it again");
                }
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(%order_id, %error, "the tickets could not be mailed; trying again later");
                    continue;
                }
            }
            self.pending.remove(&order_id);
        }
        report
    }

    /// Follows the log and mails tickets as orders are paid, until
    /// `shutdown`.
    pub async fn run(
        self,
        shop: Arc<Shop>,
        log: EventLog,
        mailer: Arc<dyn Mailer>,
        documents: Arc<dyn TicketDocuments>,
        shutdown: CancellationToken,
    ) {
        crate::follow::follow(Delivering { delivery: self, shop, mailer, documents }, log, shutdown).await;
    }
}

/// Ticket delivery with what it mails through.
struct Delivering {
    delivery: TicketDelivery,
    shop: Arc<Shop>,
    mailer: Arc<dyn Mailer>,
    documents: Arc<dyn TicketDocuments>,
}

#[async_trait]
impl Follower for Delivering {
    const NAME: &'static str = "ticket mail";

    fn position(&self) -> Position {
        self.delivery.position
    }

    fn observe(&mut self, record: &RecordedEvent) -> Result<(), CodecError> {
        self.delivery.observe(record)
    }

    async fn act(&mut self) -> Duration {
        let report = self.delivery.deliver(&self.shop, self.mailer.as_ref(), self.documents.as_ref()).await;
        if report.failed > 0 { RETRY_AFTER } else { crate::follow::IDLE }
    }
}

impl Shop {
    /// The tickets of a paid order, as printed: for its buyer (`customer`)
    /// or an organiser (`None`). An order of someone else, or not paid, is
    /// not found.
    pub async fn ticket_sheet(&self, customer: Option<CustomerId>, order_id: OrderId) -> Result<TicketSheet, AppError> {
        let order = load(self.orders(), order_id, Reads::Fresh).await?;
        let not_found = || AppError::NotFound(format!("paid order {order_id}"));
        let placed =
            order.state.placed().filter(|placed| customer.is_none_or(|customer| placed.customer_id == customer));
        let placed = placed.filter(|_| order.state.status() == OrderStatus::Paid).ok_or_else(not_found)?;
        let mut tickets = Vec::new();
        // A cancelled concert's tickets, once paid back, are void: not printed.
        for line in placed.lines.iter().filter(|line| !order.state.is_refunded(line.concert_id)) {
            let concert = load(self.concerts(), line.concert_id, Reads::Cached).await?;
            let details = concert.state.details();
            let venue = match details {
                Some(details) => load(self.venues(), details.venue_id, Reads::Cached).await?.state.profile().cloned(),
                None => None,
            };
            let ticket_type =
                concert.state.ticket_type(line.ticket_type_id).map(|ticket_type| ticket_type.name.to_string());
            let starts_at = concert.state.schedule().map(|schedule| starts(schedule.starts_at));
            for code in &line.ticket_codes {
                tickets.push(PrintedTicket {
                    code: code.clone(),
                    concert: details.map_or_else(|| "Concert".to_owned(), |details| details.name.to_string()),
                    venue: venue.as_ref().map_or_else(String::new, |venue| venue.name.to_string()),
                    city: venue.as_ref().map_or_else(String::new, |venue| venue.city.to_string()),
                    starts_at: starts_at.clone().unwrap_or_default(),
                    ticket_type: ticket_type.clone().unwrap_or_else(|| "Ticket".to_owned()),
                    price: line.unit_price,
                });
            }
        }
        Ok(TicketSheet { order_id, tickets })
    }

    /// Mails a paid order's tickets to its buyer and records it; `false`
    /// when the order has no address to mail to, was mailed already, or
    /// holds no valid ticket any more (paid back). A
    /// mail the server refuses for good is a refusal (`Rejected`).
    pub async fn mail_tickets(
        &self,
        order_id: OrderId,
        mailer: &dyn Mailer,
        documents: &dyn TicketDocuments,
    ) -> Result<bool, AppError> {
        let order = load(self.orders(), order_id, Reads::Fresh).await?;
        let to = order.state.placed().and_then(|placed| placed.deliver_to.clone());
        let (Some(to), None) = (to, order.state.tickets_mailed()) else { return Ok(false) };
        // Paid back before its mail went out (its concert was cancelled): no valid ticket left to send.
        if order.state.status() != OrderStatus::Paid {
            return Ok(false);
        }
        let sheet = self.ticket_sheet(None, order_id).await?;
        let pdf = documents.tickets_pdf(&sheet).map_err(AppError::store)?;
        let concerts: BTreeSet<&str> = sheet.tickets.iter().map(|ticket| ticket.concert.as_str()).collect();
        let concerts = concerts.into_iter().collect::<Vec<_>>().join(", ");
        let message_id = format!("<tickets.{order_id}@cloudbash>");
        let mail = Mail {
            to: to.to_string(),
            subject: format!("Your tickets for {concerts}"),
            text: format!(
                "Thank you for your order {order_id}.\n\nYour {} ticket(s) for {concerts} are attached as a PDF: one \
                 page per ticket. Show the QR code at the door; each code lets one person in, once.\n",
                sheet.tickets.len()
            ),
            message_id: message_id.clone(),
            attachments: vec![Attachment {
                file_name: "tickets.pdf".to_owned(),
                content_type: "application/pdf".to_owned(),
                bytes: pdf,
            }],
        };
        send(mailer, &mail).await?;
        let command = OrderCommand::RecordTicketsMailed { to, message_id, now: self.now() };
        self.order_step("record_tickets_mailed", order_id, command).await?;
        Ok(true)
    }
}

/// A concert's start as printed on its tickets.
fn starts(at: DateTime<Utc>) -> String {
    at.format("%A %-d %B %Y, %H:%M UTC").to_string()
}
