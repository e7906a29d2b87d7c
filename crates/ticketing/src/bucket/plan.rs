//! What a concert's buckets must do beside a command on the concert (open, follow, close), how a ticket type's
//! quantity is shared among them, and which moves fill a bucket that ran dry: the plans the application layer puts
//! in the concert's append.

use chrono::{DateTime, Utc};

use super::{Allotment, Bucket, BucketCommand};
use crate::ids::{BucketId, ConcertId, TicketTypeId};
use crate::{Concert, ConcertCommand};

/// Bucket `index`'s share of `quantity` tickets split over `buckets`: the
/// shares differ by at most one and add up to `quantity` exactly.
pub fn share(quantity: u32, buckets: u16, index: u16) -> u32 {
    let buckets = u32::from(buckets.max(1));
    let index = u32::from(index);
    quantity / buckets + u32::from(index < quantity % buckets)
}

/// What the buckets of `concert` must do in the same append as `command`
/// on the concert, so that they never sell what the concert would refuse:
/// open with their shares on publication, follow a reschedule, drop a
/// withdrawn ticket type, close on cancellation. Empty for a concert without
/// buckets and for commands the buckets need not know.
pub fn following(concert_id: ConcertId, concert: &Concert, command: &ConcertCommand) -> Vec<(BucketId, BucketCommand)> {
    let each = |command: BucketCommand| {
        (0..concert.buckets()).map(|index| (BucketId::of(concert_id, index), command.clone())).collect()
    };
    match command {
        ConcertCommand::Publish { buckets, .. } => openings(concert_id, concert, *buckets),
        ConcertCommand::Schedule { starts_at, .. } => each(BucketCommand::Reschedule { starts_at: *starts_at }),
        ConcertCommand::RemoveTicketType { ticket_type_id } => {
            each(BucketCommand::Withdraw { ticket_type_id: *ticket_type_id })
        }
        ConcertCommand::Cancel => each(BucketCommand::Close),
        _ => Vec::new(),
    }
}

/// The commands that open the buckets of `concert` as it is published with
/// `buckets` buckets, each with its [`share`] of every ticket type.
/// Empty for a concert without a schedule (publishing refuses it anyway).
fn openings(concert_id: ConcertId, concert: &Concert, buckets: u16) -> Vec<(BucketId, BucketCommand)> {
    let Some(schedule) = concert.schedule() else {
        return Vec::new();
    };
    (0..buckets)
        .map(|index| {
            let stock = concert
                .ticket_types()
                .iter()
                .map(|ticket_type| Allotment {
                    ticket_type_id: ticket_type.id,
                    quantity: share(ticket_type.quantity.get(), buckets, index),
                })
                .collect();
            let open = BucketCommand::Open { concert_id, index, starts_at: schedule.starts_at, stock };
            (BucketId::of(concert_id, index), open)
        })
        .collect()
}

/// The moves that let bucket `target` hold `needed` tickets of a type:
/// `(giving bucket, how many)`, the buckets with the most to give first, so
/// that as few as possible take part. `None` when the buckets together have
/// fewer than that. `buckets` are the concert's buckets by index.
pub fn moves_for(
    buckets: &[(u16, &Bucket)],
    target: u16,
    ticket_type_id: TicketTypeId,
    needed: u32,
    now: DateTime<Utc>,
) -> Option<Vec<(u16, u32)>> {
    let has = buckets
        .iter()
        .find(|(index, _)| *index == target)
        .map_or(0, |(_, bucket)| bucket.available(ticket_type_id, now));
    let mut lacking = needed.saturating_sub(has);
    let mut givers: Vec<(u16, u32)> = buckets
        .iter()
        .filter(|(index, _)| *index != target)
        .map(|(index, bucket)| (*index, bucket.available(ticket_type_id, now)))
        .filter(|(_, available)| *available > 0)
        .collect();
    givers.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut moves = Vec::new();
    for (index, available) in givers {
        if lacking == 0 {
            break;
        }
        let take = available.min(lacking);
        moves.push((index, take));
        lacking -= take;
    }
    (lacking == 0).then_some(moves)
}
