//! The `projector` function: a batch of the Kinesis bus applied to every read model (the PostgreSQL ones and the
//! carts). Each read model is its own `BusSink` with its own applied versions, so each takes the batch through
//! `es_aws_bus::kinesis::handle_kinesis_event` on its own, all at once; the batch's answer to the event source
//! mapping is the earliest record any of them failed on. Retrying from there is safe for the others: what a read
//! model has applied it skips by version.
//!
//! Each batch records how long its oldest record waited on the bus (`cloudbash_bus_consumer_lag_seconds` of the
//! consumer `projector`: how far the read models are behind the bus) and the events every read model took
//! (`cloudbash_projector_events_total`).

use std::sync::Arc;

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use es_aws_bus::kinesis::handle_kinesis_event;
use es_aws_bus::sink::BusSink;
use es_core::EventStore;

use crate::figures::{PROJECTOR_EVENTS_TOTAL, record_lag};
use crate::{LambdaError, Resources};

/// Applies one batch of the bus to every read model.
pub async fn handle(resources: &Resources, event: KinesisEvent) -> Result<KinesisEventResponse, LambdaError> {
    let arrivals = event.records.iter().map(|record| record.kinesis.approximate_arrival_timestamp.0);
    record_lag("projector", arrivals, chrono::Utc::now());
    let sinks = resources.sinks().await?;
    // Keeps the database password current (RDS rotates it); a no-op between refreshes.
    resources.pool().await?;
    let log = resources.log().await?;
    Ok(project(sinks, log.as_ref(), event).await)
}

/// Applies `event` to each of `sinks`, filling gaps from `log`, and reports the earliest failed record; counts the
/// records before it, which every sink has taken.
pub async fn project(sinks: &[Arc<dyn BusSink>], log: &dyn EventStore, event: KinesisEvent) -> KinesisEventResponse {
    let order: Vec<String> = event.records.iter().map(|record| record.kinesis.sequence_number.clone()).collect();
    let answers = futures_util::future::join_all(
        sinks.iter().map(|sink| handle_kinesis_event(sink.as_ref(), log, event.clone())),
    )
    .await;
    let earliest = answers
        .into_iter()
        .flat_map(|answer| answer.batch_item_failures)
        .filter_map(|failure| failure.item_identifier)
        .min_by_key(|sequence| order.iter().position(|known| known == sequence).unwrap_or(usize::MAX));
    let taken = earliest.as_ref().and_then(|sequence| order.iter().position(|known| known == sequence));
    metrics::counter!(PROJECTOR_EVENTS_TOTAL).increment(taken.unwrap_or(order.len()) as u64);
    let mut response = KinesisEventResponse::default();
    if let Some(sequence) = earliest {
        let mut failure = KinesisBatchItemFailure::default();
        failure.item_identifier = Some(sequence);
        response.batch_item_failures.push(failure);
    }
    response
}
