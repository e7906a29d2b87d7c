//! A buyer's e-mail address, where their tickets are sent. Only its shape
//! is checked here (one `@` between a local part and a domain with a dot,
//! no spaces or control characters, at most 254 characters, as SMTP's
//! path limit allows); whether anyone reads it is the mail server's answer.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::values::ValueError;

/// Most characters an address may have.
pub const EMAIL_CHARS_MAX: usize = 254;

/// An e-mail address of a plausible shape.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Checks the shape of `address`, trimmed.
    pub fn new(address: &str) -> Result<Self, ValueError> {
        let address = address.trim();
        let plausible = address.chars().count() <= EMAIL_CHARS_MAX
            && !address.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
            && matches!(address.split_once('@'), Some((local, domain))
                if !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.'));
        if !plausible {
            return Err(ValueError::Email);
        }
        Ok(Self(address.to_owned()))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        EmailAddress::new(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_needs_a_local_part_and_a_domain_with_a_dot() {
        assert_eq!(EmailAddress::new(" fan@example.com ").map(|a| a.to_string()), Ok("fan@example.com".to_owned()));
        assert!(EmailAddress::new("zoë@café.nl").is_ok());
        for bad in
            ["", "fan", "@example.com", "fan@", "fan@localhost", "fan@example.", "a@b@c.d", "fan @x.nl", "f<a>@x.nl"]
        {
            assert_eq!(EmailAddress::new(bad), Err(ValueError::Email), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(EMAIL_CHARS_MAX));
        assert_eq!(EmailAddress::new(&long), Err(ValueError::Email));
    }

    #[test]
    fn an_address_is_checked_when_read_back() {
        assert!(serde_json::from_str::<EmailAddress>(r#""fan@example.com""#).is_ok());
        assert!(serde_json::from_str::<EmailAddress>(r#""not an address""#).is_err());
    }
}
