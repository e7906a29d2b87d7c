//! # es-testkit: the conformance suite of the event log's backends
//!
//! Every backend of the event log (in memory today, SQLite next, DynamoDB and
//! PostgreSQL later) must keep the same promises: appends never overwrite,
//! atomic appends are all or nothing, a command id is applied once, the log
//! is read in commit order without gaps, subscriptions wake on commits,
//! projections neither skip nor double-apply, old event shapes are upcast
//! on every read path. This crate states those promises once, as executable
//! cases, so that a backend proves them with one line:
//!
//! ```ignore
//! es_testkit::conformance_tests!(MyFactory::new());
//! ```
//!
//! Each case is a `pub async fn` taking a [`BackendFactory`]; the
//! [`conformance_tests!`] macro turns every case into a `#[tokio::test]` of
//! the same name, so `cargo test` lists each promise by name.
//!
//! A backend keeps the promises it makes ([`es_core::LogOrder`]): one that
//! positions events at commit shows an acknowledged append in `read_all` at
//! once, in the commit order of the whole log; one that positions them
//! after the commit ([`Indexer`]) shows it once its indexer has run, in the
//! commit order of every aggregate. Everything else is the same for both. The cases drive
//! the backend through its raw ports ([`es_core::EventStore`] and friends) for
//! the storage promises, and through the kernel ([`es_core::EventLog`],
//! [`es_core::Repository`], [`es_core::ProjectionRunner`]) for the promises
//! that depend on how the kernel uses the ports.

use std::sync::Arc;

use es_core::{EventLog, EventStore, SnapshotStore, SystemClock, async_trait};

/// What gives a backend's commits their positions when the backend itself
/// does not ([`es_core::LogOrder::AfterCommit`]): its indexer, which the
/// cases run where they read the whole log.
#[async_trait]
pub trait Indexer: Send + Sync + 'static {
    /// Returns once every event committed before the call has its position.
    async fn catch_up(&self);
}

pub mod domain;

mod append;
mod idempotency;
mod projections;
mod race;
mod reading;
mod repository;
mod stores;
mod subscriptions;
mod support;
mod upcasting;

pub use append::{
    a_member_without_events_only_checks_its_version, an_atomic_append_over_several_aggregates_writes_every_member,
    an_atomic_append_with_one_conflicting_member_writes_nothing_for_any_member,
    appended_events_round_trip_every_field_through_load_and_read_all,
    appending_at_a_stale_version_is_a_conflict_and_writes_nothing, expecting_any_version_appends_after_the_current_one,
    expecting_no_stream_on_an_existing_stream_is_a_conflict,
    invalid_appends_are_refused_by_the_store_itself_and_write_nothing,
    two_processes_appending_to_different_aggregates_never_conflict,
};
pub use idempotency::{
    a_command_applied_twice_commits_once_and_the_retry_gets_the_first_result,
    a_conflicting_append_does_not_store_its_command_id,
    commands_sharing_an_append_store_each_id_and_a_repeat_of_any_writes_nothing,
    concurrent_appends_with_one_command_id_commit_exactly_once,
};
pub use projections::{
    a_duplicate_delivery_to_a_projection_is_refused_and_changes_nothing,
    a_projection_runner_catches_up_with_the_whole_log, a_rebuilt_projection_equals_the_live_one,
};
pub use race::racing_writers_on_one_aggregate_each_win_exactly_once_per_version;
pub use reading::{
    load_returns_one_aggregate_in_version_order_and_pages_by_version,
    position_before_a_time_points_just_before_the_first_event_created_at_or_after_it,
    read_all_returns_every_aggregate_in_commit_order_and_pages_by_position,
    subscriptions_start_from_the_beginning_a_position_a_time_or_the_end,
};
pub use repository::{
    a_refused_command_writes_nothing, a_repository_decides_and_appends_a_command,
    a_repository_snapshots_a_long_stream_and_a_fresh_repository_loads_the_same_state,
    an_idempotent_command_executed_twice_is_applied_once,
    two_repositories_writing_one_aggregate_both_succeed_by_retrying_conflicts,
};
pub use stores::snapshots_round_trip_per_aggregate_and_kind;
pub use subscriptions::{
    a_subscription_following_concurrent_writers_misses_nothing, a_waiting_subscription_returns_none_when_cancelled,
    a_waiting_subscription_wakes_promptly_on_a_commit, independent_subscriptions_each_see_every_event_in_order,
};
pub use upcasting::{
    a_repository_decides_on_upcast_events, old_event_shapes_are_upcast_on_load_read_all_and_subscriptions,
};

/// One backend under test: its two ports, sharing one storage, and nothing
/// in it yet.
#[derive(Clone)]
pub struct Backend {
    /// The event log's storage.
    pub store: Arc<dyn EventStore>,
    /// Aggregate snapshots.
    pub snapshots: Arc<dyn SnapshotStore>,
    /// The indexer of a backend that positions after the commit; `None`
    /// where the commit positions (the cases then never wait for one).
    pub indexer: Option<Arc<dyn Indexer>>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend").finish_non_exhaustive()
    }
}

impl Backend {
    /// Lets the indexer (if any) position everything committed so far, as a
    /// reader of the whole log must before it can see those commits.
    pub async fn settle(&self) {
        if let Some(indexer) = &self.indexer {
            indexer.catch_up().await;
        }
    }

    /// The kernel's log over this backend, stamping `Created` from the system
    /// clock and upcasting nothing.
    pub fn log(&self) -> EventLog {
        EventLog::new(Arc::clone(&self.store), Arc::new(SystemClock))
    }
}

/// Makes empty backends, one per case (and some cases ask for more than one).
///
/// The factory lives for the whole case, so a backend that needs something
/// kept alive beside it (a temporary directory, a container) can keep it in
/// the factory.
#[async_trait]
pub trait BackendFactory: Send + Sync + 'static {
    /// A new backend holding no events or snapshots.
    async fn fresh(&self) -> Backend;

    /// A new backend and a second store on the same storage, as another
    /// process would open it, for a backend that promises that appends of
    /// different processes to different aggregates never conflict; `None`
    /// (the default) where it makes no such promise.
    async fn fresh_with_second_process(&self) -> Option<(Backend, Arc<dyn EventStore>)> {
        None
    }

    /// How long one case may run before it fails as hung:
    /// [`CASE_DEADLINE_SECS`] unless the backend says otherwise. A backend
    /// reached through a slow local emulator (the race case makes thousands
    /// of requests) may allow more; a hang still fails.
    fn case_deadline(&self) -> std::time::Duration {
        std::time::Duration::from_secs(CASE_DEADLINE_SECS)
    }
}

/// Longest one case may run before it is failed as hung (a lost wake-up or a
/// deadlock must fail the suite, not stall it).
pub const CASE_DEADLINE_SECS: u64 = 120;

/// Expands to one `#[tokio::test]` per conformance case, each named after its
/// case and running it against a backend from the factory expression
/// (evaluated afresh in every test).
///
/// ```ignore
/// es_testkit::conformance_tests!(MyFactory::new());
/// ```
///
/// The calling crate needs `es-testkit` as a dependency under its own name;
/// the runtime comes from the testkit's re-export of tokio.
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::__conformance_cases! {
            $factory;
            appended_events_round_trip_every_field_through_load_and_read_all,
            appending_at_a_stale_version_is_a_conflict_and_writes_nothing,
            expecting_no_stream_on_an_existing_stream_is_a_conflict,
            expecting_any_version_appends_after_the_current_one,
            an_atomic_append_with_one_conflicting_member_writes_nothing_for_any_member,
            an_atomic_append_over_several_aggregates_writes_every_member,
            a_member_without_events_only_checks_its_version,
            two_processes_appending_to_different_aggregates_never_conflict,
            invalid_appends_are_refused_by_the_store_itself_and_write_nothing,
            read_all_returns_every_aggregate_in_commit_order_and_pages_by_position,
            load_returns_one_aggregate_in_version_order_and_pages_by_version,
            position_before_a_time_points_just_before_the_first_event_created_at_or_after_it,
            subscriptions_start_from_the_beginning_a_position_a_time_or_the_end,
            a_command_applied_twice_commits_once_and_the_retry_gets_the_first_result,
            concurrent_appends_with_one_command_id_commit_exactly_once,
            a_conflicting_append_does_not_store_its_command_id,
            commands_sharing_an_append_store_each_id_and_a_repeat_of_any_writes_nothing,
            racing_writers_on_one_aggregate_each_win_exactly_once_per_version,
            a_waiting_subscription_wakes_promptly_on_a_commit,
            a_waiting_subscription_returns_none_when_cancelled,
            independent_subscriptions_each_see_every_event_in_order,
            a_subscription_following_concurrent_writers_misses_nothing,
            a_projection_runner_catches_up_with_the_whole_log,
            a_duplicate_delivery_to_a_projection_is_refused_and_changes_nothing,
            a_rebuilt_projection_equals_the_live_one,
            old_event_shapes_are_upcast_on_load_read_all_and_subscriptions,
            a_repository_decides_on_upcast_events,
            a_repository_decides_and_appends_a_command,
            a_refused_command_writes_nothing,
            two_repositories_writing_one_aggregate_both_succeed_by_retrying_conflicts,
            an_idempotent_command_executed_twice_is_applied_once,
            a_repository_snapshots_a_long_stream_and_a_fresh_repository_loads_the_same_state,
            snapshots_round_trip_per_aggregate_and_kind,
        }
    };
}

/// The body of [`conformance_tests!`]: one test per listed case.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[$crate::__private::tokio::test(
                flavor = "multi_thread",
                worker_threads = 2,
                crate = "::es_testkit::__private::tokio"
            )]
            async fn $case() {
                let factory = $factory;
                let deadline = $crate::BackendFactory::case_deadline(&factory);
                $crate::__private::within_deadline(stringify!($case), deadline, $crate::$case(&factory)).await;
            }
        )*
    };
}

/// What the macros need at their call sites; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use tokio;

    /// Runs a case, failing it if it outlives `deadline`.
    /// (A case spinning without ever yielding to the runtime cannot be
    /// interrupted this way; the cases bound their own loops instead.)
    pub async fn within_deadline(
        case: &str,
        deadline: std::time::Duration,
        run: impl std::future::Future<Output = ()>,
    ) {
        if tokio::time::timeout(deadline, run).await.is_err() {
            panic!(
                "conformance case {case} did not finish within {} s: a lost wake-up or a deadlock",
                deadline.as_secs()
            );
        }
    }
}
