//! One round: its commands decided in order on shared states, appended as
//! one, answered each with its own part of the commit; refusals confirmed on
//! the log's head, and conflicts sent back to run again.

use std::collections::HashSet;

use super::failure;
use super::member::{Queued, Tried};
use crate::decide::{Changes, Reads, Refreshed, States};
use crate::ids::AggregateId;
use crate::limits;
use crate::log::EventLog;
use crate::repository::{CommandContext, RepositoryError, Transaction};
use crate::store::{Appended, Commit};

/// Decides `members` in order on shared states, appends them as one, and
/// answers them; returns those that must run again, in order, and whether
/// the append met a conflict.
pub(super) async fn run_round<C, E, X>(
    context: &C,
    log: &EventLog,
    members: Vec<Queued<C, X>>,
) -> (Vec<Queued<C, X>>, bool)
where
    E: std::error::Error + Send + 'static,
    X: Clone + From<RepositoryError<E>>,
{
    let mut states = States::default();
    let mut batch = Transaction::new(&CommandContext::default());
    // With the aggregates each one wrote or checked: what its caller waits to see.
    let mut decided: Vec<(Queued<C, X>, Vec<AggregateId>)> = Vec::new();
    let mut refused: Vec<Queued<C, X>> = Vec::new();
    let mut again: Vec<Queued<C, X>> = Vec::new();
    // The ids the round carries: a second try of one of them (sent again
    // while the first waits) runs in the next round, where the log answers it.
    let mut ids = HashSet::new();
    let mut members = members.into_iter();
    while let Some(mut member) = members.next() {
        if let Some(id) = member.command_id()
            && ids.contains(&id)
        {
            again.push(member);
            continue;
        }
        match member.attempt(context, Reads::Shared(&states)).await {
            Tried::Changes(Some(changes)) if batch.aggregates() > 0 && !batch.fits_with(&changes.transaction) => {
                // Full: this one and the rest wait for the next round.
                again.push(member);
                again.extend(members.by_ref());
            }
            Tried::Changes(Some(Changes { transaction, states: after })) => {
                let own = transaction.aggregate_ids();
                match batch.absorb(transaction) {
                    Ok(()) => {
                        ids.extend(member.command_id());
                        states.extend(after);
                        decided.push((member, own));
                    }
                    Err(_) => retry_or_give_up::<C, E, X>(member, &mut again),
                }
            }
            // Changes nothing, but was decided on uncommitted states.
            Tried::Changes(None) => decided.push((member, Vec::new())),
            Tried::Refused => refused.push(member),
            Tried::Failed => member.fail(None),
        }
    }
    let (commands, events) = (decided.len(), batch.events());
    let committing = std::time::Instant::now();
    let appended = if events == 0 { Ok(None) } else { batch.append::<E>(log).await.map(Some) };
    let took = committing.elapsed();
    tracing::trace!(commands, events, refused = refused.len(), micros = took.as_micros(), "round");
    if events > 0 {
        metrics::histogram!(super::APPEND_DURATION).record(took.as_secs_f64());
        metrics::histogram!(super::ROUND_COMMANDS).record(commands as f64);
    }
    match appended {
        Ok(None) => answer_all(decided, None),
        Ok(Some(Appended::Committed(commit))) => {
            for (member, _) in &decided {
                member.committed_in(commands, took);
            }
            answer_all(decided, Some(&commit));
        }
        Ok(Some(Appended::AlreadyApplied(record))) => {
            // A repeat of a command that committed before (a retry that
            // decided the same way again): it gets its first result, and
            // nothing of the round was written, so the others run again.
            let mut repeat = None;
            for (member, _) in decided {
                match member.command_id() {
                    Some(id) if id == record.command_id && repeat.is_none() => repeat = Some(member),
                    _ => again.push(member),
                }
            }
            again.extend(refused);
            match repeat {
                Some(member) => member.answer_first(&record),
                None => {
                    for member in again.drain(..) {
                        member.fail(Some(failure::<E, X>("the log answered a command id no command of the round has")));
                    }
                }
            }
            return (again, false);
        }
        Err(RepositoryError::Conflict(_)) => {
            // Nothing was written; the conflicting states are marked stale.
            for member in decided.into_iter().map(|(member, _)| member).chain(refused) {
                retry_or_give_up::<C, E, X>(member, &mut again);
            }
            return (again, true);
        }
        Err(error) => {
            let error = X::from(error);
            for (member, _) in decided {
                member.fail(Some(error.clone()));
            }
        }
    }
    confirm_refusals::<C, E, X>(context, refused, &mut again).await;
    (again, false)
}

fn answer_all<C, X>(decided: Vec<(Queued<C, X>, Vec<AggregateId>)>, commit: Option<&Commit>) {
    for (member, own) in decided {
        member.answer(commit.and_then(|commit| own_part(commit, &own)));
    }
}

/// What of the round's `commit` a member wrote or checked: the round's
/// position (its events are in the same append) and the versions of `own`;
/// `None` when it touched nothing. A caller then waits to see its own
/// writes, not those of its round mates.
fn own_part(commit: &Commit, own: &[AggregateId]) -> Option<Commit> {
    if own.is_empty() {
        return None;
    }
    let versions = commit.versions.iter().filter(|(aggregate_id, _)| own.contains(aggregate_id)).copied().collect();
    Some(Commit { position: commit.position, versions })
}

/// Confirms each refusal on the log's head (each aggregate read once for
/// all of them); a command the head accepts runs again in the next round.
async fn confirm_refusals<C, E, X>(context: &C, refused: Vec<Queued<C, X>>, again: &mut Vec<Queued<C, X>>)
where
    E: std::error::Error + Send + 'static,
    X: Clone + From<RepositoryError<E>>,
{
    let refreshed = Refreshed::default();
    for mut member in refused {
        match member.attempt(context, Reads::Confirming(&refreshed)).await {
            Tried::Refused | Tried::Failed => member.fail(None),
            Tried::Changes(_) => retry_or_give_up::<C, E, X>(member, again),
        }
    }
}

fn retry_or_give_up<C, E, X>(mut member: Queued<C, X>, again: &mut Vec<Queued<C, X>>)
where
    E: std::error::Error + Send + 'static,
    X: From<RepositoryError<E>>,
{
    if member.conflicted() {
        again.push(member);
    } else {
        member.fail(Some(X::from(RepositoryError::TooManyConflicts(limits::COMMAND_ATTEMPTS_MAX))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Position, Version};

    #[test]
    fn a_member_sees_only_its_own_aggregates_of_the_round_at_the_rounds_position() {
        let (concert, mine, theirs) = (AggregateId::random(), AggregateId::random(), AggregateId::random());
        let round = Commit {
            position: Some(Position(42)),
            versions: vec![(concert, Version(9)), (mine, Version(2)), (theirs, Version(5))],
        };
        let part = own_part(&round, &[concert, mine]).expect("it wrote something");
        assert_eq!(part.position, Some(Position(42)));
        assert_eq!(part.versions, [(concert, Version(9)), (mine, Version(2))]);
        assert!(own_part(&round, &[]).is_none(), "a member that changed nothing waits for nothing");
    }
}
