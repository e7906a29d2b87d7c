//! A command inside the runner, its result type erased so that one round
//! holds commands of every kind: how it decides, and how its caller is
//! answered.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::oneshot;

use super::{Receipt, failure};
use crate::decide::{AttemptFuture, Changes, Reads};
use crate::ids::CommandId;
use crate::limits;
use crate::repository::RepositoryError;
use crate::store::{CommandRecord, Commit};

/// A command waiting for, or taking part in, a round.
pub(super) type Queued<C, X> = Box<dyn Member<C, X>>;

/// What one attempt of a queued command came to.
#[expect(clippy::large_enum_variant, reason = "short-lived, one per attempt: boxing would cost an allocation each")]
pub(super) enum Tried {
    /// Decided: what to append (`None`: nothing).
    Changes(Option<Changes>),
    /// Refused by the domain; the member keeps the refusal.
    Refused,
    /// Failed otherwise; the member keeps the error.
    Failed,
}

/// A command with its result type erased.
pub(super) trait Member<C, X>: Send {
    /// Decides, reading as `reads` says.
    fn attempt<'a>(&'a mut self, context: &'a C, reads: Reads<'a>) -> Pin<Box<dyn Future<Output = Tried> + Send + 'a>>;

    /// Its id, if it is idempotent.
    fn command_id(&self) -> Option<CommandId>;

    /// Answers the caller with the last decision's result and its part of
    /// the round's commit (`None`: it appended nothing).
    fn answer(self: Box<Self>, commit: Option<Commit>);

    /// Answers the caller with the first result stored under its id.
    fn answer_first(self: Box<Self>, record: &CommandRecord);

    /// Answers the caller with `error`, or with what its last attempt failed with.
    fn fail(self: Box<Self>, error: Option<X>);

    /// Counts one more decision that could not be appended; whether the
    /// command may still try again.
    fn conflicted(&mut self) -> bool;

    /// Notes, on the caller's span, the round the command committed in:
    /// how many commands it held and how long its append took.
    fn committed_in(&self, commands: usize, append: Duration);
}

pub(super) struct Typed<T, F, E, X> {
    pub(super) attempt: F,
    pub(super) receipt: Option<Receipt<T, X>>,
    pub(super) value: Option<T>,
    pub(super) error: Option<X>,
    pub(super) reply: oneshot::Sender<Result<(T, Option<Commit>), X>>,
    pub(super) conflicts: u32,
    /// The caller's span when it submitted the command: rounds run in
    /// another task, and note what they did here.
    pub(super) span: tracing::Span,
    pub(super) refusal: PhantomData<fn() -> E>,
}

impl<C, T, F, E, X> Member<C, X> for Typed<T, F, E, X>
where
    C: Sync,
    T: Send + 'static,
    F: for<'a> Fn(&'a C, Reads<'a>) -> AttemptFuture<'a, T, E> + Send + Sync + 'static,
    E: std::error::Error + Send + 'static,
    X: From<RepositoryError<E>> + Send + 'static,
{
    fn attempt<'a>(&'a mut self, context: &'a C, reads: Reads<'a>) -> Pin<Box<dyn Future<Output = Tried> + Send + 'a>> {
        Box::pin(async move {
            let decision = match (self.attempt)(context, reads).await {
                Ok(decision) => decision,
                Err(error) => {
                    let refused = matches!(error, RepositoryError::Rejected(_));
                    self.error = Some(X::from(error));
                    return if refused { Tried::Refused } else { Tried::Failed };
                }
            };
            let mut changes = decision.changes;
            if let (Some(receipt), Some(changes)) = (&self.receipt, &mut changes) {
                match (receipt.encode)(&decision.value) {
                    Ok(result) => changes.transaction.carry(CommandRecord { command_id: receipt.command_id, result }),
                    Err(error) => {
                        self.error = Some(X::from(RepositoryError::Codec(error)));
                        return Tried::Failed;
                    }
                }
            }
            self.value = Some(decision.value);
            self.error = None;
            Tried::Changes(changes)
        })
    }

    fn command_id(&self) -> Option<CommandId> {
        self.receipt.as_ref().map(|receipt| receipt.command_id)
    }

    fn answer(self: Box<Self>, commit: Option<Commit>) {
        let Typed { value, reply, .. } = *self;
        let result = match value {
            Some(value) => Ok((value, commit)),
            None => Err(failure::<E, X>("a command was answered before it was decided")),
        };
        // A caller that stopped waiting still had its command decided; it
        // finds the outcome in the log.
        let _ = reply.send(result);
    }

    fn answer_first(self: Box<Self>, record: &CommandRecord) {
        let Typed { receipt, reply, .. } = *self;
        let result = match receipt {
            Some(receipt) => (receipt.decode)(record).map(|value| (value, None)),
            None => Err(failure::<E, X>("a command without an id was answered as a repeat")),
        };
        let _ = reply.send(result);
    }

    fn fail(self: Box<Self>, error: Option<X>) {
        let Typed { error: last, reply, .. } = *self;
        let error = error.or(last).unwrap_or_else(|| failure::<E, X>("a command failed without an error"));
        let _ = reply.send(Err(error));
    }

    fn conflicted(&mut self) -> bool {
        self.conflicts += 1;
        self.span.record("conflicts", self.conflicts);
        metrics::counter!(super::COMMAND_CONFLICTS).increment(1);
        self.conflicts < limits::COMMAND_ATTEMPTS_MAX
    }

    fn committed_in(&self, commands: usize, append: Duration) {
        self.span.record("round", commands);
        self.span.record("append_ms", append.as_secs_f64() * 1e3);
    }
}
