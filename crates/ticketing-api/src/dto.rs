//! The JSON documents of the command routes, as the client sends and receives them (camelCase, ids as UUID
//! strings, times in RFC 3339, money as integer minor units and a currency code), and their conversion into the
//! domain's value types.
//!
//! Request documents deny unknown fields and keep numbers and texts in wide, raw types (`i64`, `String`), so that
//! serde only rejects what is not the right *shape* and the conversion here checks every field, collecting every
//! invalid one into a single 422 problem: a client fixes a form in one round trip, not one field at a time. The
//! rules themselves are the domain's (`Name::new`, `Quantity::new`, …); this module only names the fields.

use std::fmt::Display;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ticketing::{
    Address, AgeLimit, Capacity, ConcertId, ConcertProfile, Currency, Description, DetailsUpdate, Genre, Money, Name,
    Quantity, TicketTypeId, ValueError, VenueId, VenueProfile, WebUrl,
};
use ticketing_app::ConcertForm;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::problem::{FieldError, Problem};

/// Field errors collected while converting one document.
#[derive(Debug, Default)]
struct Fields {
    errors: Vec<FieldError>,
}

impl Fields {
    /// The value, or `None` after recording why `field` is invalid.
    fn check<T, E: Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.errors.push(FieldError::new(field, error.to_string()));
                None
            }
        }
    }

    /// An optional field: `Some(None)` when absent, `None` when present and invalid.
    fn optional<T, E: Display>(&mut self, field: &str, value: Option<Result<T, E>>) -> Option<Option<T>> {
        match value {
            None => Some(None),
            Some(result) => self.check(field, result).map(Some),
        }
    }

    /// The 422 problem listing every invalid field of a `what`.
    fn into_problem(self, what: &str) -> Problem {
        Problem::unprocessable(format!("The {what} has invalid fields."), self.errors)
    }
}

/// A count sent as a JSON integer: negative or beyond `u32` is out of range just like zero or above the domain's
/// limit, and the domain type's own check gives the message (with its bounds) for all of them.
fn count<T>(value: i64, new: impl Fn(u32) -> Result<T, ValueError>) -> Result<T, String> {
    if let Ok(value) = u32::try_from(value) {
        return new(value).map_err(|error| error.to_string());
    }
    // Asking the domain about the nearest `u32` yields its bounds without ever wrapping `value` into range.
    let nearest = if value < 0 { 0 } else { u32::MAX };
    match new(nearest) {
        Err(ValueError::OutOfRange { what, min, max, .. }) => {
            Err(format!("{what} must be between {min} and {max}, not {value}"))
        }
        _ => Err(format!("{value} is out of range")),
    }
}

/// An RFC 3339 time, in UTC.
fn time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| format!("`{text}` is not an RFC 3339 time: {error}"))
}

/// `POST /venues`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct CreateVenue {
    name: String,
    address: String,
    city: String,
    capacity: i64,
    description: Option<String>,
    web_url: Option<String>,
}

impl CreateVenue {
    /// The venue's profile, or a 422 listing every invalid field.
    pub(crate) fn into_profile(self) -> Result<VenueProfile, Problem> {
        let mut fields = Fields::default();
        let name = fields.check("name", Name::new(&self.name));
        let address = fields.check("address", Address::new(&self.address));
        let city = fields.check("city", Name::new(&self.city));
        let capacity = fields.check("capacity", count(self.capacity, Capacity::new));
        let description = fields.optional("description", self.description.map(Description::new));
        let web_url = fields.optional("webUrl", self.web_url.map(WebUrl::new));
        match (name, address, city, capacity, description, web_url) {
            (Some(name), Some(address), Some(city), Some(capacity), Some(description), Some(web_url)) => {
                Ok(VenueProfile { name, address, city, capacity, description, web_url })
            }
            _ => Err(fields.into_problem("venue")),
        }
    }
}

/// `POST /concerts`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct CreateConcert {
    name: String,
    venue_id: Uuid,
    description: Option<String>,
    genre: Option<String>,
    image_url: Option<String>,
    age_limit: Option<i64>,
}

impl CreateConcert {
    /// The concert's form, or a 422 listing every invalid field.
    pub(crate) fn into_form(self) -> Result<ConcertForm, Problem> {
        let mut fields = Fields::default();
        let name = fields.check("name", Name::new(&self.name));
        let profile = ProfileFields {
            description: self.description,
            genre: self.genre,
            image_url: self.image_url,
            age_limit: self.age_limit,
        }
        .check(&mut fields);
        match (name, profile) {
            (Some(name), Some(profile)) => Ok(ConcertForm { name, venue_id: VenueId(self.venue_id), profile }),
            _ => Err(fields.into_problem("concert")),
        }
    }
}

/// The fields of a concert's profile in a request (`POST /concerts`, `PATCH /concerts/{concertId}`), as typed: each
/// is optional, and checked by the domain's type for it.
struct ProfileFields {
    description: Option<String>,
    genre: Option<String>,
    image_url: Option<String>,
    age_limit: Option<i64>,
}

impl ProfileFields {
    /// The profile, or `None` after recording every invalid field in `fields`.
    fn check(self, fields: &mut Fields) -> Option<ConcertProfile> {
        let description = fields.optional("description", self.description.map(Description::new));
        let genre = fields.optional("genre", self.genre.map(Genre::new));
        let image_url = fields.optional("imageUrl", self.image_url.map(WebUrl::new));
        let age_limit = fields.optional("ageLimit", self.age_limit.map(|years| count(years, AgeLimit::new)));
        Some(ConcertProfile { description: description?, genre: genre?, image_url: image_url?, age_limit: age_limit? })
    }
}

/// `PATCH /concerts/{concertId}`: only the fields present change. An empty document is refused by the domain.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct UpdateConcert {
    name: Option<String>,
    description: Option<String>,
    genre: Option<String>,
    image_url: Option<String>,
    age_limit: Option<i64>,
}

impl UpdateConcert {
    /// The update, or a 422 listing every invalid field.
    pub(crate) fn into_update(self) -> Result<DetailsUpdate, Problem> {
        let mut fields = Fields::default();
        let name = fields.optional("name", self.name.map(Name::new));
        let profile = ProfileFields {
            description: self.description,
            genre: self.genre,
            image_url: self.image_url,
            age_limit: self.age_limit,
        }
        .check(&mut fields);
        match (name, profile) {
            (Some(name), Some(profile)) => Ok(DetailsUpdate { name, profile }),
            _ => Err(fields.into_problem("update")),
        }
    }
}

/// `POST /concerts/{concertId}/schedule`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ScheduleConcert {
    #[schema(format = DateTime)]
    starts_at: String,
    #[schema(format = DateTime)]
    ends_at: String,
}

impl ScheduleConcert {
    /// `(starts_at, ends_at)` in UTC, or a 422. The order is checked here too so that the client learns which
    /// field to fix; the domain checks it (and the longest duration) again.
    pub(crate) fn into_times(self) -> Result<(DateTime<Utc>, DateTime<Utc>), Problem> {
        let mut fields = Fields::default();
        let starts_at = fields.check("startsAt", time(&self.starts_at));
        let ends_at = fields.check("endsAt", time(&self.ends_at));
        if let (Some(starts_at), Some(ends_at)) = (starts_at, ends_at)
            && ends_at <= starts_at
        {
            fields.errors.push(FieldError::new("endsAt", "must be after startsAt"));
        }
        match (starts_at, ends_at) {
            (Some(starts_at), Some(ends_at)) if fields.errors.is_empty() => Ok((starts_at, ends_at)),
            _ => Err(fields.into_problem("schedule")),
        }
    }
}

/// Money as it travels: integer minor units and a currency code.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = MoneyInput)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct MoneyDto {
    amount: i64,
    currency: String,
}

/// `POST /concerts/{concertId}/ticket-types`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct AddTicketType {
    name: String,
    price: MoneyDto,
    quantity: i64,
}

/// A new ticket type's parts.
#[derive(Debug)]
pub(crate) struct NewTicketType {
    pub(crate) name: Name,
    pub(crate) price: Money,
    pub(crate) quantity: Quantity,
}

impl AddTicketType {
    /// The ticket type, or a 422 listing every invalid field. The price's upper bound is the domain's.
    pub(crate) fn into_ticket_type(self) -> Result<NewTicketType, Problem> {
        let mut fields = Fields::default();
        let name = fields.check("name", Name::new(&self.name));
        let amount = fields.check(
            "price.amount",
            u64::try_from(self.price.amount).map_err(|_| format!("must not be negative, not {}", self.price.amount)),
        );
        let currency = fields.check("price.currency", Currency::new(&self.price.currency));
        let quantity = fields.check("quantity", count(self.quantity, Quantity::new));
        match (name, amount, currency, quantity) {
            (Some(name), Some(amount), Some(currency), Some(quantity)) => {
                Ok(NewTicketType { name, price: Money::new(amount, currency), quantity })
            }
            _ => Err(fields.into_problem("ticket type")),
        }
    }
}

/// `POST /cart/items`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct AddCartItem {
    concert_id: Uuid,
    ticket_type_id: Uuid,
    quantity: i64,
}

/// What a cart item names.
#[derive(Debug)]
pub(crate) struct NewCartItem {
    pub(crate) concert_id: ConcertId,
    pub(crate) ticket_type_id: TicketTypeId,
    pub(crate) quantity: Quantity,
}

impl AddCartItem {
    /// The item, or a 422. The per-concert purchase limit is the domain's, and refused there as a 422 too.
    pub(crate) fn into_item(self) -> Result<NewCartItem, Problem> {
        let mut fields = Fields::default();
        let quantity = fields.check("quantity", count(self.quantity, Quantity::new));
        match quantity {
            Some(quantity) => Ok(NewCartItem {
                concert_id: ConcertId(self.concert_id),
                ticket_type_id: TicketTypeId(self.ticket_type_id),
                quantity,
            }),
            None => Err(fields.into_problem("cart item")),
        }
    }
}

/// The body of a 201 that created something with an id.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Created {
    pub(crate) id: Uuid,
}

/// The body of `POST /cart/items`: the item (and hold) id, and when the hold runs out.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CartItemCreated {
    pub(crate) id: Uuid,
    pub(crate) expires_at: DateTime<Utc>,
}

/// The optional request body of `POST /cart/checkout`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Checkout {
    /// Where to mail the tickets once the order is paid (a PDF, one page per ticket).
    #[schema(value_type = Option<String>, format = Email, examples("fan@example.com"))]
    pub(crate) email: Option<ticketing::EmailAddress>,
}

/// The body of `POST /cart/checkout`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CheckedOut {
    pub(crate) order_id: Uuid,
    /// How the order is paid: with `clientSecret` while it awaits payment.
    pub(crate) payment: crate::payments::PaymentView,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn venue(json: serde_json::Value) -> Result<VenueProfile, Problem> {
        serde_json::from_value::<CreateVenue>(json)
            .map_err(|error| Problem::bad_request(error.to_string()))?
            .into_profile()
    }

    fn fields_of(problem: &Problem) -> Vec<&str> {
        problem.errors().iter().map(|error| error.field.as_str()).collect()
    }

    #[test]
    fn every_invalid_field_of_a_venue_is_reported_at_once() {
        let problem = venue(serde_json::json!({
            "name": "", "address": "x".repeat(400), "city": "Amsterdam", "capacity": -1, "webUrl": "ftp://x"
        }))
        .expect_err("the venue is invalid");

        assert_eq!(fields_of(&problem), ["name", "address", "capacity", "webUrl"]);
    }

    #[test]
    fn counts_beyond_u32_are_out_of_range_not_wrapped() {
        assert!(count(i64::from(u32::MAX) + 2, Quantity::new).is_err());
        assert!(count(-1, Quantity::new).is_err());
        assert!(count(0, Quantity::new).is_err());
        assert_eq!(count(3, Quantity::new).map(Quantity::get), Ok(3));
    }

    #[test]
    fn a_schedule_that_ends_before_it_starts_names_ends_at() {
        let schedule = ScheduleConcert {
            starts_at: "2030-02-01T23:00:00Z".to_owned(),
            ends_at: "2030-02-01T20:00:00Z".to_owned(),
        };

        let problem = schedule.into_times().expect_err("the order is wrong");

        assert_eq!(fields_of(&problem), ["endsAt"]);
    }

    #[test]
    fn schedule_times_with_an_offset_are_read_as_utc() {
        let schedule = ScheduleConcert {
            starts_at: "2030-02-01T21:00:00+01:00".to_owned(),
            ends_at: "2030-02-01T23:00:00Z".to_owned(),
        };

        let (starts_at, _) = schedule.into_times().expect("valid times");

        assert_eq!(starts_at.to_rfc3339(), "2030-02-01T20:00:00+00:00");
    }
}
