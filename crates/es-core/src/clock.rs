//! Time as a port. The domain never reads a clock: time arrives inside
//! commands. The kernel stamps `Created` from a [`Clock`], and tests use a
//! [`ManualClock`] to move time by hand (hold expiry, "start from a time").

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

use crate::record::truncate_to_millis;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now, in UTC, at millisecond precision.
    fn now(&self) -> DateTime<Utc>;
}

/// The operating system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        truncate_to_millis(Utc::now())
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self { now: Mutex::new(truncate_to_millis(start)) }
    }

    /// Moves the clock forward (or backward, for a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().expect("clock mutex is never poisoned: no code panics while holding it");
        *now = truncate_to_millis(*now + by);
    }

    /// Sets the clock.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().expect("clock mutex is never poisoned: no code panics while holding it") =
            truncate_to_millis(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().expect("clock mutex is never poisoned: no code panics while holding it")
    }
}
