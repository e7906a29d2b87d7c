//! Cases for idempotent commands: an append that carries a command id is
//! committed at most once, in the same transaction as the id; every retry,
//! sequential or concurrent, gets the first result back and writes nothing.

use std::sync::Arc;

use es_core::{
    AggregateId, AppendRequest, Appended, CommandId, CommandRecord, ExpectedVersion, Version, VersionConflict,
};
use tokio::sync::Barrier;

use crate::BackendFactory;
use crate::support::{
    Untouched, commit, expect_conflict, ids, load_everything, numbered, positions_at_commit, read_everything,
};

fn with_command(mut request: AppendRequest, command: &CommandRecord) -> AppendRequest {
    request.commands = vec![command.clone()];
    request
}

/// The first append with a command id commits and stores the id with its
/// result; a retry with the same id, whatever its events, result or expected
/// version, gets `AlreadyApplied` with the first result and writes nothing.
pub async fn a_command_applied_twice_commits_once_and_the_retry_gets_the_first_result(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let store = &*backend.store;
    let aggregate = AggregateId::random();
    let command = CommandRecord { command_id: CommandId::random(), result: r#"{"reserved":"A-12"}"#.to_owned() };
    assert_eq!(
        store.stored_command(command.command_id).await.expect("stored_command"),
        None,
        "a new command id is unknown"
    );

    let first = numbered(1);
    let request = AppendRequest::single(aggregate, ExpectedVersion::NoStream, vec![first.clone()]);
    let committed = commit(store, with_command(request, &command)).await;
    assert_eq!(committed.versions, vec![(aggregate, Version(1))]);
    assert_eq!(
        store.stored_command(command.command_id).await.expect("stored_command"),
        Some(command.clone()),
        "a committed append stores its command id with its result"
    );
    let before = Untouched::capture(&backend, &[aggregate]).await;

    let retry_result = CommandRecord { command_id: command.command_id, result: r#"{"reserved":"B-7"}"#.to_owned() };
    let retries = [
        ("the same expectation, now stale", ExpectedVersion::NoStream),
        ("the aggregate's current version", ExpectedVersion::Exact(Version(1))),
        ("any version", ExpectedVersion::Any),
    ];
    for (what, expected) in retries {
        let retry = AppendRequest::single(aggregate, expected, vec![numbered(2)]);
        match store.append(with_command(retry, &retry_result)).await {
            Ok(Appended::AlreadyApplied(record)) => {
                assert_eq!(record, command, "a retry at {what} gets the first result back");
            }
            other => panic!("a retry of a stored command at {what} must be AlreadyApplied, got {other:?}"),
        }
        before.assert_unchanged(&backend, &format!("a retry at {what}")).await;
    }
    assert_eq!(ids(&load_everything(store, aggregate).await), vec![first.event_id]);
    assert_eq!(
        store.stored_command(command.command_id).await.expect("stored_command"),
        Some(command),
        "retries leave the first result stored"
    );
    assert_eq!(store.stored_command(CommandId::random()).await.expect("stored_command"), None);
}

/// Several tasks appending at once with one command id (each to its own new
/// aggregate, so that only the id is contended): exactly one commits, every
/// other gets `AlreadyApplied` with the winner's result, and only the
/// winner's events are in the log. Repeated for several ids.
pub async fn concurrent_appends_with_one_command_id_commit_exactly_once(factory: &dyn BackendFactory) {
    const TASKS: usize = 8;
    const ROUNDS: usize = 10;
    let backend = factory.fresh().await;
    let mut expected_log = Vec::new();
    for round in 0..ROUNDS {
        let command_id = CommandId::random();
        let barrier = Arc::new(Barrier::new(TASKS));
        let mut tasks = Vec::new();
        for task in 0..TASKS {
            let store = Arc::clone(&backend.store);
            let barrier = Arc::clone(&barrier);
            tasks.push(tokio::spawn(async move {
                let aggregate = AggregateId::random();
                let event = numbered(task as u64);
                let record = CommandRecord { command_id, result: format!(r#"{{"task":{task}}}"#) };
                let request = AppendRequest {
                    commands: vec![record.clone()],
                    ..AppendRequest::single(aggregate, ExpectedVersion::NoStream, vec![event.clone()])
                };
                barrier.wait().await;
                (aggregate, event.event_id, record, store.append(request).await)
            }));
        }
        let mut winners = Vec::new();
        let mut repeats = Vec::new();
        let mut losers = Vec::new();
        for task in tasks {
            let (aggregate, event_id, record, outcome) = task.await.expect("an appending task does not panic");
            match outcome {
                Ok(Appended::Committed(commit)) => {
                    assert_eq!(commit.versions, vec![(aggregate, Version(1))]);
                    winners.push((aggregate, event_id, record));
                }
                Ok(Appended::AlreadyApplied(first)) => {
                    repeats.push(first);
                    losers.push(aggregate);
                }
                Err(error) => panic!("round {round}: a concurrent append with a shared command id failed: {error}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one append with the command id commits");
        let (winner, winner_event, winner_record) = winners.remove(0);
        for first in repeats {
            assert_eq!(first, winner_record, "round {round}: every other append gets the winner's result");
        }
        assert_eq!(
            backend.store.stored_command(command_id).await.expect("stored_command"),
            Some(winner_record),
            "round {round}: the stored result is the winner's"
        );
        assert_eq!(ids(&load_everything(&*backend.store, winner).await), vec![winner_event]);
        for loser in losers {
            assert!(load_everything(&*backend.store, loser).await.is_empty(), "round {round}: a repeat wrote nothing");
        }
        expected_log.push(winner_event);
    }
    backend.settle().await;
    let mut log = ids(&read_everything(&*backend.store).await);
    if !positions_at_commit(&*backend.store) {
        // One aggregate per command: no order between them is promised.
        log.sort();
        expected_log.sort();
    }
    assert_eq!(log, expected_log, "the log holds one event per command");
}

/// An append that fails its version check does not store its command id: the
/// id stays unknown, and the same command at the right version commits.
pub async fn a_conflicting_append_does_not_store_its_command_id(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let store = &*backend.store;
    let aggregate = AggregateId::random();
    commit(store, AppendRequest::single(aggregate, ExpectedVersion::NoStream, vec![numbered(1)])).await;
    let command = CommandRecord { command_id: CommandId::random(), result: r#"{"ok":true}"#.to_owned() };
    let before = Untouched::capture(&backend, &[aggregate]).await;

    let stale = AppendRequest::single(aggregate, ExpectedVersion::Exact(Version(0)), vec![numbered(2)]);
    assert_eq!(
        expect_conflict(store.append(with_command(stale, &command)).await),
        VersionConflict { aggregate_id: aggregate, expected: ExpectedVersion::Exact(Version(0)), actual: Version(1) }
    );
    before.assert_unchanged(&backend, "a conflicting append with a command id").await;
    assert_eq!(
        store.stored_command(command.command_id).await.expect("stored_command"),
        None,
        "a conflicting append must not store its command id"
    );

    let event = numbered(2);
    let right = AppendRequest::single(aggregate, ExpectedVersion::Exact(Version(1)), vec![event.clone()]);
    let committed = commit(store, with_command(right, &command)).await;
    assert_eq!(committed.versions, vec![(aggregate, Version(2))], "the same command at the right version commits");
    assert_eq!(
        store.stored_command(command.command_id).await.expect("stored_command"),
        Some(command),
        "the command that finally committed is stored"
    );
    assert_eq!(load_everything(store, aggregate).await.last().map(|last| last.event_id), Some(event.event_id));
}

/// Commands sharing one append store every id with its own result; a later
/// append that carries one of those ids among new ones writes nothing and
/// gets that id's first result back (its id says which command it was), and
/// an append repeating an id within itself is refused as invalid.
pub async fn commands_sharing_an_append_store_each_id_and_a_repeat_of_any_writes_nothing(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let store = &*backend.store;
    let (a, b) = (AggregateId::random(), AggregateId::random());
    let record = |result: &str| CommandRecord { command_id: CommandId::random(), result: result.to_owned() };
    let (first, second) = (record(r#"{"n":1}"#), record(r#"{"n":2}"#));
    let mut shared = AppendRequest::single(a, ExpectedVersion::NoStream, vec![numbered(1), numbered(2)]);
    shared.commands = vec![first.clone(), second.clone()];
    commit(store, shared).await;
    for command in [&first, &second] {
        assert_eq!(
            store.stored_command(command.command_id).await.expect("stored_command"),
            Some(command.clone()),
            "each command of a shared append keeps its own result"
        );
    }
    let before = Untouched::capture(&backend, &[a, b]).await;

    let fresh = record(r#"{"n":3}"#);
    let mut repeat = AppendRequest::single(b, ExpectedVersion::NoStream, vec![numbered(3)]);
    repeat.commands = vec![fresh.clone(), CommandRecord { result: "{}".to_owned(), ..second.clone() }];
    match store.append(repeat).await {
        Ok(Appended::AlreadyApplied(record)) => assert_eq!(record, second, "the repeated id's first result"),
        other => panic!("an append repeating a stored id must be AlreadyApplied, got {other:?}"),
    }
    before.assert_unchanged(&backend, "an append repeating one of its ids").await;
    assert_eq!(store.stored_command(fresh.command_id).await.expect("stored_command"), None, "nothing of it stored");

    let mut twice = AppendRequest::single(b, ExpectedVersion::NoStream, vec![numbered(4)]);
    twice.commands = vec![fresh.clone(), fresh.clone()];
    match store.append(twice).await {
        Err(es_core::AppendError::Invalid(es_core::InvalidAppend::RepeatedCommand(id))) => {
            assert_eq!(id, fresh.command_id);
        }
        other => panic!("an id twice in one append must be refused as invalid, got {other:?}"),
    }
    before.assert_unchanged(&backend, "an append naming one id twice").await;
}
