//! A concert's profile in the organiser's two concert forms (a new draft, and the details of an existing one): the
//! fields as typed, and the JSON the API takes. Both forms embed these, and both templates include
//! `organiser/profile_fields.html`, so that a field of the profile is added to the pages here and in that partial.

use serde::{Deserialize, Serialize};

use super::optional;
use crate::model::ConcertProfile;

/// The profile's fields of a concert form, as typed.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ProfileForm {
    #[serde(default)]
    pub(super) genre: String,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) image_url: String,
    #[serde(default)]
    pub(super) age_limit: String,
}

/// The profile's fields sent to the API; those left out are not set (a new draft) or not changed (an update).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ProfileBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    genre: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_url: Option<String>,
    /// A number when one was typed; other text is sent as typed, for the API to refuse.
    #[serde(skip_serializing_if = "Option::is_none")]
    age_limit: Option<serde_json::Value>,
}

impl ProfileForm {
    /// The form filled with `profile`.
    pub(super) fn of(profile: &ConcertProfile) -> Self {
        Self {
            genre: profile.genre.clone().unwrap_or_default(),
            description: profile.description.clone().unwrap_or_default(),
            image_url: profile.image_url.clone().unwrap_or_default(),
            age_limit: profile.age_limit.map(|years| years.to_string()).unwrap_or_default(),
        }
    }

    /// Every field typed in.
    pub(super) fn body(&self) -> ProfileBody {
        ProfileBody {
            description: optional(&self.description),
            genre: optional(&self.genre),
            image_url: optional(&self.image_url),
            age_limit: number(&self.age_limit),
        }
    }

    /// The fields typed in that differ from `current`. An emptied field is left as it was: the API changes fields
    /// but does not clear them.
    pub(super) fn changes(&self, current: &ConcertProfile) -> ProfileBody {
        let changed =
            |typed: &str, current: Option<&str>| optional(typed).filter(|typed| Some(typed.as_str()) != current);
        ProfileBody {
            description: changed(&self.description, current.description.as_deref()),
            genre: changed(&self.genre, current.genre.as_deref()),
            image_url: changed(&self.image_url, current.image_url.as_deref()),
            age_limit: number(&self.age_limit).filter(|typed| Some(typed.clone()) != current.age_limit.map(Into::into)),
        }
    }
}

impl ProfileBody {
    /// Whether it sets no field.
    pub(super) fn is_empty(&self) -> bool {
        let ProfileBody { description, genre, image_url, age_limit } = self;
        description.is_none() && genre.is_none() && image_url.is_none() && age_limit.is_none()
    }
}

/// What was typed in a number field: a number where it is one.
fn number(typed: &str) -> Option<serde_json::Value> {
    optional(typed).map(|text| text.parse::<i64>().map_or(serde_json::Value::String(text), Into::into))
}
