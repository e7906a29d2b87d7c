//! What a batch of the index holds: runs of consecutive versions of one aggregate at consecutive positions
//! (`Span`s), their text in the item, and how a batch's positions are read back and kept within a batch's size.

use es_core::{AggregateId, Position, StoreError, Version};

use crate::items::{self, Item, attr};

/// Consecutive versions `from..=to` of one aggregate, at consecutive positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// The aggregate.
    pub aggregate_id: AggregateId,
    /// Its first version in the run.
    pub from: Version,
    /// Its last version in the run.
    pub to: Version,
}

impl Span {
    pub(super) fn len(&self) -> u64 {
        self.to.0 + 1 - self.from.0
    }
}

/// One item of the index table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Batch {
    pub(super) first: u64,
    pub(super) last: u64,
    pub(super) spans: Vec<Span>,
    pub(super) pending: bool,
}

impl Batch {
    pub(super) fn decode(item: &Item) -> Result<Self, StoreError> {
        let first = items::number(item, attr::FIRST)?;
        let last = items::number(item, attr::LAST)?;
        let spans = decode_spans(items::text(item, attr::SPANS)?)?;
        if spans.iter().map(Span::len).sum::<u64>() != last + 1 - first {
            return Err(StoreError::Corrupt(format!("index batch at {first}: its runs do not cover {first}..={last}")));
        }
        Ok(Self { first, last, spans, pending: item.contains_key(attr::PENDING) })
    }

    /// Each event of the batch with its position.
    pub(super) fn positioned(&self) -> Vec<(Position, AggregateId, Version)> {
        let mut events = Vec::with_capacity(usize::try_from(self.last + 1 - self.first).unwrap_or_default());
        let mut position = self.first;
        for span in &self.spans {
            for version in span.from.0..=span.to.0 {
                events.push((Position(position), span.aggregate_id, Version(version)));
                position += 1;
            }
        }
        events
    }
}

/// Runs as stored: `AggregateId:from:to`, joined by `,`.
pub(super) fn encode_spans(spans: &[Span]) -> String {
    let runs: Vec<String> =
        spans.iter().map(|span| format!("{}:{}:{}", span.aggregate_id, span.from, span.to)).collect();
    runs.join(",")
}

pub(super) fn decode_spans(text: &str) -> Result<Vec<Span>, StoreError> {
    text.split(',')
        .map(|run| {
            let corrupt = || StoreError::Corrupt(format!("index run {run:?} is not AggregateId:from:to"));
            let mut parts = run.split(':');
            let (Some(id), Some(from), Some(to), None) = (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(corrupt());
            };
            let span = Span {
                aggregate_id: id.parse().map_err(|_| corrupt())?,
                from: Version(from.parse().map_err(|_| corrupt())?),
                to: Version(to.parse().map_err(|_| corrupt())?),
            };
            if span.from.0 == 0 || span.to < span.from {
                return Err(corrupt());
            }
            Ok(span)
        })
        .collect()
}

/// Runs of consecutive versions of one aggregate, in the given order.
pub fn spans_of(events: impl IntoIterator<Item = (AggregateId, Version)>) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    for (aggregate_id, version) in events {
        match spans.last_mut() {
            Some(last) if last.aggregate_id == aggregate_id && last.to.next() == version => last.to = version,
            _ => spans.push(Span { aggregate_id, from: version, to: version }),
        }
    }
    spans
}

/// The first `max` events of `spans`, and the rest.
pub(super) fn split_spans(mut spans: Vec<Span>, max: u64) -> (Vec<Span>, Vec<Span>) {
    let mut taken = 0;
    for index in 0..spans.len() {
        let span = spans[index];
        if taken + span.len() > max {
            let mut rest = spans.split_off(index);
            let keep = max - taken;
            if keep > 0 {
                spans.push(Span { to: Version(span.from.0 + keep - 1), ..span });
                rest[0].from = Version(span.from.0 + keep);
            }
            return (spans, rest);
        }
        taken += span.len();
    }
    (spans, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::{n, s};

    fn span(aggregate_id: AggregateId, from: u64, to: u64) -> Span {
        Span { aggregate_id, from: Version(from), to: Version(to) }
    }

    #[test]
    fn runs_of_consecutive_versions_become_spans_in_the_order_given() {
        let (a, b) = (AggregateId::random(), AggregateId::random());
        let events = [(a, 1), (a, 2), (b, 4), (a, 3), (b, 5), (b, 6)].map(|(id, version)| (id, Version(version)));
        assert_eq!(spans_of(events), vec![span(a, 1, 2), span(b, 4, 4), span(a, 3, 3), span(b, 5, 6)]);
    }

    #[test]
    fn spans_round_trip_through_their_text_and_bad_text_is_corrupt() {
        let spans = vec![span(AggregateId::random(), 1, 3), span(AggregateId::random(), 7, 7)];
        assert_eq!(decode_spans(&encode_spans(&spans)).ok(), Some(spans));
        for bad in ["", "x:1:2", "00000000-0000-0000-0000-000000000000:0:2", "00000000-0000-0000-0000-000000000000:3:2"]
        {
            assert!(decode_spans(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_batch_positions_its_events_in_order_and_must_cover_its_range() {
        let (a, b) = (AggregateId::random(), AggregateId::random());
        let mut item = Item::new();
        item.insert(attr::FIRST.into(), n(10));
        item.insert(attr::LAST.into(), n(12));
        item.insert(attr::SPANS.into(), s(encode_spans(&[span(a, 4, 5), span(b, 1, 1)])));
        let batch = Batch::decode(&item).expect("decodes");
        let positioned = batch.positioned();
        assert_eq!(
            positioned,
            vec![(Position(10), a, Version(4)), (Position(11), a, Version(5)), (Position(12), b, Version(1))]
        );
        item.insert(attr::LAST.into(), n(13));
        assert!(Batch::decode(&item).is_err(), "three events cannot fill four positions");
    }

    #[test]
    fn splitting_spans_cuts_a_run_where_the_batch_is_full() {
        let (a, b) = (AggregateId::random(), AggregateId::random());
        let (head, rest) = split_spans(vec![span(a, 1, 3), span(b, 1, 5)], 5);
        assert_eq!(head, vec![span(a, 1, 3), span(b, 1, 2)]);
        assert_eq!(rest, vec![span(b, 3, 5)]);
        let (head, rest) = split_spans(vec![span(a, 1, 3)], 3);
        assert_eq!((head, rest), (vec![span(a, 1, 3)], vec![]));
    }
}
