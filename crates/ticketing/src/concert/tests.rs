//! Given/when/then scenarios for every rule and refusal of a concert, a
//! property-style run of random inventory commands, and the JSON snapshot of
//! every event.

use es_core::{CodecError, DomainEvent};

use super::*;
use crate::ids::{CartId, HoldId, TicketTypeId};
use crate::limits;
use crate::refusal::RefusalKind;
use crate::scenario::Given;
use crate::scenario::fixtures::{at, eur, id, name, quantity, usd};
use crate::values::{Capacity, Description, Genre, Money, WebUrl};

/// The history of one concert, typed so that an empty history needs no annotation.
fn given(history: impl IntoIterator<Item = ConcertEvent>) -> Given<Concert> {
    crate::scenario::given(history)
}

const REGULAR: u128 = 101;
const VIP: u128 = 102;
const STARTS: i64 = 1_000;
const ENDS: i64 = 1_200;

fn ticket_type(n: u128) -> TicketTypeId {
    id(n)
}

fn hold_id(n: u128) -> HoldId {
    id(n)
}

fn cart(n: u128) -> CartId {
    id(n)
}

fn new_concert(capacity: u32) -> NewConcert {
    NewConcert {
        name: name("Night of the Bash"),
        venue_id: id(7),
        venue_capacity: Capacity::new(capacity).expect("valid"),
        profile: ConcertProfile { genre: Some(Genre::new("Jazz").expect("valid")), ..ConcertProfile::default() },
    }
}

fn created(capacity: u32) -> ConcertEvent {
    let NewConcert { name, venue_id, venue_capacity, profile } = new_concert(capacity);
    ConcertEvent::Created { name, venue_id, venue_capacity, profile }
}

fn type_added(n: u128, price: Money, count: u32) -> ConcertEvent {
    ConcertEvent::TicketTypeAdded {
        ticket_type_id: ticket_type(n),
        name: name(if n == VIP { "VIP" } else { "Regular" }),
        price,
        quantity: quantity(count),
    }
}

fn add_type(n: u128, price: Money, count: u32) -> ConcertCommand {
    ConcertCommand::AddTicketType {
        ticket_type_id: ticket_type(n),
        name: name(if n == VIP { "VIP" } else { "Regular" }),
        price,
        quantity: quantity(count),
    }
}

fn scheduled() -> ConcertEvent {
    ConcertEvent::Scheduled { starts_at: at(STARTS), ends_at: at(ENDS) }
}

/// A draft with a schedule and two ticket types (50 regular, 10 VIP) in a
/// venue for 100.
fn ready_draft() -> Vec<ConcertEvent> {
    vec![created(100), type_added(REGULAR, eur(2_500), 50), type_added(VIP, eur(9_000), 10), scheduled()]
}

fn on_sale() -> Vec<ConcertEvent> {
    let mut history = ready_draft();
    history.push(ConcertEvent::Published { published_at: at(0), buckets: 0 });
    history
}

fn hold(n: u128, ticket: u128, count: u32, now: i64) -> ConcertCommand {
    ConcertCommand::HoldTickets(HoldRequest {
        cart_id: cart(n),
        hold_id: hold_id(n),
        ticket_type_id: ticket_type(ticket),
        quantity: quantity(count),
        now: at(now),
        expires_at: at(now + limits::HOLD_MINUTES),
    })
}

fn held(n: u128, ticket: u128, count: u32, now: i64) -> ConcertEvent {
    ConcertEvent::TicketsHeld {
        hold_id: hold_id(n),
        cart_id: cart(n),
        ticket_type_id: ticket_type(ticket),
        quantity: quantity(count),
        expires_at: at(now + limits::HOLD_MINUTES),
    }
}

fn with(mut history: Vec<ConcertEvent>, more: impl IntoIterator<Item = ConcertEvent>) -> Vec<ConcertEvent> {
    history.extend(more);
    history
}

fn inventory(concert: &Concert, ticket: u128) -> (u32, u32, u32) {
    let ticket_type = concert.ticket_type(ticket_type(ticket)).expect("the ticket type exists");
    (ticket_type.held, ticket_type.sold, ticket_type.available())
}

// --- Lifecycle -------------------------------------------------------------

#[test]
fn a_concert_is_created_as_a_draft() {
    let concert = given([]).when(ConcertCommand::Create(new_concert(100))).then([created(100)]);
    assert_eq!(concert.status(), ConcertStatus::Draft);
    assert_eq!(concert.details().map(|details| details.venue_capacity.get()), Some(100));
}

#[test]
fn a_concert_cannot_be_created_twice() {
    given([created(100)]).when(ConcertCommand::Create(new_concert(100))).then_refused(ConcertError::AlreadyExists);
}

#[test]
fn a_concert_that_does_not_exist_refuses_everything_but_creation() {
    given([]).when(ConcertCommand::Cancel).then_refused(ConcertError::NotFound);
    given([]).when(hold(1, REGULAR, 1, 0)).then_refused(ConcertError::NotFound);
}

#[test]
fn details_are_updated_field_by_field() {
    let profile = ConcertProfile {
        description: Some(Description::new("Two sets.").expect("valid")),
        ..ConcertProfile::default()
    };
    let update = DetailsUpdate { name: Some(name("Renamed")), profile: profile.clone() };
    let concert = given([created(100)])
        .when(ConcertCommand::UpdateDetails(update))
        .then([ConcertEvent::DetailsUpdated { name: Some(name("Renamed")), profile }]);
    let details = concert.details().expect("created");
    assert_eq!(details.name.as_str(), "Renamed");
    assert_eq!(details.profile.description.as_ref().map(Description::as_str), Some("Two sets."));
    assert_eq!(details.profile.genre.as_ref().map(Genre::as_str), Some("Jazz"), "an absent field is kept");
}

#[test]
fn an_update_that_names_no_field_is_refused() {
    given([created(100)])
        .when(ConcertCommand::UpdateDetails(DetailsUpdate::default()))
        .then_refused(ConcertError::NothingToUpdate);
}

#[test]
fn a_cancelled_concert_refuses_updates_and_every_other_change() {
    let cancelled = || with(on_sale(), [ConcertEvent::Cancelled {}]);
    let update = DetailsUpdate { name: Some(name("X")), ..DetailsUpdate::default() };
    given(cancelled()).when(ConcertCommand::UpdateDetails(update)).then_refused(ConcertError::Cancelled);
    let reschedule = ConcertCommand::Schedule { starts_at: at(2_000), ends_at: at(2_100), now: at(1) };
    given(cancelled()).when(reschedule).then_refused(ConcertError::Cancelled);
    given(cancelled()).when(add_type(3, eur(1), 1)).then_refused(ConcertError::Cancelled);
    given(cancelled())
        .when(ConcertCommand::RemoveTicketType { ticket_type_id: ticket_type(VIP) })
        .then_refused(ConcertError::Cancelled);
    given(cancelled()).when(ConcertCommand::Publish { now: at(1), buckets: 0 }).then_refused(ConcertError::Cancelled);
    given(cancelled()).when(ConcertCommand::Cancel).then_refused(ConcertError::Cancelled);
    given(cancelled()).when(hold(1, REGULAR, 1, 1)).then_refused(ConcertError::Cancelled);
}

// --- Schedule --------------------------------------------------------------

#[test]
fn a_draft_is_scheduled() {
    let command = ConcertCommand::Schedule { starts_at: at(STARTS), ends_at: at(ENDS), now: at(0) };
    let concert = given([created(100)]).when(command).then([scheduled()]);
    assert_eq!(concert.schedule(), Some(Schedule { starts_at: at(STARTS), ends_at: at(ENDS) }));
}

#[test]
fn a_schedule_must_end_after_it_starts_and_not_last_too_long() {
    let schedule = |from, to| ConcertCommand::Schedule { starts_at: at(from), ends_at: at(to), now: at(0) };
    given([created(100)]).when(schedule(100, 100)).then_refused(ConcertError::EndsBeforeItStarts);
    given([created(100)]).when(schedule(100, 50)).then_refused(ConcertError::EndsBeforeItStarts);
    let too_long = 100 + limits::CONCERT_DURATION_DAYS_MAX * 24 * 60 + 1;
    given([created(100)]).when(schedule(100, too_long)).then_refused(ConcertError::TooLong);
}

#[test]
fn a_concert_cannot_be_scheduled_in_the_past() {
    let command = ConcertCommand::Schedule { starts_at: at(10), ends_at: at(100), now: at(10) };
    given([created(100)]).when(command).then_refused(ConcertError::StartsInThePast);
}

#[test]
fn a_published_concert_is_rescheduled_until_it_starts() {
    let command = |now| ConcertCommand::Schedule { starts_at: at(3_000), ends_at: at(3_100), now: at(now) };
    given(on_sale())
        .when(command(STARTS - 1))
        .then([ConcertEvent::Scheduled { starts_at: at(3_000), ends_at: at(3_100) }]);
    given(on_sale()).when(command(STARTS)).then_refused(ConcertError::AlreadyStarted { starts_at: at(STARTS) });
}

// --- Ticket types ----------------------------------------------------------

#[test]
fn a_ticket_type_is_added_to_a_draft() {
    let concert =
        given([created(100)]).when(add_type(REGULAR, eur(2_500), 60)).then([type_added(REGULAR, eur(2_500), 60)]);
    assert_eq!(inventory(&concert, REGULAR), (0, 0, 60));
}

#[test]
fn free_tickets_are_allowed() {
    given([created(100)]).when(add_type(REGULAR, eur(0), 10)).then([type_added(REGULAR, eur(0), 10)]);
}

#[test]
fn ticket_types_fit_in_the_venue_together() {
    given([created(100), type_added(REGULAR, eur(1), 60)]).when(add_type(VIP, eur(1), 40)).then([type_added(
        VIP,
        eur(1),
        40,
    )]);
    given([created(100), type_added(REGULAR, eur(1), 60)])
        .when(add_type(VIP, eur(1), 41))
        .then_refused(ConcertError::CapacityExceeded { capacity: 100, requested: 101 });
}

#[test]
fn a_ticket_type_id_is_used_once() {
    given([created(100), type_added(REGULAR, eur(1), 10)])
        .when(add_type(REGULAR, eur(1), 10))
        .then_refused(ConcertError::TicketTypeExists(ticket_type(REGULAR)));
}

#[test]
fn a_concert_offers_a_bounded_number_of_ticket_types() {
    let mut history = vec![created(1_000)];
    for n in 0..limits::TICKET_TYPES_PER_CONCERT_MAX as u128 {
        history.push(type_added(1_000 + n, eur(1), 1));
    }
    given(history).when(add_type(REGULAR, eur(1), 1)).then_refused(ConcertError::TooManyTicketTypes);
}

#[test]
fn a_ticket_price_is_bounded_and_in_the_concerts_currency() {
    given([created(100)])
        .when(add_type(REGULAR, eur(limits::TICKET_PRICE_MINOR_UNITS_MAX + 1), 1))
        .then_refused(ConcertError::PriceTooHigh);
    given([created(100), type_added(REGULAR, eur(1), 10)])
        .when(add_type(VIP, usd(1), 1))
        .then_refused(ConcertError::CurrencyMismatch { expected: eur(0).currency, actual: usd(0).currency });
}

#[test]
fn ticket_types_are_not_added_after_publishing() {
    given(on_sale()).when(add_type(3, eur(1), 1)).then_refused(ConcertError::NotDraft);
}

#[test]
fn an_unused_ticket_type_is_removed() {
    let concert = given(ready_draft())
        .when(ConcertCommand::RemoveTicketType { ticket_type_id: ticket_type(VIP) })
        .then([ConcertEvent::TicketTypeRemoved { ticket_type_id: ticket_type(VIP) }]);
    assert_eq!(concert.ticket_types().len(), 1);
    given(on_sale())
        .when(ConcertCommand::RemoveTicketType { ticket_type_id: ticket_type(VIP) })
        .then([ConcertEvent::TicketTypeRemoved { ticket_type_id: ticket_type(VIP) }]);
}

#[test]
fn removing_an_unknown_ticket_type_is_refused() {
    given(ready_draft())
        .when(ConcertCommand::RemoveTicketType { ticket_type_id: ticket_type(3) })
        .then_refused(ConcertError::TicketTypeNotFound(ticket_type(3)));
}

#[test]
fn a_ticket_type_with_held_or_sold_tickets_is_not_removed() {
    let remove = || ConcertCommand::RemoveTicketType { ticket_type_id: ticket_type(VIP) };
    given(with(on_sale(), [held(1, VIP, 2, 0)])).when(remove()).then_refused(ConcertError::TicketTypeInUse {
        ticket_type_id: ticket_type(VIP),
        held: 2,
        sold: 0,
    });
    let sold = ConcertEvent::TicketsSold {
        order_id: id(9),
        holds: vec![SoldHold { hold_id: hold_id(1), ticket_type_id: ticket_type(VIP), quantity: quantity(2) }],
        sold_at: at(1),
    };
    given(with(on_sale(), [held(1, VIP, 2, 0), sold])).when(remove()).then_refused(ConcertError::TicketTypeInUse {
        ticket_type_id: ticket_type(VIP),
        held: 0,
        sold: 2,
    });
}

#[test]
fn a_published_concert_keeps_its_last_ticket_type() {
    let history = with(on_sale(), [ConcertEvent::TicketTypeRemoved { ticket_type_id: ticket_type(VIP) }]);
    given(history)
        .when(ConcertCommand::RemoveTicketType { ticket_type_id: ticket_type(REGULAR) })
        .then_refused(ConcertError::LastTicketType);
}

// --- Publish and cancel ----------------------------------------------------

#[test]
fn a_ready_draft_is_published() {
    let concert = given(ready_draft())
        .when(ConcertCommand::Publish { now: at(5), buckets: 0 })
        .then([ConcertEvent::Published { published_at: at(5), buckets: 0 }]);
    assert_eq!(concert.status(), ConcertStatus::Published);
    assert!(concert.is_on_sale(at(5)));
}

#[test]
fn publishing_needs_a_draft_a_future_schedule_and_a_ticket_type() {
    given(on_sale()).when(ConcertCommand::Publish { now: at(5), buckets: 0 }).then_refused(ConcertError::NotDraft);
    given([created(100), type_added(REGULAR, eur(1), 1)])
        .when(ConcertCommand::Publish { now: at(5), buckets: 0 })
        .then_refused(ConcertError::NotScheduled);
    given(ready_draft())
        .when(ConcertCommand::Publish { now: at(STARTS), buckets: 0 })
        .then_refused(ConcertError::AlreadyStarted { starts_at: at(STARTS) });
    given([created(100), scheduled()])
        .when(ConcertCommand::Publish { now: at(5), buckets: 0 })
        .then_refused(ConcertError::NoTicketTypes);
}

#[test]
fn drafts_and_published_concerts_are_cancelled() {
    let concert = given(ready_draft()).when(ConcertCommand::Cancel).then([ConcertEvent::Cancelled {}]);
    assert_eq!(concert.status(), ConcertStatus::Cancelled);
    given(on_sale()).when(ConcertCommand::Cancel).then([ConcertEvent::Cancelled {}]);
}

// --- Holds -----------------------------------------------------------------

#[test]
fn tickets_are_held_for_a_cart() {
    let concert = given(on_sale()).when(hold(1, REGULAR, 4, 10)).then([held(1, REGULAR, 4, 10)]);
    assert_eq!(inventory(&concert, REGULAR), (4, 0, 46));
    let live = concert.holds().get(&hold_id(1)).copied();
    assert_eq!(live.map(|hold| (hold.cart_id, hold.quantity)), Some((cart(1), quantity(4))));
}

#[test]
fn tickets_are_held_only_while_the_concert_is_on_sale() {
    given(ready_draft()).when(hold(1, REGULAR, 1, 10)).then_refused(ConcertError::NotOnSale);
    given(on_sale())
        .when(hold(1, REGULAR, 1, STARTS))
        .then_refused(ConcertError::AlreadyStarted { starts_at: at(STARTS) });
}

#[test]
fn a_hold_expires_after_it_is_made_and_within_the_hold_limit() {
    let request = |expires| {
        ConcertCommand::HoldTickets(HoldRequest {
            cart_id: cart(1),
            hold_id: hold_id(1),
            ticket_type_id: ticket_type(REGULAR),
            quantity: quantity(1),
            now: at(10),
            expires_at: at(expires),
        })
    };
    given(on_sale()).when(request(10)).then_refused(ConcertError::HoldExpiresInThePast);
    given(on_sale()).when(request(11 + limits::HOLD_MINUTES)).then_refused(ConcertError::HoldTooLong);
}

#[test]
fn one_hold_takes_at_most_the_purchase_limit() {
    let limit = limits::TICKETS_PER_CONCERT_PER_PURCHASE_MAX;
    given(on_sale()).when(hold(1, REGULAR, limit, 10)).then([held(1, REGULAR, limit, 10)]);
    given(on_sale())
        .when(hold(1, REGULAR, limit + 1, 10))
        .then_refused(ConcertError::TooManyTicketsPerPurchase { requested: limit + 1 });
}

#[test]
fn a_hold_id_is_used_once() {
    given(with(on_sale(), [held(1, REGULAR, 1, 0)]))
        .when(hold(1, VIP, 1, 10))
        .then_refused(ConcertError::HoldExists(hold_id(1)));
}

#[test]
fn holding_an_unknown_ticket_type_is_refused() {
    given(on_sale()).when(hold(1, 3, 1, 10)).then_refused(ConcertError::TicketTypeNotFound(ticket_type(3)));
}

#[test]
fn tickets_beyond_what_is_available_are_not_held() {
    let history = with(on_sale(), [held(1, VIP, 8, 0)]);
    given(history.clone()).when(hold(2, VIP, 2, 10)).then([held(2, VIP, 2, 10)]);
    given(history).when(hold(2, VIP, 3, 10)).then_refused(ConcertError::NotEnoughTickets {
        ticket_type_id: ticket_type(VIP),
        available: 2,
        requested: 3,
    });
}

#[test]
fn a_released_hold_makes_its_tickets_available_again() {
    let concert =
        given(with(on_sale(), [held(1, VIP, 8, 0)])).when(ConcertCommand::ReleaseHold { hold_id: hold_id(1) }).then([
            ConcertEvent::HoldReleased { hold_id: hold_id(1), ticket_type_id: ticket_type(VIP), quantity: quantity(8) },
        ]);
    assert_eq!(inventory(&concert, VIP), (0, 0, 10));
    assert!(concert.holds().is_empty());
}

#[test]
fn releasing_an_unknown_or_settled_hold_is_refused() {
    given(on_sale())
        .when(ConcertCommand::ReleaseHold { hold_id: hold_id(1) })
        .then_refused(ConcertError::HoldNotFound(hold_id(1)));
    let released =
        ConcertEvent::HoldReleased { hold_id: hold_id(1), ticket_type_id: ticket_type(VIP), quantity: quantity(1) };
    given(with(on_sale(), [held(1, VIP, 1, 0), released]))
        .when(ConcertCommand::ReleaseHold { hold_id: hold_id(1) })
        .then_refused(ConcertError::HoldNotFound(hold_id(1)));
}

#[test]
fn a_hold_expires_only_once_it_has_run_out() {
    let history = || with(on_sale(), [held(1, VIP, 3, 0)]);
    given(history())
        .when(ConcertCommand::ExpireHold { hold_id: hold_id(1), now: at(limits::HOLD_MINUTES - 1) })
        .then_refused(ConcertError::HoldNotExpired { hold_id: hold_id(1), expires_at: at(limits::HOLD_MINUTES) });
    let concert = given(history())
        .when(ConcertCommand::ExpireHold { hold_id: hold_id(1), now: at(limits::HOLD_MINUTES) })
        .then([ConcertEvent::HoldExpired {
            hold_id: hold_id(1),
            ticket_type_id: ticket_type(VIP),
            quantity: quantity(3),
        }]);
    assert_eq!(inventory(&concert, VIP), (0, 0, 10));
}

#[test]
fn expiring_an_unknown_hold_is_refused() {
    given(on_sale())
        .when(ConcertCommand::ExpireHold { hold_id: hold_id(1), now: at(100) })
        .then_refused(ConcertError::HoldNotFound(hold_id(1)));
}

#[test]
fn holds_of_a_cancelled_concert_can_still_be_released_and_expired() {
    let history = || with(on_sale(), [held(1, VIP, 3, 0), ConcertEvent::Cancelled {}]);
    given(history()).when(ConcertCommand::ReleaseHold { hold_id: hold_id(1) }).then([ConcertEvent::HoldReleased {
        hold_id: hold_id(1),
        ticket_type_id: ticket_type(VIP),
        quantity: quantity(3),
    }]);
    given(history()).when(ConcertCommand::ExpireHold { hold_id: hold_id(1), now: at(100) }).then([
        ConcertEvent::HoldExpired { hold_id: hold_id(1), ticket_type_id: ticket_type(VIP), quantity: quantity(3) },
    ]);
}

// --- Sales -----------------------------------------------------------------

fn sell(holds: &[u128], now: i64) -> ConcertCommand {
    ConcertCommand::SellHeldTickets {
        hold_ids: holds.iter().map(|&n| hold_id(n)).collect(),
        order_id: id(9),
        now: at(now),
    }
}

#[test]
fn live_holds_are_sold_to_an_order() {
    let history = with(on_sale(), [held(1, VIP, 3, 0), held(2, REGULAR, 2, 0), held(3, VIP, 1, 0)]);
    let concert = given(history).when(sell(&[1, 2], 5)).then([ConcertEvent::TicketsSold {
        order_id: id(9),
        holds: vec![
            SoldHold { hold_id: hold_id(1), ticket_type_id: ticket_type(VIP), quantity: quantity(3) },
            SoldHold { hold_id: hold_id(2), ticket_type_id: ticket_type(REGULAR), quantity: quantity(2) },
        ],
        sold_at: at(5),
    }]);
    assert_eq!(inventory(&concert, VIP), (1, 3, 6));
    assert_eq!(inventory(&concert, REGULAR), (0, 2, 48));
    assert_eq!(concert.holds().keys().copied().collect::<Vec<_>>(), vec![hold_id(3)]);
}

#[test]
fn expired_unknown_or_repeated_holds_are_not_sold() {
    let history = || with(on_sale(), [held(1, VIP, 3, 0), held(2, VIP, 1, 10)]);
    given(history())
        .when(sell(&[2, 1], limits::HOLD_MINUTES))
        .then_refused(ConcertError::HoldExpired { hold_id: hold_id(1), expires_at: at(limits::HOLD_MINUTES) });
    given(history()).when(sell(&[1, 4], 5)).then_refused(ConcertError::HoldNotFound(hold_id(4)));
    given(history()).when(sell(&[1, 1], 5)).then_refused(ConcertError::DuplicateHold(hold_id(1)));
    given(history()).when(sell(&[], 5)).then_refused(ConcertError::NoHolds);
}

#[test]
fn a_sold_hold_cannot_be_sold_released_or_expired_again() {
    let history = || with(on_sale(), [held(1, VIP, 3, 0)]);
    let sold = given(history()).when(sell(&[1], 5)).then([ConcertEvent::TicketsSold {
        order_id: id(9),
        holds: vec![SoldHold { hold_id: hold_id(1), ticket_type_id: ticket_type(VIP), quantity: quantity(3) }],
        sold_at: at(5),
    }]);
    for command in [
        sell(&[1], 6),
        ConcertCommand::ReleaseHold { hold_id: hold_id(1) },
        ConcertCommand::ExpireHold { hold_id: hold_id(1), now: at(100) },
    ] {
        assert_eq!(sold.decide(&command), Err(ConcertError::HoldNotFound(hold_id(1))));
    }
}

#[test]
fn a_cancelled_concert_sells_nothing() {
    given(with(on_sale(), [held(1, VIP, 3, 0), ConcertEvent::Cancelled {}]))
        .when(sell(&[1], 5))
        .then_refused(ConcertError::Cancelled);
}

#[test]
fn every_refusal_has_the_kind_the_api_maps() {
    assert_eq!(ConcertError::NotFound.kind(), RefusalKind::NotFound);
    assert_eq!(ConcertError::HoldNotFound(hold_id(1)).kind(), RefusalKind::NotFound);
    assert_eq!(ConcertError::TicketTypeNotFound(ticket_type(1)).kind(), RefusalKind::NotFound);
    let short = ConcertError::NotEnoughTickets { ticket_type_id: ticket_type(1), available: 0, requested: 1 };
    assert_eq!(short.kind(), RefusalKind::Conflict);
    assert_eq!(ConcertError::NotDraft.kind(), RefusalKind::Conflict);
    assert_eq!(ConcertError::CapacityExceeded { capacity: 1, requested: 2 }.kind(), RefusalKind::Invalid);
    assert_eq!(ConcertError::EndsBeforeItStarts.kind(), RefusalKind::Invalid);
}

// --- Property: the inventory invariant under random commands --------------

/// A xorshift64* generator: deterministic, so a failure reproduces.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

fn assert_inventory_consistent(concert: &Concert) {
    for ticket_type in concert.ticket_types() {
        assert!(ticket_type.held + ticket_type.sold <= ticket_type.quantity.get(), "{ticket_type:?}");
        let held_by_holds: u32 = concert
            .holds()
            .values()
            .filter(|hold| hold.ticket_type_id == ticket_type.id)
            .map(|hold| hold.quantity.get())
            .sum();
        assert_eq!(ticket_type.held, held_by_holds, "held count drifted from the live holds");
    }
}

/// A known live hold most of the time, sometimes an unknown one, so that
/// the refusals are exercised too.
fn pick_hold(random: &mut Xorshift, concert: &Concert) -> HoldId {
    let known: Vec<HoldId> = concert.holds().keys().copied().collect();
    if known.is_empty() || random.below(10) == 0 {
        return hold_id(u128::from(random.below(1_000)) + 5_000_000);
    }
    known[random.below(known.len() as u64) as usize]
}

fn random_command(random: &mut Xorshift, concert: &Concert, step: u128, now: i64) -> ConcertCommand {
    match random.below(100) {
        0..=49 => {
            let ticket = if random.below(2) == 0 { REGULAR } else { VIP };
            // Up to 12, so the per-purchase limit refuses some.
            hold(step + 1_000_000, ticket, random.below(12) as u32 + 1, now)
        }
        50..=64 => ConcertCommand::ReleaseHold { hold_id: pick_hold(random, concert) },
        65..=84 => ConcertCommand::ExpireHold { hold_id: pick_hold(random, concert), now: at(now) },
        _ => {
            let count = random.below(3) as usize + 1;
            let hold_ids = (0..count).map(|_| pick_hold(random, concert)).collect();
            ConcertCommand::SellHeldTickets { hold_ids, order_id: id(step), now: at(now) }
        }
    }
}

#[test]
fn random_holds_releases_expiries_and_sales_never_oversell() {
    let (mut accepted, mut refused) = (0, 0);
    for seed in 1..=8_u64 {
        let mut random = Xorshift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut concert = Concert::default();
        let history = [
            created(1_000),
            type_added(REGULAR, eur(2_500), 700),
            type_added(VIP, eur(9_000), 300),
            scheduled(),
            ConcertEvent::Published { published_at: at(0), buckets: 0 },
        ];
        for event in history {
            concert.evolve(&event);
        }
        let mut sold_total = 0_u64;
        for step in 0..2_500_u128 {
            // Time moves forward a minute every four commands: holds run out
            // after about sixty commands, before the concert starts.
            let now = (step / 4) as i64;
            let command = random_command(&mut random, &concert, step, now);
            let before = concert.clone();
            match concert.decide(&command) {
                Ok(events) => {
                    accepted += 1;
                    for event in &events {
                        if let ConcertEvent::TicketsSold { holds, .. } = event {
                            sold_total += holds.iter().map(|hold| u64::from(hold.quantity.get())).sum::<u64>();
                        }
                        concert.evolve(event);
                    }
                }
                Err(_) => {
                    refused += 1;
                    assert_eq!(concert, before, "a refused command changed the state");
                }
            }
            assert_inventory_consistent(&concert);
            let sold: u64 = concert.ticket_types().iter().map(|ticket_type| u64::from(ticket_type.sold)).sum();
            assert_eq!(sold, sold_total, "the sold counts are the sum of the sales");
        }
        assert!(sold_total > 0, "seed {seed} sold nothing");
    }
    assert!(accepted > 5_000 && refused > 1_000, "both paths exercised: {accepted} accepted, {refused} refused");
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "held + sold exceeds the quantity")]
fn evolving_an_oversold_inventory_trips_the_debug_assertion() {
    // Events are facts decided against the state, so this cannot come from
    // `decide`; a corrupted or mis-ordered log would, and must not go unseen.
    let mut concert = Concert::default();
    for event in with(on_sale(), [held(1, VIP, 8, 0), held(2, VIP, 8, 0)]) {
        concert.evolve(&event);
    }
}

// --- Schema ----------------------------------------------------------------

#[test]
fn every_event_has_a_stable_json_shape() {
    const TYPE_1: &str = "00000000-0000-0000-0000-000000000065";
    let examples = [
        (
            created(100),
            "ConcertCreated",
            r#"{"name":"Night of the Bash","venueId":"00000000-0000-0000-0000-000000000007","venueCapacity":100,"description":null,"genre":"Jazz","imageUrl":null}"#.to_owned(),
        ),
        (
            ConcertEvent::DetailsUpdated {
                name: Some(name("Renamed")),
                profile: ConcertProfile {
                    image_url: Some(WebUrl::new("https://img.example/poster.jpg").expect("valid")),
                    ..ConcertProfile::default()
                },
            },
            "ConcertDetailsUpdated",
            r#"{"name":"Renamed","description":null,"genre":null,"imageUrl":"https://img.example/poster.jpg"}"#.to_owned(),
        ),
        (scheduled(), "ConcertScheduled", r#"{"startsAt":"2030-01-01T16:40:00Z","endsAt":"2030-01-01T20:00:00Z"}"#.to_owned()),
        (
            type_added(REGULAR, eur(2_500), 50),
            "TicketTypeAdded",
            format!(r#"{{"ticketTypeId":"{TYPE_1}","name":"Regular","price":{{"amount":2500,"currency":"EUR"}},"quantity":50}}"#),
        ),
        (
            ConcertEvent::TicketTypeRemoved { ticket_type_id: ticket_type(REGULAR) },
            "TicketTypeRemoved",
            format!(r#"{{"ticketTypeId":"{TYPE_1}"}}"#),
        ),
        (ConcertEvent::Published { published_at: at(0), buckets: 0 }, "ConcertPublished", r#"{"publishedAt":"2030-01-01T00:00:00Z"}"#.to_owned()),
        (ConcertEvent::Cancelled {}, "ConcertCancelled", "{}".to_owned()),
        (
            held(1, REGULAR, 2, 0),
            "TicketsHeld",
            format!(
                r#"{{"holdId":"00000000-0000-0000-0000-000000000001","cartId":"00000000-0000-0000-0000-000000000001","ticketTypeId":"{TYPE_1}","quantity":2,"expiresAt":"2030-01-01T00:15:00Z"}}"#
            ),
        ),
        (
            ConcertEvent::HoldReleased { hold_id: hold_id(1), ticket_type_id: ticket_type(REGULAR), quantity: quantity(2) },
            "TicketHoldReleased",
            format!(r#"{{"holdId":"00000000-0000-0000-0000-000000000001","ticketTypeId":"{TYPE_1}","quantity":2}}"#),
        ),
        (
            ConcertEvent::HoldExpired { hold_id: hold_id(1), ticket_type_id: ticket_type(REGULAR), quantity: quantity(2) },
            "TicketHoldExpired",
            format!(r#"{{"holdId":"00000000-0000-0000-0000-000000000001","ticketTypeId":"{TYPE_1}","quantity":2}}"#),
        ),
        (
            ConcertEvent::TicketsSold {
                order_id: id(9),
                holds: vec![SoldHold { hold_id: hold_id(1), ticket_type_id: ticket_type(REGULAR), quantity: quantity(2) }],
                sold_at: at(5),
            },
            "TicketsSold",
            format!(
                r#"{{"orderId":"00000000-0000-0000-0000-000000000009","holds":[{{"holdId":"00000000-0000-0000-0000-000000000001","ticketTypeId":"{TYPE_1}","quantity":2}}],"soldAt":"2030-01-01T00:05:00Z"}}"#
            ),
        ),
        (
            ConcertEvent::HoldsAwaitingPayment { order_id: id(9), hold_ids: vec![hold_id(1)], until: at(15) },
            "TicketHoldsAwaitingPayment",
            r#"{"orderId":"00000000-0000-0000-0000-000000000009","holdIds":["00000000-0000-0000-0000-000000000001"],"until":"2030-01-01T00:15:00Z"}"#.to_owned(),
        ),
    ];
    assert_eq!(examples.len(), CONCERT_EVENT_TYPES.len(), "one example per event type");
    for (event, event_type, json) in examples {
        assert_eq!(event.event_type(), event_type);
        assert_eq!(event.encode().expect("encodes"), json, "{event_type}");
        assert_eq!(ConcertEvent::decode(event_type, &json).expect("decodes"), event, "{event_type}");
    }
    assert!(matches!(ConcertEvent::decode("ConcertRenamed", "{}"), Err(CodecError::UnknownType(_))));
}

#[test]
fn the_state_survives_a_snapshot_round_trip() {
    let mut concert = Concert::default();
    for event in with(on_sale(), [held(1, VIP, 3, 0)]) {
        concert.evolve(&event);
    }
    let snapshot = serde_json::to_string(&concert).expect("serializes");
    assert_eq!(serde_json::from_str::<Concert>(&snapshot).expect("deserializes"), concert);
}
