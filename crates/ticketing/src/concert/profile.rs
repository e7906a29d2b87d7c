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

use crate::values::{Description, Genre, WebUrl};

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
}

impl ConcertProfile {
    /// This profile with every field that `changes` sets replaced.
    pub fn changed_by(&self, changes: &ConcertProfile) -> ConcertProfile {
        let ConcertProfile { description, genre, image_url } = changes.clone();
        ConcertProfile {
            description: description.or_else(|| self.description.clone()),
            genre: genre.or_else(|| self.genre.clone()),
            image_url: image_url.or_else(|| self.image_url.clone()),
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
        };
        let changes = ConcertProfile { genre: Genre::new("Jazz").ok(), ..ConcertProfile::default() };

        let after = before.changed_by(&changes);

        assert_eq!(after.genre, Genre::new("Jazz").ok());
        assert_eq!((after.description, after.image_url), (before.description, before.image_url));
        assert!(ConcertProfile::default().is_empty() && !changes.is_empty());
    }
}
