//! The tickets' PDF as a reader sees it: the file is parsed by `lopdf`, its
//! pages counted and its text extracted through the fonts' encoding.

use lopdf::Document;
use ticketing::{Currency, Money, OrderId, TicketCode};
use ticketing_app::documents::{PrintedTicket, TicketDocuments, TicketSheet};
use ticketing_pdf::PdfTickets;

fn ticket(code: &str, concert: &str) -> PrintedTicket {
    PrintedTicket {
        code: TicketCode::new(code).expect("a ticket code"),
        concert: concert.to_owned(),
        venue: "Paradiso".to_owned(),
        city: "Amsterdam".to_owned(),
        starts_at: "Sat 14 March 2026, 20:00 CET".to_owned(),
        ticket_type: "Standing".to_owned(),
        price: Money::new(4500, Currency::new("EUR").expect("a currency")),
    }
}

fn sheet(tickets: Vec<PrintedTicket>) -> TicketSheet {
    TicketSheet { order_id: OrderId(uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0042)), tickets }
}

const CODES: [&str; 3] = ["AAAABBBBCCCCDDDD", "EEEEFFFFGGGGHHHH0123", "Z9Y8X7W6V5U4T3S2R1Q0P9O8N7M6L5K4"];

/// The document and the text of each page.
fn read(bytes: &[u8]) -> (Document, Vec<String>) {
    let document = Document::load_mem(bytes).expect("a PDF lopdf reads");
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    let texts = pages.iter().map(|page| document.extract_text(&[*page]).expect("the page's text")).collect();
    (document, texts)
}

#[test]
fn every_ticket_has_its_page_with_its_code_and_the_concert() {
    let tickets = CODES.iter().map(|code| ticket(code, "Night Shift")).collect();
    let bytes = PdfTickets::new().tickets_pdf(&sheet(tickets)).expect("drawn");
    assert!(bytes.starts_with(b"%PDF-"));

    let (document, texts) = read(&bytes);
    assert_eq!(document.get_pages().len(), CODES.len());
    for (code, text) in CODES.iter().zip(&texts) {
        assert!(text.contains(code), "page of {code} shows it: {text:?}");
        assert!(text.contains("Night Shift"), "{text:?}");
        assert!(text.contains("Paradiso, Amsterdam"), "{text:?}");
        assert!(text.contains("Sat 14 March 2026, 20:00 CET"), "{text:?}");
        assert!(text.contains("Standing"), "{text:?}");
        assert!(text.contains("EUR 45.00"), "{text:?}");
        assert!(text.contains("Order 01900000-0000-7000-8000-000000000042"), "{text:?}");
        for other in CODES.iter().filter(|other| *other != code) {
            assert!(!text.contains(other), "{other} is on its own page only");
        }
    }
}

#[test]
fn latin_letters_survive_and_the_rest_becomes_a_question_mark() {
    let tickets = vec![ticket("AAAABBBBCCCCDDDD", "Café Größe Ünïcode \u{1F3B8} 東京")];
    let bytes = PdfTickets::new().tickets_pdf(&sheet(tickets)).expect("drawn, not a panic");
    let (_, texts) = read(&bytes);
    assert!(texts[0].contains("Café Größe Ünïcode ? ??"), "{:?}", texts[0]);
}

#[test]
fn the_same_sheet_gives_the_same_bytes() {
    let make = || sheet(CODES.iter().map(|code| ticket(code, "Night Shift")).collect());
    let first = PdfTickets::new().tickets_pdf(&make()).expect("drawn");
    let second = PdfTickets::new().tickets_pdf(&make()).expect("drawn");
    assert_eq!(first, second);

    let mut other_order = make();
    other_order.order_id = OrderId(uuid::Uuid::from_u128(1));
    assert_ne!(PdfTickets::new().tickets_pdf(&other_order).expect("drawn"), first);
}

#[test]
fn the_file_has_no_date_and_the_order_as_its_id() {
    let bytes = PdfTickets::new().tickets_pdf(&sheet(vec![ticket("AAAABBBBCCCCDDDD", "Night Shift")])).expect("drawn");
    let document = Document::load_mem(&bytes).expect("read");
    let id = document.trailer.get(b"ID").expect("the trailer has an id").as_array().expect("two strings");
    let expected = uuid::Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0042);
    assert_eq!(id[0].as_str().expect("a string"), expected.as_bytes());
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("/CreationDate") && !text.contains("/ModDate"));
}

#[test]
fn an_empty_sheet_is_refused() {
    let error = PdfTickets::new().tickets_pdf(&sheet(Vec::new())).expect_err("nothing to draw");
    assert!(error.to_string().contains("no tickets"), "{error}");
}

#[test]
fn a_long_concert_name_and_the_longest_code_still_draw() {
    let code = "A1".repeat(32);
    let name = "An Evening of Very Long Names ".repeat(20);
    let bytes = PdfTickets::new().tickets_pdf(&sheet(vec![ticket(&code, &name)])).expect("drawn");
    let (_, texts) = read(&bytes);
    assert!(texts[0].contains(&code), "{:?}", texts[0]);
    assert!(texts[0].contains("An Evening of Very Long"), "{:?}", texts[0]);
}
