//! The tickets as a PDF: the adapter of
//! [`ticketing_app::documents::TicketDocuments`]. A fan gets one file per
//! order, one A4 page per ticket, mailed when the order is paid and
//! downloadable from the order.
//!
//! A4, because the file is printed at home on the paper every printer in the
//! shop's markets holds, at its true size, and a ticket per page can be cut
//! out or handed on alone; on a phone the ticket fills the upper half of the
//! page, which a reader shows at full width. Each page shows the concert,
//! the venue and its city, the start, the ticket type and price, the ticket
//! code in large type and as a QR code (error correction level M, which
//! survives a crumpled or scratched print-out), and the order, small.
//!
//! The text is set in Helvetica and Helvetica-Bold, two of the fonts every
//! PDF reader has, so nothing is embedded and a page is a few kilobytes.
//! Their encoding is WinAnsi: what it lacks is drawn as `?` (see the `text` module).
//!
//! The same sheet always gives the same bytes: the file has no creation
//! date, and its document id is the order's id. A mail sent again after a
//! crash carries the same file as the first.
//!
//! A sheet without tickets is refused: a paid order has tickets, and a
//! document that says "no tickets" would only puzzle the fan who got it.

mod page;
mod text;

use pdf_writer::{Name, Pdf, Rect, Ref, TextStr};
use ticketing_app::documents::{DocumentError, TicketDocuments, TicketSheet};

/// Draws tickets as PDF, with the built-in fonts; holds nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct PdfTickets;

impl PdfTickets {
    /// The drawer.
    pub fn new() -> Self {
        Self
    }
}

/// The objects every file has, before the pages' own: the catalog, the page
/// tree, the document information and the two fonts.
const CATALOG: Ref = Ref::new(1);
const PAGE_TREE: Ref = Ref::new(2);
const INFO: Ref = Ref::new(3);
const HELVETICA: Ref = Ref::new(4);
const HELVETICA_BOLD: Ref = Ref::new(5);
/// The first page's object; each page is followed by its content stream.
const FIRST_PAGE: i32 = 6;

impl TicketDocuments for PdfTickets {
    fn tickets_pdf(&self, sheet: &TicketSheet) -> Result<Vec<u8>, DocumentError> {
        if sheet.tickets.is_empty() {
            return Err(DocumentError(format!("order {} has no tickets to draw", sheet.order_id)));
        }
        let count = sheet.tickets.len();
        let page_refs: Vec<(Ref, Ref)> = (0..count)
            .map(|index| {
                let page = i32::try_from(index)
                    .ok()
                    .and_then(|index| index.checked_mul(2))
                    .and_then(|offset| offset.checked_add(FIRST_PAGE))
                    .ok_or_else(|| DocumentError(format!("{count} tickets are too many for one file")))?;
                Ok((Ref::new(page), Ref::new(page + 1)))
            })
            .collect::<Result<_, DocumentError>>()?;

        let mut pdf = Pdf::new();
        pdf.catalog(CATALOG).pages(PAGE_TREE);
        pdf.pages(PAGE_TREE)
            .kids(page_refs.iter().map(|(page, _)| *page))
            .count(i32::try_from(count).unwrap_or(i32::MAX));
        let title = format!("Tickets, order {}", sheet.order_id);
        pdf.document_info(INFO).title(TextStr(&title)).producer(TextStr("Cloudbash"));
        pdf.type1_font(HELVETICA).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.type1_font(HELVETICA_BOLD).base_font(Name(b"Helvetica-Bold")).encoding_predefined(Name(b"WinAnsiEncoding"));

        for (number, (ticket, (page_ref, content_ref))) in sheet.tickets.iter().zip(&page_refs).enumerate() {
            let content = page::ticket_page(ticket, sheet.order_id, number + 1, count).map_err(|error| {
                DocumentError(format!("ticket {} does not fit in a QR code: {}", ticket.code, error.0))
            })?;
            let mut page = pdf.page(*page_ref);
            page.parent(PAGE_TREE)
                .media_box(Rect::new(0.0, 0.0, page::PAGE_WIDTH, page::PAGE_HEIGHT))
                .contents(*content_ref);
            let mut resources = page.resources();
            let mut fonts = resources.fonts();
            fonts.pair(page::REGULAR, HELVETICA).pair(page::BOLD, HELVETICA_BOLD);
            drop(fonts);
            drop(resources);
            drop(page);
            pdf.stream(*content_ref, &content);
        }

        // The trailer's id names the document; the order's id is stable and
        // unique to it, where a hash of the time would make every copy differ.
        let id = sheet.order_id.as_uuid().as_bytes().to_vec();
        pdf.set_file_id((id.clone(), id));
        Ok(pdf.finish())
    }
}
