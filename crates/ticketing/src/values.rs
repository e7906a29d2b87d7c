//! Value types: text with bounds, money, counts and ticket codes. Parse,
//! don't validate: a value that exists has passed its checks, so commands
//! carry these types and `decide` never re-checks a length or a currency.
//!
//! Deserializing does *not* re-run the checks. The only JSON these types
//! read is the log's (the HTTP layer has its own DTOs and calls `new`), and
//! the log holds facts decided under the limits of their day: tightening a
//! limit must not make history unreadable.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::limits;

/// Why a value could not be built. Always the caller's input: 422.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ValueError {
    /// Text too short (blank) or too long, counted in characters after
    /// trimming.
    #[error("{what} must have {min} to {max} characters, not {actual}")]
    TextLength {
        /// Which kind of text (`name`, `address`, …).
        what: &'static str,
        /// Fewest characters allowed.
        min: usize,
        /// Most characters allowed.
        max: usize,
        /// How many it had.
        actual: usize,
    },
    /// Text with control characters (line breaks in a one-line text).
    #[error("{what} must not contain control characters")]
    ControlCharacters {
        /// Which kind of text.
        what: &'static str,
    },
    /// Not an absolute `http` or `https` URL without spaces.
    #[error("not an http(s) URL")]
    Url,
    /// Not an e-mail address of a plausible shape.
    #[error("not an e-mail address (name@example.com)")]
    Email,
    /// Not a three-letter uppercase currency code (ISO 4217 style).
    #[error("{0:?} is not a three-letter uppercase currency code")]
    Currency(String),
    /// Two amounts in different currencies were added.
    #[error("cannot add {left} to {right}")]
    CurrencyMismatch {
        /// One currency.
        left: Currency,
        /// The other.
        right: Currency,
    },
    /// An amount beyond `u64` minor units.
    #[error("amount overflow")]
    AmountOverflow,
    /// A count outside its range.
    #[error("{what} must be between {min} and {max}, not {actual}")]
    OutOfRange {
        /// Which count (`quantity`, `capacity`).
        what: &'static str,
        /// Smallest allowed.
        min: u32,
        /// Largest allowed.
        max: u32,
        /// What was given.
        actual: u32,
    },
    /// A ticket code of the wrong length or with characters outside `[A-Z0-9]`.
    #[error(
        "a ticket code must have {min} to {max} characters of A-Z and 0-9",
        min = limits::TICKET_CODE_CHARS_MIN,
        max = limits::TICKET_CODE_CHARS_MAX
    )]
    TicketCode,
}

macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $what:literal, $min:expr, $max:expr, multiline = $multiline:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Trims `text` and checks its length and characters.
            pub fn new(text: impl AsRef<str>) -> Result<Self, ValueError> {
                check_text(text.as_ref(), $what, $min, $max, $multiline).map(Self)
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

fn check_text(text: &str, what: &'static str, min: usize, max: usize, multiline: bool) -> Result<String, ValueError> {
    let trimmed = text.trim();
    let actual = trimmed.chars().count();
    if actual < min || actual > max {
        return Err(ValueError::TextLength { what, min, max, actual });
    }
    let allowed = |c: char| !c.is_control() || (multiline && (c == '\n' || c == '\t'));
    if !trimmed.chars().all(allowed) {
        return Err(ValueError::ControlCharacters { what });
    }
    Ok(trimmed.to_owned())
}

bounded_text!(
    /// A one-line name: of a venue, a concert, a ticket type, a city.
    Name, "name", 1, limits::NAME_CHARS_MAX, multiline = false
);
bounded_text!(
    /// A venue's street address, on one line.
    Address, "address", 1, limits::ADDRESS_CHARS_MAX, multiline = false
);
bounded_text!(
    /// A concert's genre (story CS07: filter by genre).
    Genre, "genre", 1, limits::GENRE_CHARS_MAX, multiline = false
);
bounded_text!(
    /// Free text describing a venue or a concert; may span lines.
    Description, "description", 1, limits::DESCRIPTION_CHARS_MAX, multiline = true
);

/// An absolute `http`/`https` URL (a venue's website, a concert's image).
/// Only its form is checked: whether it answers is not the domain's concern.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WebUrl(String);

impl WebUrl {
    /// Trims `text` and checks that it is an http(s) URL of bounded length.
    pub fn new(text: impl AsRef<str>) -> Result<Self, ValueError> {
        let url = check_text(text.as_ref(), "URL", 1, limits::URL_CHARS_MAX, false)?;
        let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")).ok_or(ValueError::Url)?;
        if rest.is_empty() || rest.starts_with('/') || url.chars().any(char::is_whitespace) {
            return Err(ValueError::Url);
        }
        Ok(Self(url))
    }

    /// The URL text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A currency: three uppercase ASCII letters (`EUR`). The domain does not
/// know the list of ISO 4217 codes nor their decimal places; it only keeps
/// amounts in different currencies apart.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Checks that `code` is three uppercase ASCII letters.
    pub fn new(code: &str) -> Result<Self, ValueError> {
        match code.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => Ok(Self([a, b, c])),
            _ => Err(ValueError::Currency(code.to_owned())),
        }
    }

    /// The code (`EUR`).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("invariant: a currency holds three ASCII letters")
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.as_str())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    // Unlike the bounded texts, the shape is checked here: three letters is
    // what the type *is*, not a limit that could change.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::new(&code).map_err(serde::de::Error::custom)
    }
}

/// An amount of money: whole minor units (cents) of one currency. Never a
/// float. Zero is allowed (free tickets, story TS01).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// In minor units of `currency` (1250 = 12.50 EUR).
    pub amount: u64,
    /// The currency of `amount`.
    pub currency: Currency,
}

/// A price as the shop writes it for people: "EUR 1,234.50". Every currency
/// the shop sells in has two decimals (the web shop refuses others).
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = (self.amount / 100).to_string();
        write!(f, "{} ", self.currency)?;
        for (index, digit) in units.chars().enumerate() {
            if index > 0 && (units.len() - index).is_multiple_of(3) {
                f.write_str(",")?;
            }
            write!(f, "{digit}")?;
        }
        write!(f, ".{:02}", self.amount % 100)
    }
}

impl Money {
    /// `amount` minor units of `currency`.
    pub fn new(amount: u64, currency: Currency) -> Self {
        Self { amount, currency }
    }

    /// Nothing, in `currency`.
    pub fn zero(currency: Currency) -> Self {
        Self { amount: 0, currency }
    }

    /// This amount `quantity` times.
    pub fn times(self, quantity: Quantity) -> Result<Money, ValueError> {
        let amount = self.amount.checked_mul(u64::from(quantity.get())).ok_or(ValueError::AmountOverflow)?;
        Ok(Money { amount, currency: self.currency })
    }

    /// The sum of two amounts in the same currency.
    pub fn plus(self, other: Money) -> Result<Money, ValueError> {
        if self.currency != other.currency {
            return Err(ValueError::CurrencyMismatch { left: self.currency, right: other.currency });
        }
        let amount = self.amount.checked_add(other.amount).ok_or(ValueError::AmountOverflow)?;
        Ok(Money { amount, currency: self.currency })
    }
}

macro_rules! bounded_count {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(u32);

        impl $name {
            /// Checks that `count` is between 1 and the limit.
            pub fn new(count: u32) -> Result<Self, ValueError> {
                if count == 0 || count > $max {
                    return Err(ValueError::OutOfRange { what: $what, min: 1, max: $max, actual: count });
                }
                Ok(Self(count))
            }

            /// The count.
            pub fn get(self) -> u32 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

bounded_count!(
    /// A number of tickets: at least one, at most a venue's largest capacity.
    Quantity, "quantity", limits::VENUE_CAPACITY_MAX
);
bounded_count!(
    /// How many people a venue holds: at least one.
    Capacity, "capacity", limits::VENUE_CAPACITY_MAX
);

/// The code printed on one ticket (in its QR code) and checked at the door.
/// It is drawn at random at the edge; here it is only checked for shape:
/// [`limits::TICKET_CODE_CHARS_MIN`] to [`limits::TICKET_CODE_CHARS_MAX`]
/// characters of `[A-Z0-9]`, so that it survives printing and reading aloud.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TicketCode(String);

impl TicketCode {
    /// Checks the shape of `code`.
    pub fn new(code: impl Into<String>) -> Result<Self, ValueError> {
        let code = code.into();
        let length_ok = (limits::TICKET_CODE_CHARS_MIN..=limits::TICKET_CODE_CHARS_MAX).contains(&code.len());
        if !length_ok || !code.bytes().all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit()) {
            return Err(ValueError::TicketCode);
        }
        Ok(Self(code))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TicketCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_must_not_be_blank_or_too_long() {
        assert_eq!(Name::new("  Paradiso ").map(|name| name.as_str().to_owned()), Ok("Paradiso".to_owned()));
        assert!(matches!(Name::new("   "), Err(ValueError::TextLength { actual: 0, .. })));
        assert!(Name::new("x".repeat(limits::NAME_CHARS_MAX)).is_ok());
        assert!(Name::new("x".repeat(limits::NAME_CHARS_MAX + 1)).is_err());
    }

    #[test]
    fn one_line_texts_refuse_line_breaks_but_descriptions_keep_them() {
        assert_eq!(Name::new("a\nb"), Err(ValueError::ControlCharacters { what: "name" }));
        assert!(Description::new("line one\nline two").is_ok());
        assert!(Description::new("bell \u{7}").is_err());
    }

    #[test]
    fn urls_must_be_http_or_https_without_spaces() {
        assert!(WebUrl::new("https://paradiso.nl/agenda").is_ok());
        assert!(WebUrl::new("http://example.com").is_ok());
        assert_eq!(WebUrl::new("ftp://example.com"), Err(ValueError::Url));
        assert_eq!(WebUrl::new("https://"), Err(ValueError::Url));
        assert_eq!(WebUrl::new("https://a b"), Err(ValueError::Url));
    }

    #[test]
    fn currencies_are_three_uppercase_letters() {
        assert_eq!(Currency::new("EUR").map(|c| c.to_string()), Ok("EUR".to_owned()));
        for bad in ["eur", "EU", "EURO", "E1R", ""] {
            assert!(Currency::new(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(serde_json::from_str::<Currency>(r#""usd""#).is_err());
    }

    #[test]
    fn money_adds_only_within_one_currency_and_never_overflows_silently() {
        let eur = Currency::new("EUR").expect("valid");
        let usd = Currency::new("USD").expect("valid");
        assert_eq!(Money::new(150, eur).plus(Money::new(50, eur)), Ok(Money::new(200, eur)));
        assert!(matches!(Money::new(1, eur).plus(Money::new(1, usd)), Err(ValueError::CurrencyMismatch { .. })));
        assert_eq!(Money::new(u64::MAX, eur).plus(Money::new(1, eur)), Err(ValueError::AmountOverflow));
        let three = Quantity::new(3).expect("valid");
        assert_eq!(Money::new(250, eur).times(three), Ok(Money::new(750, eur)));
        assert_eq!(Money::new(u64::MAX, eur).times(three), Err(ValueError::AmountOverflow));
    }

    #[test]
    fn money_reads_as_people_write_prices() {
        let eur = Currency::new("EUR").expect("a currency");
        assert_eq!(Money::new(4500, eur).to_string(), "EUR 45.00");
        assert_eq!(Money::new(5, eur).to_string(), "EUR 0.05");
        assert_eq!(Money::new(0, eur).to_string(), "EUR 0.00");
        assert_eq!(Money::new(123_456_789, eur).to_string(), "EUR 1,234,567.89");
    }

    #[test]
    fn money_serializes_as_minor_units_and_a_code() {
        let price = Money::new(1250, Currency::new("EUR").expect("valid"));
        assert_eq!(serde_json::to_string(&price).ok().as_deref(), Some(r#"{"amount":1250,"currency":"EUR"}"#));
    }

    #[test]
    fn quantities_and_capacities_are_at_least_one_and_bounded() {
        assert!(Quantity::new(0).is_err());
        assert_eq!(Quantity::new(1).map(Quantity::get), Ok(1));
        assert!(Capacity::new(limits::VENUE_CAPACITY_MAX).is_ok());
        assert!(Capacity::new(limits::VENUE_CAPACITY_MAX + 1).is_err());
    }

    #[test]
    fn ticket_codes_are_long_enough_and_only_uppercase_letters_and_digits() {
        assert!(TicketCode::new("ABCDEFGH23456789").is_ok());
        assert_eq!(TicketCode::new("ABCDEFGH2345678"), Err(ValueError::TicketCode));
        assert_eq!(TicketCode::new("abcdefgh23456789"), Err(ValueError::TicketCode));
        assert_eq!(TicketCode::new("ABCDEFGH2345678-"), Err(ValueError::TicketCode));
        assert!(TicketCode::new("A".repeat(limits::TICKET_CODE_CHARS_MAX + 1)).is_err());
    }
}
