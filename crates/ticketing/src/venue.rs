//! A venue, and the bookings that keep two concerts out of the same room at
//! the same time. The bookings live here, not in the concerts, because only
//! a single aggregate can refuse an overlap under concurrency: two concerts
//! scheduled at once both append to the venue's stream, and the version
//! check lets only one of them through. The application layer schedules a
//! concert with `Concert::Schedule` and `Venue::Book` in one atomic append.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use es_core::{Aggregate, CodecError, DomainEvent, decode_adjacent, encode_adjacent};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::ConcertId;
use crate::limits;
use crate::refusal::RefusalKind;
use crate::values::{Address, Capacity, Description, Name, WebUrl};

#[cfg(test)]
mod tests;

/// The state of one venue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Venue {
    profile: Option<VenueProfile>,
    bookings: BTreeMap<ConcertId, Booking>,
    deleted: bool,
}

/// What a venue is, as created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VenueProfile {
    /// Its name.
    pub name: Name,
    /// Its street address.
    pub address: Address,
    /// Its city.
    pub city: Name,
    /// How many people it holds; every concert's tickets fit within it.
    pub capacity: Capacity,
    /// Free text about it.
    pub description: Option<Description>,
    /// Its website.
    pub web_url: Option<WebUrl>,
}

/// The time a concert occupies a venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Booking {
    /// When the concert starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends (after `starts_at`).
    pub ends_at: DateTime<Utc>,
    /// Whether the concert is published: a venue cannot be deleted under a
    /// published concert that has not ended.
    pub published: bool,
}

impl Booking {
    fn overlaps(&self, starts_at: DateTime<Utc>, ends_at: DateTime<Utc>) -> bool {
        self.starts_at < ends_at && starts_at < self.ends_at
    }
}

/// What can be asked of a venue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VenueCommand {
    /// Creates it (admin story AD01).
    Create(VenueProfile),
    /// Reserves the venue for a concert from `starts_at` to `ends_at`.
    /// Booking a concert again moves its slot (a reschedule).
    Book {
        /// The concert.
        concert_id: ConcertId,
        /// When it starts.
        starts_at: DateTime<Utc>,
        /// When it ends.
        ends_at: DateTime<Utc>,
    },
    /// Frees the concert's slot (the concert was cancelled).
    ReleaseBooking {
        /// The concert.
        concert_id: ConcertId,
    },
    /// Notes that the booked concert was published.
    MarkBookingPublished {
        /// The concert.
        concert_id: ConcertId,
    },
    /// Deletes the venue, unless a published concert still has to take
    /// place there.
    Delete {
        /// The current time.
        now: DateTime<Utc>,
    },
}

/// What happened to a venue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all_fields = "camelCase")]
pub enum VenueEvent {
    /// The venue was created.
    #[serde(rename = "VenueCreated")]
    Created {
        /// Its name.
        name: Name,
        /// Its street address.
        address: Address,
        /// Its city.
        city: Name,
        /// How many people it holds.
        capacity: Capacity,
        /// Free text about it.
        description: Option<Description>,
        /// Its website.
        web_url: Option<WebUrl>,
    },
    /// A concert booked the venue (or moved its booking).
    #[serde(rename = "VenueBooked")]
    Booked {
        /// The concert.
        concert_id: ConcertId,
        /// When it starts.
        starts_at: DateTime<Utc>,
        /// When it ends.
        ends_at: DateTime<Utc>,
    },
    /// A concert's booking was released.
    #[serde(rename = "VenueBookingReleased")]
    BookingReleased {
        /// The concert.
        concert_id: ConcertId,
    },
    /// A booked concert was published.
    #[serde(rename = "VenueBookingPublished")]
    BookingPublished {
        /// The concert.
        concert_id: ConcertId,
    },
    /// The venue was deleted.
    #[serde(rename = "VenueDeleted")]
    Deleted {
        /// When.
        deleted_at: DateTime<Utc>,
    },
}

/// Every `EventType` of [`VenueEvent`].
pub const VENUE_EVENT_TYPES: [&str; 5] =
    ["VenueCreated", "VenueBooked", "VenueBookingReleased", "VenueBookingPublished", "VenueDeleted"];

impl DomainEvent for VenueEvent {
    fn event_type(&self) -> &'static str {
        match self {
            VenueEvent::Created { .. } => VENUE_EVENT_TYPES[0],
            VenueEvent::Booked { .. } => VENUE_EVENT_TYPES[1],
            VenueEvent::BookingReleased { .. } => VENUE_EVENT_TYPES[2],
            VenueEvent::BookingPublished { .. } => VENUE_EVENT_TYPES[3],
            VenueEvent::Deleted { .. } => VENUE_EVENT_TYPES[4],
        }
    }

    fn encode(&self) -> Result<String, CodecError> {
        encode_adjacent(self.event_type(), self)
    }

    fn decode(event_type: &str, data: &str) -> Result<Self, CodecError> {
        if !VENUE_EVENT_TYPES.contains(&event_type) {
            return Err(CodecError::UnknownType(event_type.to_owned()));
        }
        decode_adjacent(event_type, data)
    }
}

/// Why a venue refuses a command.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum VenueError {
    /// The venue does not exist (no `Create` yet).
    #[error("the venue does not exist")]
    NotFound,
    /// `Create` on a venue that exists.
    #[error("the venue already exists")]
    AlreadyExists,
    /// The venue was deleted; it accepts nothing more.
    #[error("the venue has been deleted")]
    Deleted,
    /// A booking must end after it starts.
    #[error("a booking must end after it starts")]
    BookingEndsBeforeItStarts,
    /// The slot overlaps another concert's booking.
    #[error("the venue is booked by concert {other} from {starts_at} to {ends_at}")]
    DoubleBooking {
        /// The concert already there.
        other: ConcertId,
        /// When its booking starts.
        starts_at: DateTime<Utc>,
        /// When it ends.
        ends_at: DateTime<Utc>,
    },
    /// The venue remembers [`limits::BOOKINGS_PER_VENUE_MAX`] bookings.
    #[error("the venue has too many bookings (at most {max})", max = limits::BOOKINGS_PER_VENUE_MAX)]
    TooManyBookings,
    /// No booking of this concert.
    #[error("concert {0} has no booking at this venue")]
    BookingNotFound(ConcertId),
    /// The booking is marked published already.
    #[error("the booking of concert {0} is already published")]
    BookingAlreadyPublished(ConcertId),
    /// A published concert that has not ended is booked here.
    #[error("published concert {concert_id} still takes place here until {ends_at}")]
    UpcomingConcert {
        /// The concert.
        concert_id: ConcertId,
        /// When it ends.
        ends_at: DateTime<Utc>,
    },
}

impl VenueError {
    /// How the refusal maps onto the API.
    pub fn kind(&self) -> RefusalKind {
        match self {
            VenueError::NotFound | VenueError::BookingNotFound(_) => RefusalKind::NotFound,
            VenueError::BookingEndsBeforeItStarts | VenueError::TooManyBookings => RefusalKind::Invalid,
            VenueError::AlreadyExists
            | VenueError::Deleted
            | VenueError::DoubleBooking { .. }
            | VenueError::BookingAlreadyPublished(_)
            | VenueError::UpcomingConcert { .. } => RefusalKind::Conflict,
        }
    }
}

impl Venue {
    /// What it is; `None` until it is created.
    pub fn profile(&self) -> Option<&VenueProfile> {
        self.profile.as_ref()
    }

    /// One booking per concert scheduled here and not released.
    pub fn bookings(&self) -> &BTreeMap<ConcertId, Booking> {
        &self.bookings
    }

    /// Whether it has been deleted; a deleted venue refuses everything.
    pub fn is_deleted(&self) -> bool {
        self.deleted
    }

    /// Whether the venue exists and is not deleted.
    pub fn is_active(&self) -> bool {
        self.profile.is_some() && !self.deleted
    }

    fn decide_create(&self, profile: &VenueProfile) -> Result<Vec<VenueEvent>, VenueError> {
        if self.profile.is_some() {
            return Err(VenueError::AlreadyExists);
        }
        let VenueProfile { name, address, city, capacity, description, web_url } = profile.clone();
        Ok(vec![VenueEvent::Created { name, address, city, capacity, description, web_url }])
    }

    fn decide_book(
        &self,
        concert_id: ConcertId,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    ) -> Result<Vec<VenueEvent>, VenueError> {
        if starts_at >= ends_at {
            return Err(VenueError::BookingEndsBeforeItStarts);
        }
        let clash =
            self.bookings.iter().find(|(id, booking)| **id != concert_id && booking.overlaps(starts_at, ends_at));
        if let Some((other, booking)) = clash {
            return Err(VenueError::DoubleBooking {
                other: *other,
                starts_at: booking.starts_at,
                ends_at: booking.ends_at,
            });
        }
        if !self.bookings.contains_key(&concert_id) && self.bookings.len() >= limits::BOOKINGS_PER_VENUE_MAX {
            return Err(VenueError::TooManyBookings);
        }
        Ok(vec![VenueEvent::Booked { concert_id, starts_at, ends_at }])
    }

    fn booking(&self, concert_id: ConcertId) -> Result<&Booking, VenueError> {
        self.bookings.get(&concert_id).ok_or(VenueError::BookingNotFound(concert_id))
    }

    fn decide_delete(&self, now: DateTime<Utc>) -> Result<Vec<VenueEvent>, VenueError> {
        let upcoming = self.bookings.iter().find(|(_, booking)| booking.published && booking.ends_at > now);
        if let Some((concert_id, booking)) = upcoming {
            return Err(VenueError::UpcomingConcert { concert_id: *concert_id, ends_at: booking.ends_at });
        }
        Ok(vec![VenueEvent::Deleted { deleted_at: now }])
    }
}

impl Aggregate for Venue {
    const KIND: &'static str = "venue";

    type Event = VenueEvent;
    type Command = VenueCommand;
    type Error = VenueError;

    fn decide(&self, command: &VenueCommand) -> Result<Vec<VenueEvent>, VenueError> {
        if let VenueCommand::Create(profile) = command {
            return self.decide_create(profile);
        }
        if self.profile.is_none() {
            return Err(VenueError::NotFound);
        }
        if self.deleted {
            return Err(VenueError::Deleted);
        }
        match command {
            VenueCommand::Create(_) => Err(VenueError::AlreadyExists),
            VenueCommand::Book { concert_id, starts_at, ends_at } => {
                self.decide_book(*concert_id, *starts_at, *ends_at)
            }
            VenueCommand::ReleaseBooking { concert_id } => {
                self.booking(*concert_id)?;
                Ok(vec![VenueEvent::BookingReleased { concert_id: *concert_id }])
            }
            VenueCommand::MarkBookingPublished { concert_id } => {
                if self.booking(*concert_id)?.published {
                    return Err(VenueError::BookingAlreadyPublished(*concert_id));
                }
                Ok(vec![VenueEvent::BookingPublished { concert_id: *concert_id }])
            }
            VenueCommand::Delete { now } => self.decide_delete(*now),
        }
    }

    fn evolve(&mut self, event: &VenueEvent) {
        match event {
            VenueEvent::Created { name, address, city, capacity, description, web_url } => {
                self.profile = Some(VenueProfile {
                    name: name.clone(),
                    address: address.clone(),
                    city: city.clone(),
                    capacity: *capacity,
                    description: description.clone(),
                    web_url: web_url.clone(),
                });
            }
            VenueEvent::Booked { concert_id, starts_at, ends_at } => {
                let booking = self.bookings.entry(*concert_id).or_insert(Booking {
                    starts_at: *starts_at,
                    ends_at: *ends_at,
                    published: false,
                });
                // A reschedule keeps the booking's published mark.
                booking.starts_at = *starts_at;
                booking.ends_at = *ends_at;
            }
            VenueEvent::BookingReleased { concert_id } => {
                self.bookings.remove(concert_id);
            }
            VenueEvent::BookingPublished { concert_id } => {
                if let Some(booking) = self.bookings.get_mut(concert_id) {
                    booking.published = true;
                }
            }
            VenueEvent::Deleted { .. } => self.deleted = true,
        }
    }
}
