//! Given/when/then scenarios for every rule and refusal of a venue.

use super::*;
use crate::scenario::Given;
use crate::scenario::fixtures::{at, id, name};

/// The history of one venue, typed so that an empty history needs no annotation.
fn given(history: impl IntoIterator<Item = VenueEvent>) -> Given<Venue> {
    crate::scenario::given(history)
}
use crate::values::Address;

fn profile() -> VenueProfile {
    VenueProfile {
        name: name("Paradiso"),
        address: Address::new("Weteringschans 6-8").expect("valid"),
        city: name("Amsterdam"),
        capacity: Capacity::new(1_500).expect("valid"),
        description: None,
        web_url: Some(WebUrl::new("https://paradiso.nl").expect("valid")),
    }
}

fn created() -> VenueEvent {
    let VenueProfile { name, address, city, capacity, description, web_url } = profile();
    VenueEvent::Created { name, address, city, capacity, description, web_url }
}

fn concert(n: u128) -> ConcertId {
    id(n)
}

fn booked(n: u128, from: i64, to: i64) -> VenueEvent {
    VenueEvent::Booked { concert_id: concert(n), starts_at: at(from), ends_at: at(to) }
}

fn book(n: u128, from: i64, to: i64) -> VenueCommand {
    VenueCommand::Book { concert_id: concert(n), starts_at: at(from), ends_at: at(to) }
}

#[test]
fn a_venue_is_created_with_its_profile() {
    let venue = given([]).when(VenueCommand::Create(profile())).then([created()]);
    assert_eq!(venue.profile(), Some(&profile()));
    assert!(venue.is_active());
}

#[test]
fn a_venue_cannot_be_created_twice() {
    given([created()]).when(VenueCommand::Create(profile())).then_refused(VenueError::AlreadyExists);
}

#[test]
fn a_venue_that_does_not_exist_refuses_everything_but_creation() {
    given([]).when(book(1, 60, 120)).then_refused(VenueError::NotFound);
    given([]).when(VenueCommand::Delete { now: at(0) }).then_refused(VenueError::NotFound);
}

#[test]
fn a_free_slot_is_booked() {
    let venue = given([created()]).when(book(1, 60, 120)).then([booked(1, 60, 120)]);
    assert_eq!(venue.bookings().get(&concert(1)).map(|booking| booking.published), Some(false));
}

#[test]
fn a_booking_must_end_after_it_starts() {
    given([created()]).when(book(1, 120, 120)).then_refused(VenueError::BookingEndsBeforeItStarts);
    given([created()]).when(book(1, 120, 60)).then_refused(VenueError::BookingEndsBeforeItStarts);
}

#[test]
fn an_overlapping_slot_of_another_concert_is_refused() {
    for (from, to) in [(90, 150), (30, 90), (70, 110), (0, 500)] {
        given([created(), booked(1, 60, 120)]).when(book(2, from, to)).then_refused(VenueError::DoubleBooking {
            other: concert(1),
            starts_at: at(60),
            ends_at: at(120),
        });
    }
}

#[test]
fn back_to_back_slots_do_not_overlap() {
    given([created(), booked(1, 60, 120)]).when(book(2, 120, 180)).then([booked(2, 120, 180)]);
    given([created(), booked(1, 60, 120)]).when(book(2, 0, 60)).then([booked(2, 0, 60)]);
}

#[test]
fn booking_the_same_concert_again_moves_its_slot_and_keeps_it_published() {
    let history = [created(), booked(1, 60, 120), VenueEvent::BookingPublished { concert_id: concert(1) }];
    let venue = given(history).when(book(1, 90, 150)).then([booked(1, 90, 150)]);
    let booking = venue.bookings().get(&concert(1)).copied();
    assert_eq!(booking, Some(Booking { starts_at: at(90), ends_at: at(150), published: true }));
    assert_eq!(venue.bookings().len(), 1);
}

#[test]
fn a_released_slot_can_be_booked_by_another_concert() {
    let venue = given([created(), booked(1, 60, 120)])
        .when(VenueCommand::ReleaseBooking { concert_id: concert(1) })
        .then([VenueEvent::BookingReleased { concert_id: concert(1) }]);
    assert!(venue.bookings().is_empty());
    given([created(), booked(1, 60, 120), VenueEvent::BookingReleased { concert_id: concert(1) }])
        .when(book(2, 60, 120))
        .then([booked(2, 60, 120)]);
}

#[test]
fn releasing_or_publishing_an_unknown_booking_is_refused() {
    given([created()])
        .when(VenueCommand::ReleaseBooking { concert_id: concert(1) })
        .then_refused(VenueError::BookingNotFound(concert(1)));
    given([created()])
        .when(VenueCommand::MarkBookingPublished { concert_id: concert(1) })
        .then_refused(VenueError::BookingNotFound(concert(1)));
}

#[test]
fn a_booking_is_marked_published_once() {
    let published = VenueEvent::BookingPublished { concert_id: concert(1) };
    given([created(), booked(1, 60, 120)])
        .when(VenueCommand::MarkBookingPublished { concert_id: concert(1) })
        .then([published.clone()]);
    given([created(), booked(1, 60, 120), published])
        .when(VenueCommand::MarkBookingPublished { concert_id: concert(1) })
        .then_refused(VenueError::BookingAlreadyPublished(concert(1)));
}

#[test]
fn a_venue_with_too_many_bookings_refuses_a_new_concert_but_not_a_reschedule() {
    let mut history = vec![created()];
    let slots = i64::try_from(limits::BOOKINGS_PER_VENUE_MAX).expect("fits");
    for n in 0..slots {
        history.push(booked(n as u128 + 1, n * 10, n * 10 + 5));
    }
    given(history.clone()).when(book(0, slots * 10, slots * 10 + 5)).then_refused(VenueError::TooManyBookings);
    given(history).when(book(1, slots * 10, slots * 10 + 5)).then([booked(1, slots * 10, slots * 10 + 5)]);
}

#[test]
fn a_venue_is_deleted_when_no_published_concert_is_still_to_come() {
    let history =
        [created(), booked(1, 60, 120), VenueEvent::BookingPublished { concert_id: concert(1) }, booked(2, 200, 260)];
    let venue =
        given(history).when(VenueCommand::Delete { now: at(120) }).then([VenueEvent::Deleted { deleted_at: at(120) }]);
    assert!(venue.is_deleted());
    assert!(!venue.is_active());
}

#[test]
fn a_venue_is_not_deleted_under_a_published_concert_that_has_not_ended() {
    let history = [created(), booked(1, 60, 120), VenueEvent::BookingPublished { concert_id: concert(1) }];
    given(history)
        .when(VenueCommand::Delete { now: at(119) })
        .then_refused(VenueError::UpcomingConcert { concert_id: concert(1), ends_at: at(120) });
}

#[test]
fn a_deleted_venue_refuses_everything() {
    let history = || [created(), booked(1, 60, 120), VenueEvent::Deleted { deleted_at: at(0) }];
    given(history()).when(book(2, 200, 260)).then_refused(VenueError::Deleted);
    given(history()).when(VenueCommand::ReleaseBooking { concert_id: concert(1) }).then_refused(VenueError::Deleted);
    given(history())
        .when(VenueCommand::MarkBookingPublished { concert_id: concert(1) })
        .then_refused(VenueError::Deleted);
    given(history()).when(VenueCommand::Delete { now: at(1) }).then_refused(VenueError::Deleted);
    given(history()).when(VenueCommand::Create(profile())).then_refused(VenueError::AlreadyExists);
}

#[test]
fn every_refusal_has_the_kind_the_api_maps() {
    assert_eq!(VenueError::NotFound.kind(), RefusalKind::NotFound);
    assert_eq!(VenueError::BookingNotFound(concert(1)).kind(), RefusalKind::NotFound);
    assert_eq!(VenueError::BookingEndsBeforeItStarts.kind(), RefusalKind::Invalid);
    assert_eq!(VenueError::Deleted.kind(), RefusalKind::Conflict);
    let clash = VenueError::DoubleBooking { other: concert(1), starts_at: at(0), ends_at: at(1) };
    assert_eq!(clash.kind(), RefusalKind::Conflict);
}

#[test]
fn every_event_has_a_stable_json_shape() {
    let examples = [
        (
            created(),
            "VenueCreated",
            r#"{"name":"Paradiso","address":"Weteringschans 6-8","city":"Amsterdam","capacity":1500,"description":null,"webUrl":"https://paradiso.nl"}"#,
        ),
        (
            booked(1, 60, 120),
            "VenueBooked",
            r#"{"concertId":"00000000-0000-0000-0000-000000000001","startsAt":"2030-01-01T01:00:00Z","endsAt":"2030-01-01T02:00:00Z"}"#,
        ),
        (
            VenueEvent::BookingReleased { concert_id: concert(1) },
            "VenueBookingReleased",
            r#"{"concertId":"00000000-0000-0000-0000-000000000001"}"#,
        ),
        (
            VenueEvent::BookingPublished { concert_id: concert(1) },
            "VenueBookingPublished",
            r#"{"concertId":"00000000-0000-0000-0000-000000000001"}"#,
        ),
        (VenueEvent::Deleted { deleted_at: at(0) }, "VenueDeleted", r#"{"deletedAt":"2030-01-01T00:00:00Z"}"#),
    ];
    assert_eq!(examples.len(), VENUE_EVENT_TYPES.len(), "one example per event type");
    for (event, event_type, json) in examples {
        assert_eq!(event.event_type(), event_type);
        assert_eq!(event.encode().expect("encodes"), json, "{event_type}");
        assert_eq!(VenueEvent::decode(event_type, json).expect("decodes"), event, "{event_type}");
    }
    assert!(matches!(VenueEvent::decode("VenueRenamed", "{}"), Err(CodecError::UnknownType(_))));
}
