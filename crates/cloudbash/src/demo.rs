//! `cloudbash serve --demo`: a few venues and published concerts, so that a
//! newcomer sees a working shop at once. Seeding goes through the same
//! commands as the API, so the demo data is ordinary events in the log, and
//! it only happens in an empty shop (restarting with `--demo` adds nothing).

use chrono::{Duration, DurationRound, Utc};
use es_core::{CommandContext, Metadata, Position};
use ticketing::{Address, Capacity, ConcertProfile, Currency, Description, Genre, Money, Name, Quantity, VenueProfile};
use ticketing_app::{ConcertForm, Shop};

/// A venue of the demo: name, address, city, capacity.
const VENUES: [(&str, &str, &str, u32); 2] = [
    ("Paradiso", "Weteringschans 6-8", "Amsterdam", 1_500),
    ("TivoliVredenburg", "Vredenburgkade 11", "Utrecht", 2_000),
];

/// A ticket type of the demo: name, price in cents, quantity.
type DemoTicketType = (&'static str, u64, u32);

/// A concert of the demo.
struct DemoConcert {
    name: &'static str,
    genre: &'static str,
    /// Index into [`VENUES`].
    venue: usize,
    days_from_now: i64,
    ticket_types: [DemoTicketType; 2],
}

const CONCERTS: [DemoConcert; 3] = [
    DemoConcert {
        name: "Night of the Crabs",
        genre: "rock",
        venue: 0,
        days_from_now: 30,
        ticket_types: [("Standing", 3_500, 800), ("Balcony", 5_000, 200)],
    },
    DemoConcert {
        name: "Strings at Dawn",
        genre: "classical",
        venue: 1,
        days_from_now: 45,
        ticket_types: [("Stalls", 4_500, 900), ("Gallery", 2_500, 600)],
    },
    DemoConcert {
        name: "Bass Culture",
        genre: "electronic",
        venue: 0,
        days_from_now: 60,
        ticket_types: [("Early bird", 2_000, 300), ("Regular", 3_000, 1_000)],
    },
];

/// Seeds the demo data into an empty shop; returns whether it did.
pub(crate) async fn seed(shop: &Shop) -> anyhow::Result<bool> {
    if shop.log().store().head().await? != Position::START {
        return Ok(false);
    }
    let context = CommandContext {
        command_id: None,
        metadata: Metadata { actor: Some("cloudbash demo".to_owned()), ..Metadata::default() },
    };
    let mut venues = Vec::new();
    for (name, address, city, capacity) in VENUES {
        let profile = VenueProfile {
            name: Name::new(name)?,
            address: Address::new(address)?,
            city: Name::new(city)?,
            capacity: Capacity::new(capacity)?,
            description: None,
            web_url: None,
        };
        venues.push(shop.create_venue(&context, profile).await?);
    }
    let euro = Currency::new("EUR")?;
    let today = Utc::now().duration_trunc(Duration::days(1))?;
    for DemoConcert { name, genre, venue, days_from_now, ticket_types } in CONCERTS {
        let form = ConcertForm {
            name: Name::new(name)?,
            venue_id: venues[venue],
            profile: ConcertProfile {
                description: Some(Description::new(format!("{name}: a Cloudbash demo concert."))?),
                genre: Some(Genre::new(genre)?),
                ..ConcertProfile::default()
            },
        };
        let concert_id = shop.create_concert(&context, form).await?;
        for (ticket_type, cents, quantity) in ticket_types {
            let price = Money::new(cents, euro);
            shop.add_ticket_type(&context, concert_id, Name::new(ticket_type)?, price, Quantity::new(quantity)?)
                .await?;
        }
        let starts_at = today + Duration::days(days_from_now) + Duration::hours(20);
        shop.schedule_concert(&context, concert_id, starts_at, starts_at + Duration::hours(3)).await?;
        shop.publish_concert(&context, concert_id).await?;
    }
    Ok(true)
}
