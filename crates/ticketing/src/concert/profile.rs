//! What a concert tells buyers about itself beyond its name: a description,
//! a genre, a poster. The concert decides nothing on these fields; it only
//! keeps them and records their changes. That is why they travel together,
//! from the command through the events to the read models and the API, as
//! one value: a new field of this kind is added here and at the edges that
//! show it, not in the aggregate's rules, its events or any read model's
//! schema (the read models keep the profile whole).
//!
//! In the log the profile's fields sit beside the event's own fields
//! (`#[serde(flatten)]`), as they did before they were grouped: events
//! written before and after read alike. A field added later is absent from
//! older events and reads as `None`.

use serde::{Deserialize, Serialize};

use crate::limits;
use crate::values::{Description, Genre, ValueError, WebUrl};

/// A concert's profile. In a change ([`super::DetailsUpdate`],
/// [`super::ConcertEvent::DetailsUpdated`]) a `None` field is left as it
/// is: optional fields can be replaced, not cleared.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConcertProfile {
    /// Free text about it.
    pub description: Option<Description>,
    /// Its genre (story CS07).
    pub genre: Option<Genre>,
    /// Its poster.
    pub image_url: Option<WebUrl>,
    /// The youngest a visitor may be. Absent from the JSON when not set, so
    /// that the events of concerts without one read as before the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_limit: Option<AgeLimit>,
}

/// The minimum age of a concert's visitors, in years: 1 to
/// [`limits::AGE_LIMIT_YEARS_MAX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct AgeLimit(u32);

impl AgeLimit {
    /// Checks that `years` is within the range.
    pub fn new(years: u32) -> Result<Self, ValueError> {
        if (1..=limits::AGE_LIMIT_YEARS_MAX).contains(&years) {
            Ok(Self(years))
        } else {
            Err(ValueError::OutOfRange { what: "age limit", min: 1, max: limits::AGE_LIMIT_YEARS_MAX, actual: years })
        }
    }

    /// The age in years.
    pub fn years(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for AgeLimit {
    type Error = ValueError;

    fn try_from(years: u32) -> Result<Self, ValueError> {
        Self::new(years)
    }
}

impl From<AgeLimit> for u32 {
    fn from(limit: AgeLimit) -> u32 {
        limit.0
    }
}

impl ConcertProfile {
    /// This profile with every field that `changes` sets replaced.
    pub fn changed_by(&self, changes: &ConcertProfile) -> ConcertProfile {
        let ConcertProfile { description, genre, image_url, age_limit } = changes.clone();
        ConcertProfile {
            description: description.or_else(|| self.description.clone()),
            genre: genre.or_else(|| self.genre.clone()),
            image_url: image_url.or_else(|| self.image_url.clone()),
            age_limit: age_limit.or(self.age_limit),
        }
    }

    /// Whether no field is set (as a change: it changes nothing).
    pub fn is_empty(&self) -> bool {
        *self == ConcertProfile::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_replaces_the_fields_it_sets_and_keeps_the_others() {
        let before = ConcertProfile {
            description: Description::new("Loud").ok(),
            genre: Genre::new("Rock").ok(),
            image_url: WebUrl::new("https://example.com/a.png").ok(),
            age_limit: None,
        };
        let changes = ConcertProfile {
            genre: Genre::new("Jazz").ok(),
            age_limit: AgeLimit::new(18).ok(),
            ..ConcertProfile::default()
        };

        let after = before.changed_by(&changes);

        assert_eq!((after.genre, after.age_limit), (Genre::new("Jazz").ok(), AgeLimit::new(18).ok()));
        assert_eq!((after.description, after.image_url), (before.description, before.image_url));
        assert!(ConcertProfile::default().is_empty() && !changes.is_empty());
    }

    #[test]
    fn an_age_limit_is_one_to_twenty_one_years_and_is_left_out_of_the_json_when_unset() {
        assert_eq!(AgeLimit::new(18).map(AgeLimit::years), Ok(18));
        assert!(AgeLimit::new(0).is_err() && AgeLimit::new(22).is_err());
        let unset = serde_json::to_string(&ConcertProfile::default()).unwrap_or_default();
        assert_eq!(unset, r#"{"description":null,"genre":null,"imageUrl":null}"#);
        let set = ConcertProfile { age_limit: AgeLimit::new(16).ok(), ..ConcertProfile::default() };
        let json = serde_json::to_string(&set).unwrap_or_default();
        assert!(json.ends_with(r#""ageLimit":16}"#), "{json}");
        assert!(serde_json::from_str::<ConcertProfile>(r#"{"ageLimit":0}"#).is_err(), "checked when read");
    }
}
