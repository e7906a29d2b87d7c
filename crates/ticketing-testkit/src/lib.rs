//! # ticketing-testkit: what the ticketing crates' tests share
//!
//! The read models of each backend are checked against the same small
//! story, told through the real command side (`ticketing_app::Shop`), so
//! that "answers as the embedded mode does" compares like with like and a
//! change to the story reaches every backend's tests at once. [`services`]
//! reaches the local stand-ins for the cloud services that
//! `scripts/services.sh` starts. Test code only: crates take it as a
//! dev-dependency.
//!
//! The values here are made from literals that are valid by construction,
//! so the helpers panic (with what was expected) instead of returning
//! errors a test would only unwrap.

pub mod services;

use std::error::Error;

use chrono::{DateTime, Duration, TimeZone, Utc};
use es_core::{CommandContext, ManualClock};
use ticketing::{
    Address, Capacity, ConcertId, ConcertProfile, Currency, CustomerId, Genre, Money, Name, OrderId, Quantity,
    TicketTypeId, VenueId, VenueProfile,
};
use ticketing_app::queries::{DailySales, Page, QueryError};
use ticketing_app::{AppError, ConcertForm, Shop};

/// What a story step can fail with.
pub type StoryError = Box<dyn Error + Send + Sync>;

/// When the story's clock starts: 1 January 2030, 10:00 UTC.
pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 10, 0, 0).single().expect("a valid time")
}

/// A command context with nothing special about it.
pub fn ctx() -> CommandContext {
    CommandContext::default()
}

/// A name from a literal.
pub fn name(text: &str) -> Name {
    Name::new(text).expect("a name")
}

/// `amount` euro cents.
pub fn eur(amount: u64) -> Money {
    Money::new(amount, Currency::new("EUR").expect("a currency"))
}

/// A ticket count from a literal.
pub fn quantity(count: u32) -> Quantity {
    Quantity::new(count).expect("a quantity")
}

/// The evening of February `day`, 2030: 20:00 to 23:00 UTC.
pub fn evening(day: u32) -> (DateTime<Utc>, DateTime<Utc>) {
    let starts_at = Utc.with_ymd_and_hms(2030, 2, day, 20, 0, 0).single().expect("a valid time");
    (starts_at, starts_at + Duration::hours(3))
}

/// A venue for 1,000 people.
pub async fn venue(shop: &Shop, venue: &str, address: &str, city: &str) -> Result<VenueId, AppError> {
    let profile = VenueProfile {
        name: name(venue),
        address: Address::new(address).expect("an address"),
        city: name(city),
        capacity: Capacity::new(1_000).expect("a capacity"),
        description: None,
        web_url: None,
    };
    shop.create_venue(&ctx(), profile).await
}

/// A concert on the evening of February `day` with one ticket type of 100
/// at `price` cents; published if asked.
pub async fn concert(
    shop: &Shop,
    venue_id: VenueId,
    title: &str,
    genre: &str,
    day: u32,
    price: u64,
    publish: bool,
) -> Result<(ConcertId, TicketTypeId), AppError> {
    let form = ConcertForm {
        name: name(title),
        venue_id,
        profile: ConcertProfile { genre: Some(Genre::new(genre).expect("a genre")), ..ConcertProfile::default() },
    };
    let concert_id = shop.create_concert(&ctx(), form).await?;
    let ticket_type_id = shop.add_ticket_type(&ctx(), concert_id, name("Standing"), eur(price), quantity(100)).await?;
    let (starts_at, ends_at) = evening(day);
    shop.schedule_concert(&ctx(), concert_id, starts_at, ends_at).await?;
    if publish {
        shop.publish_concert(&ctx(), concert_id).await?;
    }
    Ok((concert_id, ticket_type_id))
}

/// What the story left: two published concerts and a draft, one buyer who
/// bought on two days and checked in, one who only reserved.
#[derive(Debug, Clone)]
pub struct Story {
    /// Paradiso (Amsterdam), Ancienne Belgique (Brussels).
    pub venues: Vec<VenueId>,
    /// "Night of the Crabs" at Paradiso on 1 February, 25.00.
    pub crabs: (ConcertId, TicketTypeId),
    /// "Jazz Brunch" at the Ancienne Belgique on 10 February, 40.00.
    pub jazz: (ConcertId, TicketTypeId),
    /// "Secret Draft", never published.
    pub draft: ConcertId,
    /// Bought 3 crabs and 2 jazz, then a day later 1 crabs.
    pub buyer: CustomerId,
    /// Holds 4 crabs in the cart.
    pub browser: CustomerId,
    /// The buyer's first order; one of its tickets is checked in.
    pub first_order: OrderId,
    /// The buyer's second order.
    pub second_order: OrderId,
    /// When that ticket was checked in.
    pub checked_in_at: DateTime<Utc>,
}

/// Tells the story on `shop`, whose clock is `clock`, started at [`start`].
pub async fn tell(shop: &Shop, clock: &ManualClock) -> Result<Story, StoryError> {
    let paradiso = venue(shop, "Paradiso", "Weteringschans 6", "Amsterdam").await?;
    let ab = venue(shop, "Ancienne Belgique", "Anspachlaan 110", "Brussels").await?;
    let crabs = concert(shop, paradiso, "Night of the Crabs", "Rock", 1, 2_500, true).await?;
    let jazz = concert(shop, ab, "Jazz Brunch", "Jazz", 10, 4_000, true).await?;
    let (draft, _) = concert(shop, paradiso, "Secret Draft", "Rock", 5, 1_000, false).await?;
    let buyer = CustomerId(uuid::Uuid::now_v7());
    let browser = CustomerId(uuid::Uuid::now_v7());

    shop.reserve(&ctx(), buyer, crabs.0, crabs.1, quantity(3)).await?;
    shop.reserve(&ctx(), buyer, jazz.0, jazz.1, quantity(2)).await?;
    let first_order = shop.checkout(&ctx(), buyer).await?;

    clock.advance(Duration::days(1));
    shop.reserve(&ctx(), buyer, crabs.0, crabs.1, quantity(1)).await?;
    let second_order = shop.checkout(&ctx(), buyer).await?;
    shop.reserve(&ctx(), browser, crabs.0, crabs.1, quantity(4)).await?;

    clock.advance(Duration::minutes(1));
    let order = shop.orders().load(first_order.into()).await?;
    let code = order.state.tickets().next().ok_or("the order has tickets")?.code.clone();
    shop.check_in(&ctx(), first_order, code).await?;
    Ok(Story {
        venues: vec![paradiso, ab],
        crabs,
        jazz,
        draft,
        buyer,
        browser,
        first_order,
        second_order,
        checked_in_at: start() + Duration::days(1) + Duration::minutes(1),
    })
}

/// The story goes on: a day after the check-in the Jazz Brunch is
/// cancelled and the buyer's first order is paid back its two jazz tickets
/// (80.00; its three crabs tickets stay valid). Returns when.
pub async fn cancel_jazz(shop: &Shop, clock: &ManualClock, story: &Story) -> Result<DateTime<Utc>, StoryError> {
    clock.advance(Duration::days(1));
    shop.cancel_concert(&ctx(), story.jazz.0).await?;
    if !shop.refund_cancelled(story.first_order, story.jazz.0).await? {
        return Err("the first order had jazz tickets to pay back".into());
    }
    Ok(es_core::Clock::now(clock))
}

/// What the Jazz Brunch's daily sales show after [`cancel_jazz`] paid its
/// two tickets back at `refunded_at`: the sale's day, and the refund's.
pub fn jazz_sales_after_refund(refunded_at: DateTime<Utc>) -> [DailySales; 2] {
    let sale_day = start().date_naive();
    let sold =
        DailySales { day: sale_day, tickets_sold: 2, revenue: eur(8_000), tickets_refunded: 0, refunded: eur(0) };
    let refund = DailySales {
        day: refunded_at.date_naive(),
        tickets_sold: 0,
        revenue: eur(0),
        tickets_refunded: 2,
        refunded: eur(8_000),
    };
    [sold, refund]
}

/// Every page of a paged list in turn, from the first, following its cursors.
pub async fn all_pages<T, F, Fut>(mut page: F) -> Result<Vec<Page<T>>, QueryError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>, QueryError>>,
{
    let (mut pages, mut cursor) = (Vec::new(), None);
    loop {
        let next = page(cursor.take()).await?;
        cursor.clone_from(&next.next_cursor);
        pages.push(next);
        if cursor.is_none() {
            return Ok(pages);
        }
    }
}
