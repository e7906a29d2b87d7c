//! Domain events as a public, versioned schema.
//!
//! A domain event type names itself with a stable `EventType` (never a Rust
//! path, so renaming or moving a type breaks nothing) and a schema version
//! for the shape of its `Data`. Old shapes are brought up to date by
//! [`Upcasters`] on every read path, before a domain type ever sees them.

use std::collections::HashMap;

use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

use crate::record::RecordedEvent;

/// A domain event that the log can store. Implement it by hand or, for an
/// enum serialized with `#[serde(tag = "type", content = "data")]`, with
/// [`encode_adjacent`] and [`decode_adjacent`].
pub trait DomainEvent: Clone + Send + Sync + Sized + 'static {
    /// The stable `EventType` of this event (`ConcertPublished`).
    fn event_type(&self) -> &'static str;

    /// The current schema version of this event type's `Data`.
    fn schema_version(&self) -> u32 {
        1
    }

    /// This event's `Data` as JSON text.
    fn encode(&self) -> Result<String, CodecError>;

    /// Rebuilds an event from its type and `Data`, already upcast to the
    /// current schema version.
    fn decode(event_type: &str, data: &str) -> Result<Self, CodecError>;

    /// Decodes a record read from the log.
    fn from_record(record: &RecordedEvent) -> Result<Self, CodecError> {
        Self::decode(&record.event_type, &record.data)
    }
}

/// An event could not be turned into JSON or back.
#[derive(Debug, Error)]
pub enum CodecError {
    /// The JSON did not match the event type's shape.
    #[error("event {event_type}: {source}")]
    Json {
        /// The event type concerned.
        event_type: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// The log holds a type this code does not know.
    #[error("unknown event type {0:?}")]
    UnknownType(String),
}

/// Encodes an adjacently tagged enum value (`{"type": …, "data": …}`) as the
/// JSON text of its `data` part (`{}` for a variant without data).
pub fn encode_adjacent<E: Serialize>(event_type: &str, event: &E) -> Result<String, CodecError> {
    let json_error = |source| CodecError::Json { event_type: event_type.to_owned(), source };
    let tagged = serde_json::to_string(event).map_err(json_error)?;
    // serde writes `{"type":<tag>,"data":<data>}`: cut the data out of the
    // text instead of building and re-serializing a `Value`.
    let tag = serde_json::to_string(event_type).map_err(json_error)?;
    let prefix_len = r#"{"type":"#.len() + tag.len();
    let data = tagged
        .get(prefix_len..tagged.len().saturating_sub(1))
        .and_then(|rest| rest.strip_prefix(r#","data":"#))
        .unwrap_or("{}");
    Ok(data.to_owned())
}

/// Decodes the `data` part of an adjacently tagged enum value.
pub fn decode_adjacent<E: DeserializeOwned>(event_type: &str, data: &str) -> Result<E, CodecError> {
    let json_error = |source| CodecError::Json { event_type: event_type.to_owned(), source };
    // Stored type names never need JSON escaping (see `AppendRequest::validate`);
    // quote anything else properly.
    let plain = event_type.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"._-:".contains(&byte));
    let mut tagged = String::with_capacity(data.len() + event_type.len() + 20);
    tagged.push_str(r#"{"type":"#);
    if plain {
        tagged.push('"');
        tagged.push_str(event_type);
        tagged.push('"');
    } else {
        tagged.push_str(&serde_json::to_string(event_type).map_err(json_error)?);
    }
    let tag_end = tagged.len();
    tagged.push_str(r#","data":"#);
    tagged.push_str(data);
    tagged.push('}');
    match serde_json::from_str(&tagged) {
        Ok(event) => Ok(event),
        // A variant without data is stored as `{}`; serde wants no content.
        Err(_) if data.trim() == "{}" => {
            tagged.truncate(tag_end);
            tagged.push('}');
            serde_json::from_str(&tagged).map_err(json_error)
        }
        Err(error) => Err(json_error(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type", content = "data")]
    enum Sample {
        Opened { name: String },
        Closed,
    }

    #[test]
    fn adjacent_encoding_keeps_only_the_data() {
        let opened = Sample::Opened { name: "a \"quoted\" }".into() };
        assert_eq!(encode_adjacent("Opened", &opened).ok().as_deref(), Some(r#"{"name":"a \"quoted\" }"}"#));
        assert_eq!(encode_adjacent("Closed", &Sample::Closed).ok().as_deref(), Some("{}"));
    }

    #[test]
    fn adjacent_decoding_round_trips_and_refuses_bad_shapes() {
        let opened = Sample::Opened { name: "x".into() };
        let data = encode_adjacent("Opened", &opened).expect("encodes");
        assert_eq!(decode_adjacent::<Sample>("Opened", &data).ok(), Some(opened));
        assert_eq!(decode_adjacent::<Sample>("Closed", "{}").ok(), Some(Sample::Closed));
        assert!(decode_adjacent::<Sample>("Opened", r#"{"name":3}"#).is_err());
        assert!(decode_adjacent::<Sample>("Renamed", r#"{"name":"x"}"#).is_err());
    }
}

type UpcastFn = dyn Fn(serde_json::Value) -> Result<serde_json::Value, String> + Send + Sync;

/// Functions that lift an event type's `Data` from schema version `n` to
/// `n + 1`. [`crate::EventLog`] applies them to every record it reads, on
/// every path (load, read_all, subscriptions, replay), so domain code only
/// ever sees the current shape.
#[derive(Default)]
pub struct Upcasters {
    steps: HashMap<(String, u32), Box<UpcastFn>>,
}

impl std::fmt::Debug for Upcasters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upcasters").field("steps", &self.steps.keys().collect::<Vec<_>>()).finish()
    }
}

/// An old record could not be brought up to date.
#[derive(Debug, Error)]
#[error("cannot upcast {event_type} from schema version {from}: {reason}")]
pub struct UpcastError {
    /// The event type concerned.
    pub event_type: String,
    /// The version the failing step starts from.
    pub from: u32,
    /// What went wrong.
    pub reason: String,
}

impl Upcasters {
    /// No upcasting at all.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers the step that lifts `event_type` from `from_version` to
    /// `from_version + 1`.
    pub fn register(
        mut self,
        event_type: &str,
        from_version: u32,
        step: impl Fn(serde_json::Value) -> Result<serde_json::Value, String> + Send + Sync + 'static,
    ) -> Self {
        let previous = self.steps.insert((event_type.to_owned(), from_version), Box::new(step));
        assert!(previous.is_none(), "two upcasters registered for {event_type} v{from_version}");
        self
    }

    /// Whether no step is registered (the fast path: records pass untouched).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Brings a record's `Data` to the newest schema version that the
    /// registered steps reach.
    pub fn upcast(&self, mut record: RecordedEvent) -> Result<RecordedEvent, UpcastError> {
        if self.steps.is_empty() {
            return Ok(record);
        }
        let mut key = (record.event_type, record.schema_version);
        if let Some(first_step) = self.steps.get(&key) {
            let parse_error = |reason: serde_json::Error| UpcastError {
                event_type: key.0.clone(),
                from: key.1,
                reason: reason.to_string(),
            };
            let mut data: serde_json::Value = serde_json::from_str(&record.data).map_err(parse_error)?;
            let mut step = Some(first_step);
            while let Some(upcast) = step {
                data = upcast(data).map_err(|reason| UpcastError { event_type: key.0.clone(), from: key.1, reason })?;
                key.1 += 1;
                step = self.steps.get(&key);
            }
            record.data = data.to_string();
        }
        (record.event_type, record.schema_version) = key;
        Ok(record)
    }
}
