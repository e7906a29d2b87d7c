//! The rules of a bucket: what it sells, what it refuses, how its share
//! moves, and that its hold events are the concert's own.

use es_core::{CodecError, DomainEvent};

use super::*;
use crate::ids::BucketId;
use crate::scenario::Given;
use crate::scenario::fixtures::{at, eur, id, name, quantity};
use crate::{CartId, Concert, ConcertCommand, ConcertEvent, ConcertStatus, Quantity};

const REGULAR: u128 = 101;
const STARTS: i64 = 1_000;

fn given(history: impl IntoIterator<Item = BucketEvent>) -> Given<Bucket> {
    crate::scenario::given(history)
}

fn opened(share: u32) -> BucketEvent {
    BucketEvent::Change(BucketChange::Opened {
        concert_id: id(1),
        index: 0,
        starts_at: at(STARTS),
        stock: vec![Allotment { ticket_type_id: id(REGULAR), quantity: share }],
    })
}

fn request(hold: u128, count: u32) -> HoldRequest {
    HoldRequest {
        cart_id: id::<CartId>(50 + hold),
        hold_id: id(hold),
        ticket_type_id: id(REGULAR),
        quantity: quantity(count),
        now: at(10),
        expires_at: at(20),
    }
}

fn held(hold: u128, count: u32) -> BucketEvent {
    BucketEvent::Holds(ConcertEvent::TicketsHeld {
        hold_id: id(hold),
        cart_id: id(50 + hold),
        ticket_type_id: id(REGULAR),
        quantity: quantity(count),
        expires_at: at(20),
    })
}

fn state(history: &[BucketEvent]) -> Bucket {
    let mut bucket = Bucket::default();
    for event in history {
        bucket.evolve(event);
    }
    bucket
}

#[test]
fn shares_differ_by_at_most_one_and_add_up_to_the_quantity() {
    for quantity in [0_u32, 1, 7, 8, 9, 100, 250_000] {
        for buckets in 1..=crate::limits::BUCKETS_PER_CONCERT_MAX {
            let shares: Vec<u32> = (0..buckets).map(|index| share(quantity, buckets, index)).collect();
            assert_eq!(shares.iter().sum::<u32>(), quantity, "{quantity} over {buckets}");
            let (low, high) = (shares.iter().min(), shares.iter().max());
            assert!(high.zip(low).is_some_and(|(high, low)| high - low <= 1), "{shares:?}");
        }
    }
}

#[test]
fn a_published_concert_opens_each_bucket_with_its_share_of_every_ticket_type() {
    let mut concert = Concert::default();
    let history = [
        ConcertEvent::Created {
            name: name("Night of the Bash"),
            venue_id: id(7),
            venue_capacity: crate::Capacity::new(100).expect("valid"),
            profile: crate::ConcertProfile::default(),
        },
        ConcertEvent::TicketTypeAdded {
            ticket_type_id: id(REGULAR),
            name: name("Regular"),
            price: eur(2_500),
            quantity: quantity(10),
        },
        ConcertEvent::Scheduled { starts_at: at(STARTS), ends_at: at(STARTS + 100) },
    ];
    for event in &history {
        concert.evolve(event);
    }

    let openings = following(id(1), &concert, &ConcertCommand::Publish { now: at(0), buckets: 4 });

    assert_eq!(openings.len(), 4);
    let mut total = 0;
    for (index, (bucket_id, command)) in openings.iter().enumerate() {
        let index = u16::try_from(index).expect("few buckets");
        assert_eq!(*bucket_id, BucketId::of(id(1), index));
        let BucketCommand::Open { stock, starts_at, .. } = command else { panic!("not an opening: {command:?}") };
        assert_eq!(*starts_at, at(STARTS));
        total += stock.iter().map(|share| share.quantity).sum::<u32>();
    }
    assert_eq!(total, 10);
    assert!(following(id(1), &concert, &ConcertCommand::Cancel).is_empty(), "a draft has no buckets to close");
}

#[test]
fn a_bucket_holds_up_to_its_share_and_refuses_beyond() {
    given([opened(3)]).when(BucketCommand::Hold(request(1, 3))).then([held(1, 3)]);
    given([opened(3), held(1, 2)])
        .when(BucketCommand::Hold(request(2, 2)))
        .then_refused(ConcertError::NotEnoughTickets { ticket_type_id: id(REGULAR), available: 1, requested: 2 });
}

#[test]
fn a_bucket_sells_nothing_before_it_opens_after_it_closes_or_once_the_concert_started() {
    given([]).when(BucketCommand::Hold(request(1, 1))).then_refused(ConcertError::NotOnSale);
    let closed = [opened(3), BucketEvent::Change(BucketChange::Closed {})];
    given(closed.clone()).when(BucketCommand::Hold(request(1, 1))).then_refused(ConcertError::Cancelled);
    let late = HoldRequest { now: at(STARTS), expires_at: at(STARTS + 10), ..request(1, 1) };
    given([opened(3)])
        .when(BucketCommand::Hold(late))
        .then_refused(ConcertError::AlreadyStarted { starts_at: at(STARTS) });
    let moved = [opened(3), BucketEvent::Change(BucketChange::Rescheduled { starts_at: at(5) })];
    given(moved)
        .when(BucketCommand::Hold(request(1, 1)))
        .then_refused(ConcertError::AlreadyStarted { starts_at: at(5) });
}

#[test]
fn a_closed_bucket_still_gives_holds_back_but_sells_none() {
    let closed = [opened(3), held(1, 2), BucketEvent::Change(BucketChange::Closed {})];
    let released = ConcertEvent::HoldReleased { hold_id: id(1), ticket_type_id: id(REGULAR), quantity: quantity(2) };
    given(closed.clone()).when(BucketCommand::Release { hold_id: id(1) }).then([BucketEvent::Holds(released)]);
    given(closed)
        .when(BucketCommand::Sell { hold_ids: vec![id(1)], order_id: id(9), now: at(11) })
        .then_refused(ConcertError::Cancelled);
}

#[test]
fn moves_change_the_shares_but_never_take_held_or_sold_tickets() {
    let history = [opened(5), held(1, 4)];
    given(history.clone())
        .when(BucketCommand::MoveOut { ticket_type_id: id(REGULAR), quantity: 2, to: 1 })
        .then_refused(ConcertError::NothingToMove { ticket_type_id: id(REGULAR), available: 1, requested: 2 });
    let out = BucketChange::MovedOut { ticket_type_id: id(REGULAR), quantity: 1, to: 1 };
    given(history.clone())
        .when(BucketCommand::MoveOut { ticket_type_id: id(REGULAR), quantity: 1, to: 1 })
        .then([BucketEvent::Change(out.clone())]);

    let mut bucket = state(&history);
    bucket.evolve(&BucketEvent::Change(out));
    bucket.evolve(&BucketEvent::Change(BucketChange::MovedIn { ticket_type_id: id(REGULAR), quantity: 6, from: 2 }));
    let stock = bucket.stock_of(id(REGULAR)).copied();
    assert_eq!(stock.map(|stock| (stock.quantity, stock.held, stock.available())), Some((10, 4, 6)));
}

#[test]
fn a_ticket_type_is_withdrawn_only_while_none_of_its_tickets_are_held_or_sold() {
    let withdraw = BucketCommand::Withdraw { ticket_type_id: id(REGULAR) };
    given([opened(3)])
        .when(withdraw.clone())
        .then([BucketEvent::Change(BucketChange::TicketTypeWithdrawn { ticket_type_id: id(REGULAR) })]);
    given([opened(3), held(1, 1)]).when(withdraw).then_refused(ConcertError::TicketTypeInUse {
        ticket_type_id: id(REGULAR),
        held: 1,
        sold: 0,
    });
}

#[test]
fn moves_for_take_from_the_fullest_buckets_and_give_up_when_all_together_lack() {
    let bucket = |share: u32| state(&[opened(share)]);
    let (zero, one, two, three) = (bucket(1), bucket(4), bucket(2), bucket(0));
    let buckets = [(0, &zero), (1, &one), (2, &two), (3, &three)];

    assert_eq!(moves_for(&buckets, 0, id(REGULAR), 1, at(10)), Some(vec![]));
    assert_eq!(moves_for(&buckets, 0, id(REGULAR), 6, at(10)), Some(vec![(1, 4), (2, 1)]));
    assert_eq!(moves_for(&buckets, 3, id(REGULAR), 7, at(10)), Some(vec![(1, 4), (2, 2), (0, 1)]));
    assert_eq!(moves_for(&buckets, 3, id(REGULAR), 8, at(10)), None);
    assert_eq!(moves_for(&buckets, 3, id(REGULAR), 1, at(STARTS)), None, "nothing sells once it started");
}

#[test]
fn a_bucket_writes_its_holds_as_the_concert_does_and_reads_back_every_event() {
    let events = [
        opened(3),
        held(1, 2),
        BucketEvent::Change(BucketChange::MovedOut { ticket_type_id: id(REGULAR), quantity: 1, to: 1 }),
        BucketEvent::Change(BucketChange::MovedIn { ticket_type_id: id(REGULAR), quantity: 1, from: 2 }),
        BucketEvent::Change(BucketChange::Rescheduled { starts_at: at(900) }),
        BucketEvent::Change(BucketChange::TicketTypeWithdrawn { ticket_type_id: id(REGULAR) }),
        BucketEvent::Change(BucketChange::Closed {}),
    ];
    for event in &events {
        let data = event.encode().expect("encodes");
        assert_eq!(BucketEvent::decode(event.event_type(), &data).ok().as_ref(), Some(event));
    }
    let BucketEvent::Holds(concert_event) = &events[1] else { panic!("a hold event") };
    assert_eq!(events[1].event_type(), concert_event.event_type());
    assert_eq!(events[1].encode().ok(), concert_event.encode().ok(), "the concert's own encoding");
    assert!(matches!(BucketEvent::decode("ConcertCreated", "{}"), Err(CodecError::UnknownType(_))));
}

#[test]
fn a_concert_with_buckets_holds_nothing_itself() {
    let mut concert = Concert::default();
    for event in [
        ConcertEvent::Created {
            name: name("Night of the Bash"),
            venue_id: id(7),
            venue_capacity: crate::Capacity::new(100).expect("valid"),
            profile: crate::ConcertProfile::default(),
        },
        ConcertEvent::TicketTypeAdded {
            ticket_type_id: id(REGULAR),
            name: name("Regular"),
            price: eur(2_500),
            quantity: quantity(10),
        },
        ConcertEvent::Scheduled { starts_at: at(STARTS), ends_at: at(STARTS + 100) },
        ConcertEvent::Published { published_at: at(0), buckets: 4 },
    ] {
        concert.evolve(&event);
    }
    assert_eq!((concert.status(), concert.buckets()), (ConcertStatus::Published, 4));
    let request = HoldRequest { quantity: Quantity::new(1).expect("valid"), ..request(1, 1) };
    assert_eq!(concert.decide(&ConcertCommand::HoldTickets(request)), Err(ConcertError::SoldFromBuckets));
    let closes: Vec<_> = following(id(1), &concert, &ConcertCommand::Cancel).into_iter().map(|(id, _)| id).collect();
    assert_eq!(closes, (0..4).map(|index| BucketId::of(id(1), index)).collect::<Vec<_>>());
    let moved = following(id(1), &concert, &ConcertCommand::Schedule { starts_at: at(1), ends_at: at(2), now: at(0) });
    assert!(moved.iter().all(|(_, command)| *command == BucketCommand::Reschedule { starts_at: at(1) }));
    assert!(following(id(1), &concert, &ConcertCommand::UpdateDetails(Default::default())).is_empty());
}
