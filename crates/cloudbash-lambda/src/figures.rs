//! What the functions measure themselves, beside what the libraries count (commands, appends, holds expired, ...):
//! how far behind its source each consumer of a stream is, and events projected. A stream record carries when it reached its stream (Kinesis'
//! approximate arrival, DynamoDB's approximate creation), so a batch's lag is the time since its oldest record
//! arrived, read when the function gets the batch: what CloudWatch's IteratorAge says of the mapping, here per
//! consumer and beside the read side's other figures.

use chrono::{DateTime, Utc};

/// Seconds between a record's arrival on its stream and its consumer getting it (the oldest of a batch), by
/// `consumer`: `forwarder` and `indexer` on the events table's stream, `projector` on the bus. The pollers of a
/// container host report under the same name.
pub const BUS_CONSUMER_LAG_SECONDS: &str = es_aws_bus::CONSUMER_LAG;

/// Events of a bus batch every read model has taken (a replayed one counts again).
pub const PROJECTOR_EVENTS_TOTAL: &str = "cloudbash_projector_events_total";

/// Records the lag of a batch whose records arrived at `arrivals`, got at `now`; an empty batch has none. A clock
/// behind the stream's counts as no lag.
pub fn record_lag(consumer: &'static str, arrivals: impl IntoIterator<Item = DateTime<Utc>>, now: DateTime<Utc>) {
    if let Some(lag) = lag(arrivals, now) {
        metrics::gauge!(BUS_CONSUMER_LAG_SECONDS, "consumer" => consumer).set(lag);
    }
}

/// The seconds between the oldest of `arrivals` and `now`, never below zero.
pub fn lag(arrivals: impl IntoIterator<Item = DateTime<Utc>>, now: DateTime<Utc>) -> Option<f64> {
    let oldest = arrivals.into_iter().min()?;
    let behind = (now - oldest).to_std().unwrap_or_default();
    Some(behind.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    #[test]
    fn a_batch_is_as_far_behind_as_its_oldest_record_and_never_ahead() {
        let now = Utc::now();
        let arrivals = [now - TimeDelta::seconds(5), now - TimeDelta::milliseconds(90_500), now];
        assert_eq!(lag(arrivals, now), Some(90.5));
        assert_eq!(lag([now + TimeDelta::seconds(3)], now), Some(0.0), "a clock behind the stream's");
        assert_eq!(lag([], now), None);
    }
}
