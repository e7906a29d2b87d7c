//! A tiny given/when/then harness for aggregate tests: the history as
//! events, the command, and the events or refusal it must produce. Reads like
//! the business rule it tests, and checks that a refusal leaves the state
//! exactly as it was.

use std::fmt::Debug;

use es_core::Aggregate;

/// Starts a scenario from the aggregate's past events.
pub(crate) fn given<A: Aggregate>(history: impl IntoIterator<Item = A::Event>) -> Given<A> {
    let mut state = A::default();
    for event in history {
        state.evolve(&event);
    }
    Given { state }
}

/// The state built from the history.
pub(crate) struct Given<A> {
    state: A,
}

impl<A: Aggregate> Given<A> {
    /// Decides `command` on the state.
    pub(crate) fn when(self, command: A::Command) -> When<A> {
        let result = self.state.decide(&command);
        When { before: self.state, result }
    }

    /// The state itself, for tests of queries.
    pub(crate) fn state(self) -> A {
        self.state
    }
}

/// The outcome of a command.
pub(crate) struct When<A: Aggregate> {
    before: A,
    result: Result<Vec<A::Event>, A::Error>,
}

impl<A> When<A>
where
    A: Aggregate + PartialEq + Debug,
    A::Event: PartialEq + Debug,
    A::Error: PartialEq,
{
    /// Asserts the events, and returns the state after them.
    #[track_caller]
    pub(crate) fn then(self, expected: impl IntoIterator<Item = A::Event>) -> A {
        let expected: Vec<A::Event> = expected.into_iter().collect();
        match self.result {
            Ok(events) => {
                assert_eq!(events, expected);
                assert!(!events.is_empty(), "an accepted command must record something");
                let mut after = self.before;
                for event in &events {
                    after.evolve(event);
                }
                after
            }
            Err(error) => panic!("expected {expected:?}, the command was refused: {error}"),
        }
    }

    /// Asserts that the command is accepted and changes nothing: a step
    /// repeated (a provider's notification delivered again).
    #[track_caller]
    pub(crate) fn then_nothing(self) {
        match self.result {
            Ok(events) => assert!(events.is_empty(), "expected nothing, recorded {events:?}"),
            Err(error) => panic!("expected nothing, the command was refused: {error}"),
        }
    }

    /// Asserts the refusal.
    #[track_caller]
    pub(crate) fn then_refused(self, expected: A::Error) {
        match self.result {
            Ok(events) => panic!("expected the refusal {expected}, got {events:?}"),
            Err(error) => assert_eq!(error, expected, "refused for another reason: {error}"),
        }
    }
}

/// Small constructors that keep scenarios readable.
pub(crate) mod fixtures {
    use chrono::{DateTime, TimeDelta, TimeZone, Utc};
    use uuid::Uuid;

    use crate::values::{Currency, Money, Name, Quantity, TicketCode};

    /// `minutes` after an arbitrary, fixed instant (2030-01-01 00:00 UTC).
    pub(crate) fn at(minutes: i64) -> DateTime<Utc> {
        let origin = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single().expect("a valid date");
        origin + TimeDelta::minutes(minutes)
    }

    /// A deterministic id of any newtype.
    pub(crate) fn id<T: From<Uuid>>(n: u128) -> T {
        T::from(Uuid::from_u128(n))
    }

    pub(crate) fn eur(amount: u64) -> Money {
        Money::new(amount, Currency::new("EUR").expect("valid currency"))
    }

    pub(crate) fn usd(amount: u64) -> Money {
        Money::new(amount, Currency::new("USD").expect("valid currency"))
    }

    pub(crate) fn quantity(count: u32) -> Quantity {
        Quantity::new(count).expect("valid quantity")
    }

    pub(crate) fn name(text: &str) -> Name {
        Name::new(text).expect("valid name")
    }

    /// A valid ticket code numbered `n`.
    pub(crate) fn code(n: u32) -> TicketCode {
        TicketCode::new(format!("TICKET{n:010}")).expect("valid code")
    }
}
