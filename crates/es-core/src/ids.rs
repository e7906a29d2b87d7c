//! Identifiers and counters of the log. Each is a newtype so that an
//! aggregate id can never be passed where an event id is meant, and a stream
//! version never mixed up with a global log position.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Declares a UUID newtype with the conversions every id needs: `Display`
/// and `FromStr` in the canonical text form, `From<Uuid>`, and serde as a
/// bare UUID string. Exported so that domain crates declare their ids the
/// same way; ids that the edges mint also get a `random()` (see below).
#[macro_export]
macro_rules! uuid_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub $crate::__private::Uuid);

        impl $name {
            /// The underlying UUID.
            pub fn as_uuid(&self) -> $crate::__private::Uuid {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::__private::uuid::Error;
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                $crate::__private::Uuid::parse_str(s).map(Self)
            }
        }

        impl ::std::convert::From<$crate::__private::Uuid> for $name {
            fn from(value: $crate::__private::Uuid) -> Self {
                Self(value)
            }
        }

        impl $crate::__private::serde::Serialize for $name {
            fn serialize<S: $crate::__private::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                $crate::__private::serde::Serialize::serialize(&self.0, serializer)
            }
        }

        impl<'de> $crate::__private::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                <$crate::__private::Uuid as $crate::__private::serde::Deserialize>::deserialize(deserializer).map(Self)
            }
        }
    };
}

/// Ids the kernel's callers mint at the edge.
macro_rules! minted_id {
    ($(#[$doc:meta])* $name:ident) => {
        uuid_newtype!($(#[$doc])* $name);

        impl $name {
            /// A fresh id: a UUID v7, time-ordered in its high bits and random
            /// below. Time order keeps B-tree inserts of new ids close
            /// together (SQLite's and PostgreSQL's indexes touch a few pages
            /// per commit instead of one per row). Only the edges of the
            /// system call this: the domain receives ids inside its commands.
            pub fn random() -> Self {
                Self(Uuid::now_v7())
            }
        }
    };
}

minted_id!(
    /// The `AggregateId` of the seed: the partition key of the log. One
    /// aggregate is one stream of events.
    AggregateId
);
minted_id!(
    /// A unique id per event, so that consumers can recognise one event
    /// wherever it travels (the log, Kinesis, SQS, a dead-letter queue).
    EventId
);
minted_id!(
    /// A caller-chosen id for one command (the `Idempotency-Key` of the HTTP
    /// API). The log remembers it with the command's first result.
    CommandId
);
minted_id!(
    /// Ties together every event caused by one request, across aggregates.
    CorrelationId
);

/// The `AggregateVersion` of the seed: 1 for an aggregate's first event,
/// contiguous after that. Version 0 means "no events yet".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Version(pub u64);

impl Version {
    /// The version of an aggregate with no events.
    pub const INITIAL: Version = Version(0);

    /// The version after this one.
    pub fn next(self) -> Version {
        Version(self.0 + 1)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A place in the whole log, in commit order. Position 0 is "before the first
/// event"; the first event committed has position 1. Positions never go
/// backwards, and a reader at position `p` has seen every event committed at
/// or before `p` (no in-flight gaps: each backend guarantees it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Position(pub u64);

impl Position {
    /// Before the first event.
    pub const START: Position = Position(0);
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What an append expects an aggregate's current version to be. Every append
/// carries one: this is how two concurrent commands on one aggregate are told
/// apart, instead of the second silently overwriting the first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// The aggregate must have no events yet.
    NoStream,
    /// The aggregate must be at exactly this version (0 = no events).
    Exact(Version),
    /// Append whatever the current version is. Only for streams with a single
    /// writer by construction; commands never use it.
    Any,
}

impl ExpectedVersion {
    /// Whether an aggregate at `actual` satisfies this expectation.
    pub fn admits(self, actual: Version) -> bool {
        match self {
            ExpectedVersion::NoStream => actual == Version::INITIAL,
            ExpectedVersion::Exact(expected) => actual == expected,
            ExpectedVersion::Any => true,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(version) => write!(f, "version {version}"),
            ExpectedVersion::Any => f.write_str("any version"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_version_admits_only_what_it_says() {
        assert!(ExpectedVersion::NoStream.admits(Version(0)));
        assert!(!ExpectedVersion::NoStream.admits(Version(1)));
        assert!(ExpectedVersion::Exact(Version(3)).admits(Version(3)));
        assert!(!ExpectedVersion::Exact(Version(3)).admits(Version(4)));
        assert!(ExpectedVersion::Any.admits(Version(42)));
    }

    #[test]
    fn ids_round_trip_through_their_text_form() {
        let id = AggregateId::random();
        assert_eq!(id.to_string().parse::<AggregateId>().ok(), Some(id));
        assert!("not-a-uuid".parse::<AggregateId>().is_err());
    }
}
