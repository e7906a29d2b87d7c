//! The port for the documents the shop hands out: a fan's tickets as one
//! PDF, mailed when the order is paid and downloadable from the order. The
//! application layer says what is on a ticket; an adapter draws it.

use thiserror::Error;
use ticketing::{Money, OrderId, TicketCode};

/// Everything printed on one ticket, one ticket per page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrintedTicket {
    /// The code scanned at the door, printed and as a QR code.
    pub code: TicketCode,
    /// The concert's name.
    pub concert: String,
    /// The venue's name.
    pub venue: String,
    /// The venue's city.
    pub city: String,
    /// When the concert starts, as the fan reads it (in the venue's time,
    /// with its zone).
    pub starts_at: String,
    /// The ticket type's name.
    pub ticket_type: String,
    /// What the ticket cost.
    pub price: Money,
}

/// The tickets of one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketSheet {
    /// The order.
    pub order_id: OrderId,
    /// Its tickets, in the order's line order.
    pub tickets: Vec<PrintedTicket>,
}

/// Why a document could not be drawn.
#[derive(Debug, Error)]
#[error("the tickets could not be drawn: {0}")]
pub struct DocumentError(pub String);

/// Draws the shop's documents.
pub trait TicketDocuments: Send + Sync + 'static {
    /// The sheet as a PDF file: one page per ticket.
    fn tickets_pdf(&self, sheet: &TicketSheet) -> Result<Vec<u8>, DocumentError>;
}
