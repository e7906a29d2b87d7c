//! Cases for the kernel's repository over the backend: deciding and
//! appending, refusals that write nothing, two processes' repositories
//! racing on one aggregate, idempotent commands, and snapshots kept in the
//! backend's `SnapshotStore`.

use std::time::Duration;

use es_core::limits::{EVENTS_PER_APPEND_MAX, SNAPSHOT_EVERY_EVENTS};
use es_core::{
    Aggregate, AggregateId, CommandContext, CommandId, CorrelationId, DomainEvent, Executed, Metadata, Repository,
    RepositoryError, Version,
};

use crate::BackendFactory;
use crate::domain::{Account, AccountCommand, AccountError, AccountEvent, DEPOSITED, OPENED};
use crate::support::{Untouched, eventually, load_everything, versions};

fn open() -> AccountCommand {
    AccountCommand::Open { owner: "ada".to_owned() }
}

fn deposit(amount: u64) -> AccountCommand {
    AccountCommand::Deposit { amount }
}

/// Executes and insists that the command committed; returns its version.
async fn committed(repository: &Repository<Account>, account: AggregateId, command: &AccountCommand) -> Version {
    match repository.execute(account, command.clone(), &CommandContext::default()).await {
        Ok(Executed::Committed { after, .. }) => after.version,
        other => panic!("expected {command:?} to commit, got {other:?}"),
    }
}

/// `execute` loads the aggregate, decides, and appends the decided events at
/// the loaded version, reporting the commit, the events and the new state;
/// the events land in the backend with the command's metadata, and a
/// repository with an empty cache loads the same state.
pub async fn a_repository_decides_and_appends_a_command(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let repository = Repository::<Account>::new(backend.log());
    let account = AggregateId::random();

    match repository.execute(account, open(), &CommandContext::default()).await {
        Ok(Executed::Committed { commit, events, after }) => {
            assert_eq!(commit.versions, vec![(account, Version(1))]);
            assert_eq!(events, vec![AccountEvent::Opened { owner: "ada".to_owned() }]);
            assert_eq!((after.aggregate_id, after.version), (account, Version(1)));
            assert_eq!(after.state.owner.as_deref(), Some("ada"));
        }
        other => panic!("opening an account must commit, got {other:?}"),
    }
    let metadata = Metadata {
        correlation_id: Some(CorrelationId::random()),
        causation_id: Some(uuid::Uuid::new_v4()),
        actor: Some("teller-7".to_owned()),
    };
    let context = CommandContext { command_id: None, metadata: metadata.clone() };
    match repository.execute(account, deposit(10), &context).await {
        Ok(Executed::Committed { commit, after, .. }) => {
            assert_eq!(commit.versions, vec![(account, Version(2))]);
            assert_eq!(after.state, Account { owner: Some("ada".to_owned()), balance: 10, deposits: 1 });
        }
        other => panic!("a deposit must commit, got {other:?}"),
    }

    let stored = load_everything(&*backend.store, account).await;
    let kinds: Vec<(&str, u64)> =
        stored.iter().map(|event| (event.event_type.as_str(), event.aggregate_version.0)).collect();
    assert_eq!(kinds, vec![(OPENED, 1), (DEPOSITED, 2)]);
    assert_eq!(stored[1].metadata, metadata, "the command's metadata is stamped on its events");
    assert_eq!(AccountEvent::from_record(&stored[1]).expect("decodes"), AccountEvent::Deposited { amount: 10 });

    let fresh = Repository::<Account>::new(backend.log()).load(account).await.expect("load");
    assert_eq!((fresh.version, fresh.state.balance), (Version(2), 10));
}

/// A command the domain refuses is `RepositoryError::Rejected` with the
/// domain's reason, and nothing reaches the backend.
pub async fn a_refused_command_writes_nothing(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let repository = Repository::<Account>::new(backend.log());
    let (account, unopened) = (AggregateId::random(), AggregateId::random());
    committed(&repository, account, &open()).await;
    committed(&repository, account, &deposit(10)).await;
    let before = Untouched::capture(&backend, &[account, unopened]).await;

    let refusals = [
        (
            account,
            AccountCommand::Withdraw { amount: 11 },
            AccountError::InsufficientFunds { balance: 10, requested: 11 },
        ),
        (account, open(), AccountError::AlreadyOpen),
        (account, AccountCommand::DepositEach { amounts: Vec::new() }, AccountError::NoAmount),
        (unopened, deposit(5), AccountError::NotOpen),
    ];
    for (target, command, reason) in refusals {
        match repository.execute(target, command.clone(), &CommandContext::default()).await {
            Err(RepositoryError::Rejected(refused)) => assert_eq!(refused, reason, "{command:?}"),
            other => panic!("{command:?} must be refused with {reason:?}, got {other:?}"),
        }
        before.assert_unchanged(&backend, &format!("a refused {command:?}")).await;
    }
    let state = repository.load(account).await.expect("load");
    assert_eq!((state.version, state.state.balance), (Version(2), 10), "the cached state is untouched too");
}

/// Two repositories with separate caches (two processes) write one account.
/// One whose cache went stale gets a conflict, reloads and decides again;
/// then both write at once, and every command succeeds with a final state
/// and stream that hold each deposit exactly once.
pub async fn two_repositories_writing_one_aggregate_both_succeed_by_retrying_conflicts(factory: &dyn BackendFactory) {
    const DEPOSITS_EACH: u64 = 10;
    let backend = factory.fresh().await;
    let first = Repository::<Account>::new(backend.log());
    let second = Repository::<Account>::new(backend.log());
    let account = AggregateId::random();
    committed(&first, account, &open()).await;
    assert_eq!(second.load(account).await.expect("load").version, Version(1), "the second cache holds version 1");
    assert_eq!(committed(&first, account, &deposit(5)).await, Version(2));

    match second.execute(account, deposit(7), &CommandContext::default()).await {
        Ok(Executed::Committed { after, commit, .. }) => {
            assert_eq!(commit.versions, vec![(account, Version(3))], "decided again on the reloaded version");
            assert_eq!(after.state.balance, 12, "the retry decided on the other repository's deposit too");
        }
        other => panic!("a command on a stale cache must succeed after a retry, got {other:?}"),
    }
    let withdrawal = first.execute(account, AccountCommand::Withdraw { amount: 12 }, &CommandContext::default()).await;
    match withdrawal {
        Ok(Executed::Committed { after, .. }) => assert_eq!((after.version, after.state.balance), (Version(4), 0)),
        other => panic!("the first repository must see the second's deposit after its conflict, got {other:?}"),
    }

    let mut tasks = Vec::new();
    for (repository, amount) in [(first.clone(), 1), (second.clone(), 100)] {
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for _ in 0..DEPOSITS_EACH {
                let outcome = repository.execute(account, deposit(amount), &CommandContext::default()).await;
                outcomes.push(outcome.map(|executed| matches!(executed, Executed::Committed { .. })));
            }
            outcomes
        }));
    }
    for task in tasks {
        for outcome in task.await.expect("a writing task does not panic") {
            match outcome {
                Ok(true) => {}
                other => panic!("every concurrent command must commit, got {other:?}"),
            }
        }
    }

    let final_version = 4 + 2 * DEPOSITS_EACH;
    let stream = load_everything(&*backend.store, account).await;
    assert_eq!(versions(&stream), (1..=final_version).collect::<Vec<_>>(), "no gap, no duplicate");
    let expected =
        Account { owner: Some("ada".to_owned()), balance: DEPOSITS_EACH * 101, deposits: 2 + 2 * DEPOSITS_EACH };
    for (name, repository) in [("first", &first), ("second", &second)] {
        let refreshed = repository.refresh(account).await.expect("refresh");
        assert_eq!((refreshed.version, &refreshed.state), (Version(final_version), &expected), "{name} repository");
    }
    let cold = Repository::<Account>::new(backend.log()).load(account).await.expect("load");
    assert_eq!((cold.version, cold.state), (Version(final_version), expected), "a cold load agrees");
}

/// A command executed again with the same command id (by the same or another
/// repository, even as a different command) returns `AlreadyApplied` with the
/// first result and writes nothing.
pub async fn an_idempotent_command_executed_twice_is_applied_once(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let repository = Repository::<Account>::new(backend.log());
    let account = AggregateId::random();
    committed(&repository, account, &open()).await;
    let command_id = CommandId::random();
    let context = CommandContext { command_id: Some(command_id), metadata: Metadata::default() };

    match repository.execute(account, deposit(10), &context).await {
        Ok(Executed::Committed { after, .. }) => assert_eq!(after.version, Version(2)),
        other => panic!("the first execution must commit, got {other:?}"),
    }
    let stored =
        backend.store.stored_command(command_id).await.expect("stored_command").expect("the command id is stored");
    let result: serde_json::Value = serde_json::from_str(&stored.result).expect("the result is JSON");
    assert_eq!(result, serde_json::json!({"aggregateId": account, "version": 2}), "the stored result");
    let before = Untouched::capture(&backend, &[account]).await;

    let other_process = Repository::<Account>::new(backend.log());
    for (who, repeat, command) in [
        ("the same repository", &repository, deposit(10)),
        ("another repository", &other_process, deposit(10)),
        ("a different command", &repository, deposit(99)),
    ] {
        match repeat.execute(account, command, &context).await {
            Ok(Executed::AlreadyApplied(record)) => assert_eq!(record, stored, "{who} gets the first result"),
            other => panic!("{who} repeating the command id must get AlreadyApplied, got {other:?}"),
        }
        before.assert_unchanged(&backend, who).await;
    }
    let state = Repository::<Account>::new(backend.log()).load(account).await.expect("load");
    assert_eq!((state.version, state.state.balance, state.state.deposits), (Version(2), 10, 1), "deposited once");
}

/// A repository with snapshots saves one to the backend's `SnapshotStore` once
/// more than `SNAPSHOT_EVERY_EVENTS` events have accumulated (in a spawned
/// task, so the case polls for it); the snapshot holds the state at its
/// version, and a fresh repository with snapshots loads the right state from
/// it plus the events after it.
pub async fn a_repository_snapshots_a_long_stream_and_a_fresh_repository_loads_the_same_state(
    factory: &dyn BackendFactory,
) {
    let backend = factory.fresh().await;
    let repository = Repository::<Account>::with_snapshots(backend.log(), std::sync::Arc::clone(&backend.snapshots));
    let account = AggregateId::random();
    let mut expected = Account::default();
    let mut version = committed(&repository, account, &open()).await;
    expected.owner = Some("ada".to_owned());
    // The repository snapshots after a commit that brings the stream at least
    // SNAPSHOT_EVERY_EVENTS past the last snapshot; follow that rule to know
    // which version the newest snapshot must have.
    let mut snapshot_version = Version::INITIAL;
    let mut snapshot_state = None;
    let chunk = EVENTS_PER_APPEND_MAX as u64 / 2;
    let mut deposited = 0;
    while deposited < SNAPSHOT_EVERY_EVENTS + 10 {
        let amounts: Vec<u64> = (deposited + 1..=deposited + chunk).collect();
        deposited += chunk;
        expected.balance += amounts.iter().sum::<u64>();
        expected.deposits += chunk;
        version = committed(&repository, account, &AccountCommand::DepositEach { amounts }).await;
        if version.0 - snapshot_version.0 >= SNAPSHOT_EVERY_EVENTS {
            snapshot_version = version;
            snapshot_state = Some(expected.clone());
        }
    }
    assert!(version.0 > SNAPSHOT_EVERY_EVENTS);
    let snapshot_state = snapshot_state.expect("the stream grew past the snapshot threshold");

    let snapshots = std::sync::Arc::clone(&backend.snapshots);
    let snapshot = eventually("a snapshot is saved", Duration::from_secs(5), || {
        let snapshots = std::sync::Arc::clone(&snapshots);
        async move {
            let snapshot = snapshots.load_snapshot(account, Account::KIND).await.expect("load_snapshot")?;
            (snapshot.version == snapshot_version).then_some(snapshot)
        }
    })
    .await;
    assert_eq!(snapshot.aggregate_id, account);
    assert_eq!(snapshot.kind, Account::KIND);
    assert_eq!(snapshot.shape_version, Account::SHAPE_VERSION);
    let state: Account = serde_json::from_str(&snapshot.state).expect("the snapshot holds the state as JSON");
    assert_eq!(state, snapshot_state, "the snapshot holds the state at its version");

    version = committed(&repository, account, &deposit(1_000)).await;
    expected.balance += 1_000;
    expected.deposits += 1;
    let fresh = Repository::<Account>::with_snapshots(backend.log(), std::sync::Arc::clone(&backend.snapshots));
    let loaded = fresh.load(account).await.expect("a fresh repository loads from the snapshot");
    assert_eq!((loaded.version, &loaded.state), (version, &expected));
    let without = Repository::<Account>::new(backend.log()).load(account).await.expect("load without snapshots");
    assert_eq!((without.version, without.state), (version, expected), "the snapshot path agrees with a full replay");
}
