//! One ticket's page: its content stream. The ticket fills the upper half
//! of an A4 page inside a thin frame, so it can be cut out of a print-out
//! and reads whole on a phone zoomed to the page's width: the concert, the
//! venue and the start at the top, the ticket type and price beside the QR
//! code, the code in large type beneath it, and the order, small, at the
//! bottom of the frame.
//!
//! The QR code is drawn as filled rectangles, one per run of dark modules in
//! a row, in black on the page's white, with the four-module quiet zone a
//! scanner needs left blank around it.

use pdf_writer::{Content, Name, Str};
use qrcode::{Color, EcLevel, QrCode};
use ticketing::OrderId;
use ticketing_app::documents::PrintedTicket;

use crate::text::{self, Face, Fitted};

/// A4 portrait, in points (1/72 inch): 210 × 297 mm.
pub(crate) const PAGE_WIDTH: f32 = 595.28;
/// See [`PAGE_WIDTH`].
pub(crate) const PAGE_HEIGHT: f32 = 841.89;

/// The resource name of Helvetica on every page.
pub(crate) const REGULAR: Name<'static> = Name(b"F1");
/// The resource name of Helvetica-Bold on every page.
pub(crate) const BOLD: Name<'static> = Name(b"F2");

/// The page's margin, outside the frame: 15 mm.
const MARGIN: f32 = 42.5;
/// Inside the frame, around the text and the code.
const PADDING: f32 = 24.0;
/// The frame's height: a little under half the page.
const FRAME_HEIGHT: f32 = 400.0;
/// The QR code's side, quiet zone included: about 65 mm.
const QR_SIDE: f32 = 184.0;
/// The blank modules a scanner needs around the code.
const QUIET_ZONE: usize = 4;

/// Why a ticket could not be drawn.
#[derive(Debug)]
pub(crate) struct QrTooLong(pub(crate) qrcode::types::QrError);

/// The content stream of `ticket`'s page, the `number`th of `count`.
pub(crate) fn ticket_page(
    ticket: &PrintedTicket,
    order_id: OrderId,
    number: usize,
    count: usize,
) -> Result<Vec<u8>, QrTooLong> {
    let mut content = Content::new();
    let left = MARGIN + PADDING;
    let right = PAGE_WIDTH - MARGIN - PADDING;
    let room = right - left;
    let top = PAGE_HEIGHT - MARGIN;
    let bottom = top - FRAME_HEIGHT;

    // The frame, a light grey hairline.
    content.set_stroke_gray(0.6).set_line_width(0.75);
    content.rect(MARGIN, bottom, PAGE_WIDTH - 2.0 * MARGIN, FRAME_HEIGHT).stroke();

    content.set_fill_gray(0.0);
    let mut y = top - PADDING;

    let header = text::fit(&format!("CLOUDBASH TICKET  {number} / {count}"), Face::Regular, 9.0, 9.0, room);
    y -= header.size;
    line(&mut content, Face::Regular, &header, left, y, 0.35);

    let concert = text::fit(&ticket.concert, Face::Bold, 26.0, 12.0, room);
    y -= 10.0 + concert.size;
    line(&mut content, Face::Bold, &concert, left, y, 0.0);

    let venue = format!("{}, {}", ticket.venue, ticket.city);
    let venue = text::fit(&venue, Face::Regular, 14.0, 9.0, room);
    y -= 8.0 + venue.size;
    line(&mut content, Face::Regular, &venue, left, y, 0.0);

    let starts = text::fit(&ticket.starts_at, Face::Regular, 14.0, 9.0, room);
    y -= 6.0 + starts.size;
    line(&mut content, Face::Regular, &starts, left, y, 0.0);

    // The code on the left, what the ticket is for beside it.
    let qr_top = y - 16.0;
    let qr = QrCode::with_error_correction_level(ticket.code.as_str().as_bytes(), EcLevel::M).map_err(QrTooLong)?;
    draw_qr(&mut content, &qr, left - 4.0, qr_top - QR_SIDE, QR_SIDE);

    let beside = left + QR_SIDE + 12.0;
    let beside_room = right - beside;
    let ticket_type = text::fit(&ticket.ticket_type, Face::Bold, 18.0, 9.0, beside_room);
    let mut y = qr_top - 16.0 - ticket_type.size;
    line(&mut content, Face::Bold, &ticket_type, beside, y, 0.0);
    let price = text::fit(&ticket.price.to_string(), Face::Regular, 16.0, 9.0, beside_room);
    y -= 8.0 + price.size;
    line(&mut content, Face::Regular, &price, beside, y, 0.0);

    let code = text::shrink(ticket.code.as_str(), Face::Bold, 30.0, room);
    let y = qr_top - QR_SIDE - 6.0 - code.size;
    line(&mut content, Face::Bold, &code, left, y, 0.0);

    let order = text::fit(&format!("Order {order_id}"), Face::Regular, 8.0, 8.0, room);
    line(&mut content, Face::Regular, &order, left, bottom + PADDING / 2.0, 0.35);

    Ok(content.finish().to_vec())
}

/// One line of text with its baseline's start at (`x`, `y`), in `gray`.
fn line(content: &mut Content, face: Face, fitted: &Fitted, x: f32, y: f32, gray: f32) {
    let font = match face {
        Face::Regular => REGULAR,
        Face::Bold => BOLD,
    };
    content.set_fill_gray(gray);
    content.begin_text().set_font(font, fitted.size).next_line(x, y).show(Str(&fitted.encoded)).end_text();
    content.set_fill_gray(0.0);
}

/// `qr` as black rectangles in a `side`-point square whose lower left corner
/// is at (`x`, `y`), quiet zone included.
fn draw_qr(content: &mut Content, qr: &QrCode, x: f32, y: f32, side: f32) {
    let width = qr.width();
    let colors = qr.to_colors();
    // At most 177 modules and 4 blank ones on each side: exact in an f32.
    let module = side / (width + 2 * QUIET_ZONE) as f32;
    let at = |modules: usize| modules as f32 * module;
    content.set_fill_gray(0.0);
    for (row, modules) in colors.chunks(width).enumerate() {
        let mut column = 0;
        while column < width {
            if modules[column] == Color::Light {
                column += 1;
                continue;
            }
            let start = column;
            while column < width && modules[column] == Color::Dark {
                column += 1;
            }
            // Rows run down from the code's top; the page's y runs up.
            let top = y + side - at(QUIET_ZONE + row);
            content.rect(x + at(QUIET_ZONE + start), top - module, at(column - start), module);
        }
    }
    content.fill_nonzero();
}

#[cfg(test)]
mod tests {
    use ticketing::{Currency, Money, TicketCode};

    use super::*;

    fn ticket(code: &str) -> PrintedTicket {
        PrintedTicket {
            code: TicketCode::new(code).expect("a ticket code"),
            concert: "Night Shift".to_owned(),
            venue: "Paradiso".to_owned(),
            city: "Amsterdam".to_owned(),
            starts_at: "Sat 14 March 2026, 20:00 CET".to_owned(),
            ticket_type: "Standing".to_owned(),
            price: Money::new(4500, Currency::new("EUR").expect("a currency")),
        }
    }

    fn page(code: &str) -> String {
        let bytes = ticket_page(&ticket(code), OrderId(uuid::Uuid::from_u128(7)), 1, 2).expect("a page");
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn the_page_shows_what_the_ticket_is_for() {
        let page = page("ABCDEFGH12345678");
        for text in ["(Night Shift)", "(Paradiso, Amsterdam)", "(Standing)", "(EUR 45.00)", "(ABCDEFGH12345678)"] {
            assert!(page.contains(text), "{text} is on the page");
        }
        assert!(page.contains("(Order 00000000-0000-0000-0000-000000000007)"));
        assert!(page.contains("(CLOUDBASH TICKET  1 / 2)"));
    }

    #[test]
    fn the_code_is_drawn_as_rectangles_filled_once() {
        let page = page("ABCDEFGH12345678");
        // Each row of a QR code has dark modules; the finder patterns alone
        // give 21 rows of a version 1 code at least one run.
        assert!(page.matches(" re\n").count() > 21 + 1);
        assert_eq!(page.matches("\nf\n").count(), 1);
    }

    #[test]
    fn the_qr_code_is_the_tickets_code() {
        let qr = QrCode::with_error_correction_level(b"ABCDEFGH12345678", EcLevel::M).expect("encodes");
        let mut content = Content::new();
        draw_qr(&mut content, &qr, 0.0, 0.0, 100.0);
        let dark = qr.to_colors().iter().filter(|color| **color == Color::Dark).count();
        let drawn = String::from_utf8_lossy(&content.finish()).matches(" re").count();
        // Runs merge neighbouring modules: fewer rectangles than dark modules, never none.
        assert!(drawn > 0 && drawn < dark);
    }
}
