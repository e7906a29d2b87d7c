//! Cases for upcasting over the backend: records stored in an old shape stay
//! old in storage, and reach every reader through [`es_core::EventLog`] in
//! the current shape — `load`, `read_all`, subscriptions and repositories.

use es_core::limits::READ_PAGE_MAX;
use es_core::{
    AggregateId, CancellationToken, DomainEvent, EventId, EventLog, Metadata, NewEvent, Position, RecordedEvent,
    Repository, RepositoryError, StartFrom, Subscription, Version, truncate_to_millis,
};
use serde_json::{Value, json};

use crate::domain::{
    Account, AccountCommand, AccountError, AccountEvent, DEPOSITED, DEPOSITED_SCHEMA_VERSION, OPENED, account_upcasters,
};
use crate::support::{commit_at, load_everything};
use crate::{Backend, BackendFactory};

fn stored(event_type: &str, schema_version: u32, data: Value) -> NewEvent {
    NewEvent {
        event_id: EventId::random(),
        event_type: event_type.to_owned(),
        schema_version,
        data: data.to_string(),
        created: truncate_to_millis(chrono::Utc::now()),
        metadata: Metadata::default(),
    }
}

/// Stores an account whose deposits were written at schema versions 1, 2 and
/// 3 (as code of those days would have), directly through the store.
async fn store_old_account(backend: &Backend) -> AggregateId {
    let account = AggregateId::random();
    let events = vec![
        stored(OPENED, 1, json!({"owner": "ada"})),
        stored(DEPOSITED, 1, json!({"sum": "12"})),
        stored(DEPOSITED, 2, json!({"amount": "30"})),
        stored(DEPOSITED, 3, json!({"amount": 5})),
    ];
    commit_at(&*backend.store, account, 0, events).await;
    account
}

/// The current shape every reader must see, per version.
fn current_shapes() -> Vec<(String, u32, Value)> {
    vec![
        (OPENED.to_owned(), 1, json!({"owner": "ada"})),
        (DEPOSITED.to_owned(), DEPOSITED_SCHEMA_VERSION, json!({"amount": 12})),
        (DEPOSITED.to_owned(), DEPOSITED_SCHEMA_VERSION, json!({"amount": 30})),
        (DEPOSITED.to_owned(), DEPOSITED_SCHEMA_VERSION, json!({"amount": 5})),
    ]
}

fn shapes(records: &[RecordedEvent]) -> Vec<(String, u32, Value)> {
    records
        .iter()
        .map(|record| {
            let data = serde_json::from_str(&record.data).expect("upcast data is JSON");
            (record.event_type.clone(), record.schema_version, data)
        })
        .collect()
}

fn decoded(records: &[RecordedEvent]) -> Vec<AccountEvent> {
    records.iter().map(|record| AccountEvent::from_record(record).expect("an upcast record decodes")).collect()
}

fn upcasting_log(backend: &Backend) -> EventLog {
    backend.log().with_upcasters(account_upcasters())
}

/// Events stored at schema versions 1 and 2 are read through an `EventLog`
/// with upcasters 1→2→3 in the current shape and version, each starting its
/// chain where the record stands, on `load`, `read_all` and a live
/// `Subscription`; the store itself still holds the old shapes.
pub async fn old_event_shapes_are_upcast_on_load_read_all_and_subscriptions(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let account = store_old_account(&backend).await;
    let log = upcasting_log(&backend);
    let expected_events = vec![
        AccountEvent::Opened { owner: "ada".to_owned() },
        AccountEvent::Deposited { amount: 12 },
        AccountEvent::Deposited { amount: 30 },
        AccountEvent::Deposited { amount: 5 },
    ];

    let raw = load_everything(&*backend.store, account).await;
    let raw_versions: Vec<u32> = raw.iter().map(|record| record.schema_version).collect();
    assert_eq!(raw_versions, vec![1, 1, 2, 3], "the store keeps what was written");
    assert!(AccountEvent::from_record(&raw[1]).is_err(), "a version 1 record does not decode without upcasting");
    assert!(AccountEvent::from_record(&raw[2]).is_err(), "a version 2 record does not decode without upcasting");

    let loaded = log.load(account, Version::INITIAL).await.expect("EventLog::load");
    assert_eq!(shapes(&loaded), current_shapes(), "load upcasts");
    assert_eq!(decoded(&loaded), expected_events);
    let unchanged =
        |records: &[RecordedEvent]| records.iter().map(|record| (record.event_id, record.position)).collect::<Vec<_>>();
    assert_eq!(unchanged(&loaded), unchanged(&raw), "upcasting changes only the shape");

    backend.settle().await;
    let all = log.read_all(Position::START, READ_PAGE_MAX).await.expect("EventLog::read_all");
    assert_eq!(shapes(&all), current_shapes(), "read_all upcasts");

    let shutdown = CancellationToken::new();
    let mut subscription = Subscription::start(&log, StartFrom::Beginning).await.expect("start");
    let batch = subscription.next_batch(&shutdown).await.expect("next_batch").expect("not cancelled");
    assert_eq!(shapes(&batch), current_shapes(), "subscriptions upcast");
    assert_eq!(decoded(&batch), expected_events);

    let later = stored(DEPOSITED, 1, json!({"sum": "7"}));
    commit_at(&*backend.store, account, 4, vec![later]).await;
    backend.settle().await;
    let live = subscription.next_batch(&shutdown).await.expect("next_batch").expect("not cancelled");
    assert_eq!(shapes(&live), vec![(DEPOSITED.to_owned(), DEPOSITED_SCHEMA_VERSION, json!({"amount": 7}))]);

    let raw_after = load_everything(&*backend.store, account).await;
    assert_eq!(&raw_after[..4], &raw[..], "reading upcast records never rewrites the stored ones");
}

/// A repository over an upcasting log folds old events in their current
/// shape, and decides on that state: the balance built from old deposits can
/// be withdrawn, and not a cent more.
pub async fn a_repository_decides_on_upcast_events(factory: &dyn BackendFactory) {
    let backend = factory.fresh().await;
    let account = store_old_account(&backend).await;
    let repository = Repository::<Account>::new(upcasting_log(&backend));

    let loaded = repository.load(account).await.expect("the repository loads old events");
    assert_eq!(loaded.version, Version(4));
    assert_eq!(loaded.state, Account { owner: Some("ada".to_owned()), balance: 47, deposits: 3 });

    let context = es_core::CommandContext::default();
    match repository.execute(account, AccountCommand::Withdraw { amount: 48 }, &context).await {
        Err(RepositoryError::Rejected(AccountError::InsufficientFunds { balance: 47, requested: 48 })) => {}
        other => panic!("a withdrawal over the upcast balance must be refused, got {other:?}"),
    }
    match repository.execute(account, AccountCommand::Withdraw { amount: 47 }, &context).await {
        Ok(es_core::Executed::Committed { after, .. }) => {
            assert_eq!((after.version, after.state.balance), (Version(5), 0));
        }
        other => panic!("a withdrawal of the upcast balance must commit, got {other:?}"),
    }

    let fresh = Repository::<Account>::new(upcasting_log(&backend));
    let reloaded = fresh.load(account).await.expect("a fresh repository loads");
    assert_eq!((reloaded.version, reloaded.state.balance, reloaded.state.deposits), (Version(5), 0, 3));
}
