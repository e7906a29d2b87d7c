//! Appends write only the items they touch: each event as a `Put`
//! conditioned on `attribute_not_exists` (the seed's optimistic concurrency
//! on `(AggregateId, AggregateVersion)`), and the command's result when the
//! command has an id. Nothing is shared by every append, so appends to
//! different aggregates never wait on or fail each other, in one process or
//! in a thousand Lambda containers. Their place in the whole log is given
//! after the commit by the indexer ([`crate::index`]).
//!
//! - One event for one aggregate, no command id: a single conditional
//!   `PutItem` (1 WCU per KB), the shop's most common append.
//! - Anything else: one `TransactWriteItems`, all or nothing.
//!
//! An expected version above 0 must exist, or a stale expectation beyond
//! the stream's end would leave a gap. The store remembers the versions it
//! has seen (loads, snapshots, its own commits); only an expectation it has
//! not seen costs a check: a consistent read before a single put, or a
//! `ConditionCheck` inside a transaction.
//!
//! A failed transaction is classified from its cancellation reasons, one per
//! action and in the same order, never from message text: the command's
//! action failing means "already applied", a member's means a version
//! conflict.

use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    CancellationReason, ConditionCheck, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use es_core::{
    AggregateId, AppendError, AppendRequest, Appended, CommandRecord, Commit, ExpectedVersion, InvalidAppend,
    StoreError, Version, VersionConflict,
};

use crate::DynamoDbEventStore;
use crate::error::{build_error, store_error, written};
use crate::items::{self, Item, attr, n, s};
use crate::limits::{ATTEMPTS_MAX, CONTENTION_BACKOFF_MAX, ITEM_BYTES_MAX, TRANSACT_BYTES_MAX, TRANSACT_ITEMS_MAX};

/// What each action of a transaction stands for, so that a cancellation
/// reason (reported per action, in order) can be traced back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    /// A version check or an event of the request's member at this index.
    Member(usize),
    /// The result of the request's command at this index.
    Command(usize),
}

/// The writes of one attempt.
enum Plan {
    /// One event of one aggregate, without a command id.
    Single(Item),
    /// Everything else.
    Transaction { items: Vec<TransactWriteItem>, actions: Vec<Action> },
}

/// Why an attempt did not commit.
#[derive(Debug)]
enum Refused {
    /// The command id at this index of the request is stored: this is a
    /// retry of a committed command.
    CommandStored(usize, Option<Item>),
    /// A member's version check failed.
    Conflict(usize),
    /// Transactions on the same items collided, or DynamoDB throttled; retry
    /// after a pause.
    Contended,
    /// Anything else.
    Failed(StoreError),
}

impl DynamoDbEventStore {
    pub(crate) async fn append_request(&self, request: AppendRequest) -> Result<Appended, AppendError> {
        request.validate()?;
        // Commands sharing the append are looked up side by side: one round
        // trip, however many there are.
        let lookups = request.commands.iter().map(|command| self.stored_command_record(command.command_id));
        if let Some(stored) = futures_util::future::try_join_all(lookups).await?.into_iter().flatten().next() {
            return Ok(Appended::AlreadyApplied(stored));
        }
        let mut expected = self.resolve_expected(&request).await?;
        for attempt in 0..ATTEMPTS_MAX {
            let plan = self.plan(&request, &expected).await?;
            let refused = match self.send(plan).await {
                Ok(()) => {
                    let versions: Vec<(AggregateId, Version)> = request
                        .streams
                        .iter()
                        .zip(&expected)
                        .map(|(stream, version)| (stream.aggregate_id, Version(version.0 + stream.events.len() as u64)))
                        .collect();
                    for &(aggregate_id, version) in &versions {
                        self.remember(aggregate_id, version);
                    }
                    return Ok(Appended::Committed(Commit { position: None, versions }));
                }
                Err(refused) => refused,
            };
            match refused {
                Refused::CommandStored(index, item) => {
                    return Ok(Appended::AlreadyApplied(self.command_stored(&request, index, item).await?));
                }
                Refused::Conflict(member) => {
                    let stream = &request.streams[member];
                    let actual = self.current_version(stream.aggregate_id).await?;
                    if stream.expected == ExpectedVersion::Any {
                        // "Any" was resolved to a version another writer has
                        // since passed: resolve again rather than conflict.
                        expected[member] = actual;
                        continue;
                    }
                    return Err(VersionConflict {
                        aggregate_id: stream.aggregate_id,
                        expected: stream.expected,
                        actual,
                    }
                    .into());
                }
                Refused::Contended => tokio::time::sleep(backoff(attempt)).await,
                // Unknown whether it committed: the caller retries with its command id.
                Refused::Failed(error) => return Err(error.into()),
            }
        }
        Err(StoreError::Unavailable(format!("the append stayed contended for {ATTEMPTS_MAX} attempts")).into())
    }

    /// The first result of a command whose id is already stored.
    async fn command_stored(
        &self,
        request: &AppendRequest,
        index: usize,
        item: Option<Item>,
    ) -> Result<CommandRecord, StoreError> {
        if let Some(item) = item {
            return command_record(&item);
        }
        let command_id = request.commands.get(index).map(|command| command.command_id);
        match command_id {
            Some(command_id) => self.stored_command_record(command_id).await?,
            None => None,
        }
        .ok_or_else(|| StoreError::Corrupt("a command's result vanished".into()))
    }

    /// The version each member must be at: `Any` becomes the current one.
    async fn resolve_expected(&self, request: &AppendRequest) -> Result<Vec<Version>, StoreError> {
        let mut expected = Vec::with_capacity(request.streams.len());
        for stream in &request.streams {
            expected.push(match stream.expected {
                ExpectedVersion::NoStream => Version::INITIAL,
                ExpectedVersion::Exact(version) => version,
                ExpectedVersion::Any => self.current_version(stream.aggregate_id).await?,
            });
        }
        Ok(expected)
    }

    /// Builds the writes for one attempt.
    async fn plan(&self, request: &AppendRequest, expected: &[Version]) -> Result<Plan, AppendError> {
        if let ([stream], [version], []) = (request.streams.as_slice(), expected, request.commands.as_slice())
            && let [event] = stream.events.as_slice()
        {
            if !self.is_known(stream.aggregate_id, *version) {
                // Prove the expected version exists (and is the last) with
                // a read, which costs less than a transaction's checks.
                let actual = self.current_version(stream.aggregate_id).await?;
                if actual != *version {
                    return Err(VersionConflict {
                        aggregate_id: stream.aggregate_id,
                        expected: stream.expected,
                        actual,
                    }
                    .into());
                }
            }
            let item = items::event_item(stream.aggregate_id, version.next(), event);
            check_item_size(&item)?;
            return Ok(Plan::Single(item));
        }
        self.plan_transaction(request, expected)
    }

    fn plan_transaction(&self, request: &AppendRequest, expected: &[Version]) -> Result<Plan, AppendError> {
        let events_table = &self.tables.events;
        let mut items = Vec::new();
        let mut actions = Vec::new();
        let mut bytes = 0;
        let check = |aggregate: &aws_sdk_dynamodb::types::AttributeValue, version: Version, exists: bool| {
            let condition = if exists { "attribute_exists(#a)" } else { "attribute_not_exists(#a)" };
            ConditionCheck::builder()
                .table_name(events_table)
                .key(attr::AGGREGATE_ID, aggregate.clone())
                .key(attr::AGGREGATE_VERSION, n(version.0))
                .condition_expression(condition)
                .expression_attribute_names("#a", attr::AGGREGATE_ID)
                .build()
                .map(|check| TransactWriteItem::builder().condition_check(check).build())
                .map_err(build_error)
        };
        for (member, (stream, &version)) in request.streams.iter().zip(expected).enumerate() {
            let aggregate = s(stream.aggregate_id.to_string());
            if version.0 > 0 && !self.is_known(stream.aggregate_id, version) {
                items.push(check(&aggregate, version, true)?);
                actions.push(Action::Member(member));
            }
            if stream.events.is_empty() {
                items.push(check(&aggregate, version.next(), false)?);
                actions.push(Action::Member(member));
            }
            let mut next = version;
            for event in &stream.events {
                next = next.next();
                let item = items::event_item(stream.aggregate_id, next, event);
                bytes += check_item_size(&item)?;
                let put = Put::builder()
                    .table_name(events_table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(#a)")
                    .expression_attribute_names("#a", attr::AGGREGATE_ID)
                    .build()
                    .map_err(build_error)?;
                items.push(TransactWriteItem::builder().put(put).build());
                actions.push(Action::Member(member));
            }
        }
        for (index, command) in request.commands.iter().enumerate() {
            let mut item = Item::new();
            item.insert(attr::KEY.into(), s(items::command_key(command.command_id)));
            item.insert(attr::RESULT.into(), s(command.result.clone()));
            bytes += items::item_bytes(&item);
            let put = Put::builder()
                .table_name(&self.tables.log)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#k)")
                .expression_attribute_names("#k", attr::KEY)
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().put(put).build());
            actions.push(Action::Command(index));
        }
        if items.len() > TRANSACT_ITEMS_MAX {
            return Err(InvalidAppend::TooManyEvents(request.event_count()).into());
        }
        if bytes > TRANSACT_BYTES_MAX {
            return Err(InvalidAppend::AppendTooLarge(bytes).into());
        }
        Ok(Plan::Transaction { items, actions })
    }

    async fn send(&self, plan: Plan) -> Result<(), Refused> {
        match plan {
            Plan::Single(item) => {
                let put = self
                    .client
                    .put_item()
                    .table_name(&self.tables.events)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(#a)")
                    .expression_attribute_names("#a", attr::AGGREGATE_ID)
                    .send()
                    .await;
                match written(put) {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(Refused::Conflict(0)),
                    Err(StoreError::Unavailable(_)) => Err(Refused::Contended),
                    Err(error) => Err(Refused::Failed(error)),
                }
            }
            Plan::Transaction { items, actions } => {
                let sent = self
                    .client
                    .transact_write_items()
                    .set_transact_items(Some(items))
                    // Makes the SDK's own retries of this attempt idempotent.
                    .client_request_token(uuid::Uuid::new_v4().to_string())
                    .send()
                    .await;
                match sent {
                    Ok(_) => Ok(()),
                    Err(error) => Err(classify(error, &actions)),
                }
            }
        }
    }
}

/// Refuses an event item larger than DynamoDB holds; returns its size.
fn check_item_size(item: &Item) -> Result<usize, InvalidAppend> {
    let bytes = items::item_bytes(item);
    if bytes > ITEM_BYTES_MAX {
        return Err(InvalidAppend::RecordTooLarge { bytes, max: ITEM_BYTES_MAX });
    }
    Ok(bytes)
}

/// Reads a failed transaction's cancellation reasons.
fn classify(
    error: SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
    actions: &[Action],
) -> Refused {
    let reasons: Vec<CancellationReason> = match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            cancelled.cancellation_reasons().to_vec()
        }
        Some(TransactWriteItemsError::TransactionInProgressException(_)) => return Refused::Contended,
        _ => {
            return match store_error(error) {
                StoreError::Unavailable(_) => Refused::Contended,
                error => Refused::Failed(error),
            };
        }
    };
    let failed = |wanted: fn(&Action) -> bool| {
        reasons
            .iter()
            .zip(actions)
            .find(|(reason, action)| reason.code() == Some("ConditionalCheckFailed") && wanted(action))
    };
    if let Some((reason, Action::Command(index))) = failed(|action| matches!(action, Action::Command(_))) {
        return Refused::CommandStored(*index, reason.item().cloned());
    }
    if let Some((_, Action::Member(member))) = failed(|action| matches!(action, Action::Member(_))) {
        return Refused::Conflict(*member);
    }
    let contended = reasons.iter().any(|reason| {
        matches!(reason.code(), Some("TransactionConflict" | "ProvisionedThroughputExceeded" | "ThrottlingError"))
    });
    if contended {
        return Refused::Contended;
    }
    let codes: Vec<&str> = reasons.iter().map(|reason| reason.code().unwrap_or("?")).collect();
    Refused::Failed(StoreError::Backend(format!("transaction cancelled for reasons {codes:?}").into()))
}

/// A stored command result item.
pub(crate) fn command_record(item: &Item) -> Result<CommandRecord, StoreError> {
    let key = items::text(item, attr::KEY)?;
    let command_id = key
        .strip_prefix("command#")
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("{key:?} is not a command key")))?;
    Ok(CommandRecord { command_id, result: items::text(item, attr::RESULT)?.to_owned() })
}

/// Grows with the attempt, with jitter so that colliding writers spread out.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let ceiling = Duration::from_millis(5u64.saturating_mul(1 << attempt.min(10))).min(CONTENTION_BACKOFF_MAX);
    let jitter = uuid::Uuid::new_v4().as_u128() % 1_000;
    ceiling.mul_f64(0.5 + jitter as f64 / 2_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_under_its_ceiling() {
        for attempt in 0..ATTEMPTS_MAX {
            assert!(backoff(attempt) <= CONTENTION_BACKOFF_MAX);
        }
        assert!(backoff(0) <= Duration::from_millis(5));
        assert!(backoff(6) >= Duration::from_millis(100));
    }

    #[test]
    fn a_command_record_is_read_from_its_item() {
        let id = es_core::CommandId::random();
        let mut item = Item::new();
        item.insert(attr::KEY.into(), s(items::command_key(id)));
        item.insert(attr::RESULT.into(), s("{\"ok\":true}"));
        assert_eq!(command_record(&item).ok(), Some(CommandRecord { command_id: id, result: "{\"ok\":true}".into() }));
        item.insert(attr::KEY.into(), s("head"));
        assert!(command_record(&item).is_err());
    }
}
