//! One append, one `TransactWriteItems`: every event as a `Put` conditioned
//! on `attribute_not_exists` (the seed's optimistic concurrency on
//! `(AggregateId, AggregateVersion)`), a `ConditionCheck` that the expected
//! version exists, the command id (idempotency) and the log's head, all or
//! nothing.
//!
//! Why the head is in every transaction: the kernel promises a log read in
//! commit order without gaps (`read_all`, subscriptions, rebuilds). A head
//! item advanced under a condition (`Position = old`) gives every committed
//! event a dense, unique position in commit order, and positions of failed
//! appends are never used. The price is one serialization point for all
//! appends; within a process appends take turns on it (no self-inflicted
//! conflicts), across processes a moved head fails the condition, the
//! failure carries the new head, and the append is retried at once.
//!
//! A failed transaction is classified from its cancellation reasons, one per
//! action and in the same order, never from message text: the command's
//! action failing means "already applied", a member's means a version
//! conflict, the head's means "retry with the new head".

use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    CancellationReason, ConditionCheck, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use es_core::{
    AppendError, AppendRequest, Appended, CommandRecord, Commit, ExpectedVersion, InvalidAppend, Position, StoreError,
    Version, VersionConflict,
};

use crate::DynamoDbEventStore;
use crate::error::{build_error, store_error};
use crate::items::{self, HEAD_KEY, Item, attr, n, s};
use crate::limits::{
    CONTENTION_BACKOFF_MAX, HEAD_ATTEMPTS_MAX, ITEM_BYTES_MAX, TRANSACT_BYTES_MAX, TRANSACT_ITEMS_MAX,
};

/// What each action of the transaction stands for, so that a cancellation
/// reason (reported per action, in order) can be traced back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    /// A version check or an event of the request's member at this index.
    Member(usize),
    /// The command id's result.
    Command,
    /// The log's head.
    Head,
}

/// The transaction for one attempt.
struct Plan {
    items: Vec<TransactWriteItem>,
    actions: Vec<Action>,
    versions: Vec<(es_core::AggregateId, Version)>,
    last: Position,
}

/// How a cancelled transaction is to be handled.
#[derive(Debug)]
enum Cancelled {
    /// The command id is stored: this is a retry of a committed command.
    CommandStored(Option<Item>),
    /// A member's version check failed.
    Conflict(usize),
    /// The head moved (another process appended); retry from this head.
    HeadMoved(Option<Item>),
    /// Transactions on the same items collided, or DynamoDB throttled; retry
    /// after a pause.
    Contended,
}

impl DynamoDbEventStore {
    pub(crate) async fn append_request(&self, request: AppendRequest) -> Result<Appended, AppendError> {
        request.validate()?;
        if let Some(command) = &request.command
            && let Some(stored) = self.stored_command_record(command.command_id).await?
        {
            return Ok(Appended::AlreadyApplied(stored));
        }
        // Appends from this process take turns on the head: the guard holds
        // the head this process last committed (or read).
        let mut head = self.head.lock().await;
        let mut expected = self.resolve_expected(&request).await?;
        for attempt in 0..HEAD_ATTEMPTS_MAX {
            let base = match *head {
                Some(position) => position,
                None => self.read_head().await?,
            };
            let plan = self.plan(&request, &expected, base)?;
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(plan.items))
                // Makes the SDK's own retries of this attempt idempotent.
                .client_request_token(uuid::Uuid::new_v4().to_string())
                .send()
                .await;
            let error = match sent {
                Ok(_) => {
                    *head = Some(plan.last);
                    self.commits.send_replace(plan.last);
                    return Ok(Appended::Committed(Commit { position: Some(plan.last), versions: plan.versions }));
                }
                Err(error) => error,
            };
            match classify(error, &plan.actions) {
                Ok(Cancelled::CommandStored(item)) => {
                    *head = None;
                    let stored = match item {
                        Some(item) => command_record(&item)?,
                        None => {
                            let command_id = request.command.as_ref().map(|command| command.command_id);
                            match command_id {
                                Some(command_id) => self.stored_command_record(command_id).await?,
                                None => None,
                            }
                            .ok_or_else(|| StoreError::Corrupt("a command's result vanished".into()))?
                        }
                    };
                    return Ok(Appended::AlreadyApplied(stored));
                }
                Ok(Cancelled::Conflict(member)) => {
                    // Other appends of this process need not wait for the
                    // loser's look-up.
                    drop(head);
                    let stream = &request.streams[member];
                    let actual = self.current_version(stream.aggregate_id).await?;
                    if stream.expected == ExpectedVersion::Any {
                        // "Any" was resolved to a version another writer has
                        // since passed: resolve again rather than conflict.
                        expected[member] = actual;
                        head = self.head.lock().await;
                        continue;
                    }
                    return Err(VersionConflict {
                        aggregate_id: stream.aggregate_id,
                        expected: stream.expected,
                        actual,
                    }
                    .into());
                }
                Ok(Cancelled::HeadMoved(item)) => {
                    *head = match item {
                        Some(item) => Some(Position(items::number(&item, attr::POSITION)?)),
                        None => None,
                    };
                }
                Ok(Cancelled::Contended) => {
                    *head = None;
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(error) => {
                    // Unknown whether it committed: forget the head, and let
                    // the caller retry with its command id.
                    *head = None;
                    return Err(error.into());
                }
            }
        }
        Err(StoreError::Unavailable(format!("the log's head stayed contended for {HEAD_ATTEMPTS_MAX} attempts")).into())
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

    /// Builds the transaction for one attempt from the head `base`.
    fn plan(&self, request: &AppendRequest, expected: &[Version], base: Position) -> Result<Plan, AppendError> {
        let events_table = &self.tables.events;
        let mut items = Vec::new();
        let mut actions = Vec::new();
        let mut versions = Vec::with_capacity(request.streams.len());
        let mut bytes = 0;
        let mut position = base.0;
        for (member, (stream, &version)) in request.streams.iter().zip(expected).enumerate() {
            let aggregate = items::s(stream.aggregate_id.to_string());
            if version.0 > 0 {
                // The expected version must exist: without this a stale
                // expectation beyond the stream's end would leave a gap.
                let check = ConditionCheck::builder()
                    .table_name(events_table)
                    .key(attr::AGGREGATE_ID, aggregate.clone())
                    .key(attr::AGGREGATE_VERSION, n(version.0))
                    .condition_expression("attribute_exists(#a)")
                    .expression_attribute_names("#a", attr::AGGREGATE_ID)
                    .build()
                    .map_err(build_error)?;
                items.push(TransactWriteItem::builder().condition_check(check).build());
                actions.push(Action::Member(member));
            }
            if stream.events.is_empty() {
                let check = ConditionCheck::builder()
                    .table_name(events_table)
                    .key(attr::AGGREGATE_ID, aggregate)
                    .key(attr::AGGREGATE_VERSION, n(version.0 + 1))
                    .condition_expression("attribute_not_exists(#a)")
                    .expression_attribute_names("#a", attr::AGGREGATE_ID)
                    .build()
                    .map_err(build_error)?;
                items.push(TransactWriteItem::builder().condition_check(check).build());
                actions.push(Action::Member(member));
            }
            let mut next = version;
            for event in &stream.events {
                next = next.next();
                position += 1;
                let item = items::event_item(stream.aggregate_id, next, Position(position), event);
                let item_bytes = items::item_bytes(&item);
                if item_bytes > ITEM_BYTES_MAX {
                    return Err(InvalidAppend::RecordTooLarge { bytes: item_bytes, max: ITEM_BYTES_MAX }.into());
                }
                bytes += item_bytes;
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
            versions.push((stream.aggregate_id, next));
        }
        if let Some(command) = &request.command {
            let mut item = Item::new();
            item.insert(attr::KEY.into(), s(items::command_key(command.command_id)));
            item.insert(attr::RESULT.into(), s(command.result.clone()));
            item.insert(attr::POSITION.into(), n(position));
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
            actions.push(Action::Command);
        }
        let mut head = Item::new();
        head.insert(attr::KEY.into(), s(HEAD_KEY));
        head.insert(attr::POSITION.into(), n(position));
        let head = Put::builder()
            .table_name(&self.tables.log)
            .set_item(Some(head))
            .expression_attribute_names("#p", attr::POSITION)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let head = if base.0 == 0 {
            head.condition_expression("attribute_not_exists(#k) OR #p = :base")
                .expression_attribute_names("#k", attr::KEY)
        } else {
            head.condition_expression("#p = :base")
        };
        let head = head.expression_attribute_values(":base", n(base.0)).build().map_err(build_error)?;
        items.push(TransactWriteItem::builder().put(head).build());
        actions.push(Action::Head);

        if items.len() > TRANSACT_ITEMS_MAX {
            return Err(InvalidAppend::TooManyEvents(request.event_count()).into());
        }
        if bytes > TRANSACT_BYTES_MAX {
            return Err(InvalidAppend::AppendTooLarge(bytes).into());
        }
        Ok(Plan { items, actions, versions, last: Position(position) })
    }
}

/// Reads a failed transaction's cancellation reasons; anything else is a
/// store error.
fn classify(
    error: SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
    actions: &[Action],
) -> Result<Cancelled, StoreError> {
    let reasons: Vec<CancellationReason> = match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            cancelled.cancellation_reasons().to_vec()
        }
        Some(TransactWriteItemsError::TransactionInProgressException(_)) => return Ok(Cancelled::Contended),
        _ => return Err(store_error(error)),
    };
    let failed = |wanted: fn(&Action) -> bool| {
        reasons
            .iter()
            .zip(actions)
            .find(|(reason, action)| reason.code() == Some("ConditionalCheckFailed") && wanted(action))
    };
    if let Some((reason, _)) = failed(|action| *action == Action::Command) {
        return Ok(Cancelled::CommandStored(reason.item().cloned()));
    }
    if let Some((_, Action::Member(member))) = failed(|action| matches!(action, Action::Member(_))) {
        return Ok(Cancelled::Conflict(*member));
    }
    if let Some((reason, _)) = failed(|action| *action == Action::Head) {
        return Ok(Cancelled::HeadMoved(reason.item().cloned()));
    }
    let contended = reasons.iter().any(|reason| {
        matches!(reason.code(), Some("TransactionConflict" | "ProvisionedThroughputExceeded" | "ThrottlingError"))
    });
    if contended {
        return Ok(Cancelled::Contended);
    }
    let codes: Vec<&str> = reasons.iter().map(|reason| reason.code().unwrap_or("?")).collect();
    Err(StoreError::Backend(format!("transaction cancelled for reasons {codes:?}").into()))
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
        for attempt in 0..HEAD_ATTEMPTS_MAX {
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
