//! Tests of the suite itself: a conformance case that passes on a broken
//! backend proves nothing. Each test here wraps the in-memory backend with
//! one deliberate fault (a lost version check, a non-atomic append, dropped
//! milliseconds, a silent commit signal, …) and insists that the cases meant
//! to guard against that fault fail on it.

use std::sync::Arc;

use chrono::{DateTime, Timelike, Utc};
use es_core::memory::{InMemoryEventStore, InMemorySnapshots};
use es_core::{
    AggregateId, AppendError, AppendRequest, Appended, CommandId, CommandRecord, EventStore, ExpectedVersion, Position,
    RecordedEvent, Snapshot, SnapshotStore, StoreError, Version, async_trait,
};
use es_testkit::{Backend, BackendFactory};
use tokio::sync::watch;

/// One way a backend can be wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// Appends whatever the expected version says.
    IgnoresExpectedVersion,
    /// Reports conflicts without the actual version.
    ConflictWithoutActual,
    /// Writes the members of an append one by one.
    NonAtomic,
    /// Reports an invalid append as a backend failure.
    InvalidAsStoreError,
    /// Stores `Created` to the second.
    DropsMilliseconds,
    /// Loses metadata.
    DropsMetadata,
    /// Returns one event less than asked for.
    ShortPages,
    /// Returns `read_all` pages in reverse.
    ReversedPages,
    /// Repeats the event at `after` in `read_all`.
    InclusiveAfter,
    /// Ignores `after` in `load`.
    LoadIgnoresAfter,
    /// Points at the first event at or after the time instead of before it.
    PositionBeforeOffByOne,
    /// Never stores command ids.
    ForgetsCommands,
    /// Stores only the first command id of an append.
    KeepsOneCommand,
    /// Answers a repeated command with the repeat's result.
    AnswersWithTheRepeat,
    /// Never announces commits.
    SilentCommits,
    /// Overwrites snapshots with older ones.
    SnapshotsMoveBack,
    /// Loses snapshots.
    ForgetsSnapshots,
}

struct FaultyStore {
    inner: InMemoryEventStore,
    fault: Fault,
    silence: watch::Sender<Position>,
}

fn to_seconds(time: DateTime<Utc>) -> DateTime<Utc> {
    time.with_nanosecond(0).expect("zero nanoseconds is valid")
}

impl FaultyStore {
    fn damage(&self, mut events: Vec<RecordedEvent>, limit: u32) -> Vec<RecordedEvent> {
        for event in &mut events {
            match self.fault {
                Fault::DropsMilliseconds => event.created = to_seconds(event.created),
                Fault::DropsMetadata => event.metadata = es_core::Metadata::default(),
                _ => {}
            }
        }
        if self.fault == Fault::ShortPages && limit > 1 && events.len() == limit as usize {
            events.pop();
        }
        events
    }
}

#[async_trait]
impl EventStore for FaultyStore {
    async fn append(&self, mut request: AppendRequest) -> Result<Appended, AppendError> {
        match self.fault {
            Fault::IgnoresExpectedVersion => {
                for stream in &mut request.streams {
                    stream.expected = ExpectedVersion::Any;
                }
            }
            Fault::ForgetsCommands => request.commands.clear(),
            Fault::KeepsOneCommand => request.commands.truncate(1),
            Fault::NonAtomic if request.streams.len() > 1 => {
                let mut last = None;
                for stream in request.streams {
                    let single = AppendRequest { streams: vec![stream], commands: Vec::new() };
                    last = Some(self.inner.append(single).await?);
                }
                return last.ok_or(AppendError::Invalid(es_core::InvalidAppend::Empty));
            }
            Fault::InvalidAsStoreError => {
                if let Err(invalid) = request.validate() {
                    return Err(AppendError::Store(StoreError::Unavailable(invalid.to_string())));
                }
            }
            _ => {}
        }
        let retry = request.commands.first().cloned();
        match self.inner.append(request).await {
            Err(AppendError::Conflict(mut conflict)) if self.fault == Fault::ConflictWithoutActual => {
                conflict.actual = Version::INITIAL;
                Err(conflict.into())
            }
            Ok(Appended::AlreadyApplied(_)) if self.fault == Fault::AnswersWithTheRepeat => {
                Ok(Appended::AlreadyApplied(retry.expect("only commands are already applied")))
            }
            other => other,
        }
    }

    async fn load(
        &self,
        aggregate_id: AggregateId,
        after: Version,
        limit: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let after = if self.fault == Fault::LoadIgnoresAfter { Version::INITIAL } else { after };
        Ok(self.damage(self.inner.load(aggregate_id, after, limit).await?, limit))
    }

    async fn read_all(&self, after: Position, limit: u32) -> Result<Vec<RecordedEvent>, StoreError> {
        let after = if self.fault == Fault::InclusiveAfter { Position(after.0.saturating_sub(1)) } else { after };
        let mut events = self.damage(self.inner.read_all(after, limit).await?, limit);
        if self.fault == Fault::ReversedPages {
            events.reverse();
        }
        Ok(events)
    }

    async fn position_before(&self, time: DateTime<Utc>) -> Result<Position, StoreError> {
        let position = self.inner.position_before(time).await?;
        Ok(if self.fault == Fault::PositionBeforeOffByOne { Position(position.0 + 1) } else { position })
    }

    async fn stored_command(&self, command_id: CommandId) -> Result<Option<CommandRecord>, StoreError> {
        self.inner.stored_command(command_id).await
    }

    async fn head(&self) -> Result<Position, StoreError> {
        self.inner.head().await
    }

    fn commits(&self) -> watch::Receiver<Position> {
        if self.fault == Fault::SilentCommits { self.silence.subscribe() } else { self.inner.commits() }
    }
}

struct FaultySnapshots {
    inner: InMemorySnapshots,
    fault: Fault,
    overwritten: std::sync::Mutex<std::collections::HashMap<(AggregateId, String), Snapshot>>,
}

#[async_trait]
impl SnapshotStore for FaultySnapshots {
    async fn load_snapshot(&self, aggregate_id: AggregateId, kind: &str) -> Result<Option<Snapshot>, StoreError> {
        match self.fault {
            Fault::SnapshotsMoveBack => {
                Ok(self.overwritten.lock().expect("not poisoned").get(&(aggregate_id, kind.to_owned())).cloned())
            }
            Fault::ForgetsSnapshots => Ok(None),
            _ => self.inner.load_snapshot(aggregate_id, kind).await,
        }
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        let key = (snapshot.aggregate_id, snapshot.kind.clone());
        self.overwritten.lock().expect("not poisoned").insert(key, snapshot.clone());
        self.inner.save_snapshot(snapshot).await
    }
}

struct FaultyFactory(Fault);

#[async_trait]
impl BackendFactory for FaultyFactory {
    async fn fresh(&self) -> Backend {
        Backend {
            store: Arc::new(FaultyStore {
                inner: InMemoryEventStore::new(),
                fault: self.0,
                silence: watch::Sender::new(Position::START),
            }),
            snapshots: Arc::new(FaultySnapshots {
                inner: InMemorySnapshots::default(),
                fault: self.0,
                overwritten: Default::default(),
            }),
            indexer: None,
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(message) => *message,
        Err(payload) => {
            payload.downcast::<&str>().map_or_else(|_| "(no message)".to_owned(), |message| (*message).to_owned())
        }
    }
}

/// A test that each listed case fails (panics) on a backend with the fault.
macro_rules! caught {
    ($test:ident: $fault:expr => $($case:ident),+ $(,)?) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            $(
                let outcome = tokio::spawn(async move { es_testkit::$case(&FaultyFactory($fault)).await }).await;
                match outcome {
                    Err(error) if error.is_panic() => {
                        // Shown with --nocapture, to check that each case fails for the right reason.
                        eprintln!("{:?} / {}: {}", $fault, stringify!($case), panic_message(error.into_panic()));
                    }
                    other => panic!("{} passed on a backend that {:?}: {other:?}", stringify!($case), $fault),
                }
            )+
        }
    };
}

caught!(a_backend_that_ignores_expected_versions_is_caught: Fault::IgnoresExpectedVersion =>
    appending_at_a_stale_version_is_a_conflict_and_writes_nothing,
    expecting_no_stream_on_an_existing_stream_is_a_conflict,
    an_atomic_append_with_one_conflicting_member_writes_nothing_for_any_member,
    a_member_without_events_only_checks_its_version,
    a_conflicting_append_does_not_store_its_command_id,
    racing_writers_on_one_aggregate_each_win_exactly_once_per_version,
);
caught!(a_backend_that_hides_the_actual_version_of_a_conflict_is_caught: Fault::ConflictWithoutActual =>
    appending_at_a_stale_version_is_a_conflict_and_writes_nothing,
    racing_writers_on_one_aggregate_each_win_exactly_once_per_version,
);
caught!(a_backend_with_non_atomic_appends_is_caught: Fault::NonAtomic =>
    an_atomic_append_with_one_conflicting_member_writes_nothing_for_any_member,
    a_member_without_events_only_checks_its_version,
);
caught!(a_backend_that_reports_invalid_appends_as_failures_is_caught: Fault::InvalidAsStoreError =>
    invalid_appends_are_refused_by_the_store_itself_and_write_nothing,
);
caught!(a_backend_that_drops_milliseconds_is_caught: Fault::DropsMilliseconds =>
    appended_events_round_trip_every_field_through_load_and_read_all,
);
caught!(a_backend_that_drops_metadata_is_caught: Fault::DropsMetadata =>
    appended_events_round_trip_every_field_through_load_and_read_all,
    a_repository_decides_and_appends_a_command,
);
caught!(a_backend_with_short_pages_is_caught: Fault::ShortPages =>
    read_all_returns_every_aggregate_in_commit_order_and_pages_by_position,
    load_returns_one_aggregate_in_version_order_and_pages_by_version,
);
caught!(a_backend_with_reversed_pages_is_caught: Fault::ReversedPages =>
    read_all_returns_every_aggregate_in_commit_order_and_pages_by_position,
    independent_subscriptions_each_see_every_event_in_order,
    a_projection_runner_catches_up_with_the_whole_log,
);
caught!(a_backend_that_repeats_the_event_at_the_read_position_is_caught: Fault::InclusiveAfter =>
    read_all_returns_every_aggregate_in_commit_order_and_pages_by_position,
    a_waiting_subscription_wakes_promptly_on_a_commit,
    independent_subscriptions_each_see_every_event_in_order,
    a_subscription_following_concurrent_writers_misses_nothing,
);
caught!(a_backend_whose_load_ignores_after_is_caught: Fault::LoadIgnoresAfter =>
    load_returns_one_aggregate_in_version_order_and_pages_by_version,
);
caught!(a_backend_whose_position_before_is_off_by_one_is_caught: Fault::PositionBeforeOffByOne =>
    position_before_a_time_points_just_before_the_first_event_created_at_or_after_it,
    subscriptions_start_from_the_beginning_a_position_a_time_or_the_end,
);
caught!(a_backend_that_forgets_command_ids_is_caught: Fault::ForgetsCommands =>
    a_command_applied_twice_commits_once_and_the_retry_gets_the_first_result,
    concurrent_appends_with_one_command_id_commit_exactly_once,
    a_conflicting_append_does_not_store_its_command_id,
    an_idempotent_command_executed_twice_is_applied_once,
);
caught!(a_backend_that_keeps_one_command_id_per_append_is_caught: Fault::KeepsOneCommand =>
    commands_sharing_an_append_store_each_id_and_a_repeat_of_any_writes_nothing,
);
caught!(a_backend_that_answers_a_repeat_with_its_own_result_is_caught: Fault::AnswersWithTheRepeat =>
    a_command_applied_twice_commits_once_and_the_retry_gets_the_first_result,
    concurrent_appends_with_one_command_id_commit_exactly_once,
);
caught!(a_backend_that_never_announces_commits_is_caught: Fault::SilentCommits =>
    a_waiting_subscription_wakes_promptly_on_a_commit,
);
caught!(a_snapshot_store_that_moves_back_is_caught: Fault::SnapshotsMoveBack =>
    snapshots_round_trip_per_aggregate_and_kind,
);
caught!(a_snapshot_store_that_forgets_is_caught: Fault::ForgetsSnapshots =>
    snapshots_round_trip_per_aggregate_and_kind,
    a_repository_snapshots_a_long_stream_and_a_fresh_repository_loads_the_same_state,
);
