//! The host's operations listener (`serve --metrics-addr`): what an
//! operator's tools read, on an address of its own so that it can stay on a
//! private network while the shop faces the world.
//!
//! - `GET /metrics`: every figure the libraries record, in Prometheus's text
//!   format, and at each scrape the log's head and each read model's
//!   position, lag (in events, and in seconds: the age of the oldest event it
//!   has not applied) and whether it is failing.
//! - `GET /status`: the same read-model figures as JSON, with each one's last
//!   error, for `cloudbash status --url`.
//!
//! The figures come from [`ReadModelWatch`], which `/ready` reads too.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use es_core::{CancellationToken, EventStore, ProjectionStatus, StoreError};
use metrics_exporter_prometheus::PrometheusHandle;
use ticketing_api::edge::EdgeLimits;
use tokio::sync::watch;

use crate::status::{ReadModelStatus, Source, Status, lag_events, lag_seconds};

/// The read models of this process, as their runners publish their progress, and the log they follow.
#[derive(Clone)]
pub(crate) struct ReadModelWatch {
    store: Arc<dyn EventStore>,
    read_models: Vec<(String, watch::Receiver<ProjectionStatus>)>,
}

impl ReadModelWatch {
    /// Watches `read_models` (names and their runners' status) following `store`.
    pub(crate) fn new(
        store: Arc<dyn EventStore>,
        read_models: Vec<(String, watch::Receiver<ProjectionStatus>)>,
    ) -> Self {
        Self { store, read_models }
    }

    /// The figures at `now`.
    pub(crate) async fn status(&self, now: DateTime<Utc>) -> Result<Status, StoreError> {
        let head = self.store.head().await?;
        let mut read_models = Vec::with_capacity(self.read_models.len());
        for (name, status) in &self.read_models {
            let ProjectionStatus { position, failing } = status.borrow().clone();
            let oldest_unapplied = if position < head {
                self.store.read_all(position, 1).await?.first().map(|event| event.created)
            } else {
                None
            };
            read_models.push(ReadModelStatus {
                name: name.clone(),
                position: Some(position.0),
                lag_events: lag_events(head.0, position.0),
                lag_seconds: lag_seconds(now, oldest_unapplied),
                last_error: Some(failing),
                note: None,
            });
        }
        Ok(Status { source: Source::Process, head: head.0, read_models })
    }
}

/// The gauges of the log's head and of each read model, set from `status` just before a scrape renders them.
fn record(status: &Status) {
    metrics::gauge!("cloudbash_log_head_position").set(status.head as f64);
    for read_model in &status.read_models {
        let name = read_model.name.clone();
        let position = read_model.position.unwrap_or_default();
        metrics::gauge!("cloudbash_read_model_position", "read_model" => name.clone()).set(position as f64);
        metrics::gauge!("cloudbash_read_model_lag_events", "read_model" => name.clone())
            .set(read_model.lag_events as f64);
        metrics::gauge!("cloudbash_read_model_lag_seconds", "read_model" => name.clone()).set(read_model.lag_seconds);
        let failing = matches!(read_model.last_error, Some(Some(_)));
        metrics::gauge!("cloudbash_read_model_failing", "read_model" => name).set(if failing { 1.0 } else { 0.0 });
    }
}

#[derive(Clone)]
struct Operations {
    prometheus: PrometheusHandle,
    watch: ReadModelWatch,
}

/// Serves the operations routes on `listener` until `shutdown`, through the same server as the shop, with its
/// header-read timeout and cap on connections (`limits`).
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    prometheus: PrometheusHandle,
    watch: ReadModelWatch,
    limits: EdgeLimits,
    shutdown: CancellationToken,
) {
    let app = Router::new()
        .route("/metrics", get(metrics_text))
        .route("/status", get(status_json))
        .with_state(Operations { prometheus, watch });
    ticketing_api::server::serve(listener, app, &limits, shutdown).await;
}

async fn metrics_text(State(operations): State<Operations>) -> Response {
    match operations.watch.status(Utc::now()).await {
        Ok(status) => record(&status),
        // The rest is still worth scraping; the missing gauges say the log could not be read.
        Err(error) => tracing::warn!(%error, "the read models' progress cannot be measured"),
    }
    let text = operations.prometheus.render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

async fn status_json(State(operations): State<Operations>) -> Response {
    match operations.watch.status(Utc::now()).await {
        Ok(status) => Json(status).into_response(),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, format!("the log cannot be read: {error}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use es_core::{AggregateId, AppendRequest, EventId, ExpectedVersion, Metadata, NewEvent, Position};

    use super::*;

    #[tokio::test]
    async fn a_read_model_behind_the_log_lags_by_the_events_and_age_it_has_not_applied() {
        let store = Arc::new(es_core::memory::InMemoryEventStore::new());
        let created = Utc::now() - TimeDelta::seconds(3);
        for _ in 0..2 {
            let event = NewEvent {
                event_id: EventId::random(),
                event_type: "Happened".to_owned(),
                schema_version: 1,
                data: "{}".to_owned(),
                created,
                metadata: Metadata::default(),
            };
            let append = AppendRequest::single(AggregateId::random(), ExpectedVersion::NoStream, vec![event]);
            store.append(append).await.expect("appends");
        }
        let (behind, caught_up) =
            (watch::Sender::new(ProjectionStatus::default()), watch::Sender::new(ProjectionStatus::default()));
        let read_models = vec![("orders".to_owned(), behind.subscribe()), ("sales".to_owned(), caught_up.subscribe())];
        let watch = ReadModelWatch::new(store, read_models);
        behind.send_replace(ProjectionStatus { position: Position(1), failing: Some("disk full".to_owned()) });
        caught_up.send_replace(ProjectionStatus { position: Position(2), failing: None });

        let status = watch.status(created + TimeDelta::seconds(3)).await.expect("reads the log");

        assert_eq!(status.head, 2);
        let [orders, sales] = &status.read_models[..] else { panic!("two read models: {status:?}") };
        assert_eq!((orders.position, orders.lag_events, orders.lag_seconds), (Some(1), 1, 3.0));
        assert_eq!(orders.last_error, Some(Some("disk full".to_owned())));
        assert_eq!((sales.lag_events, sales.lag_seconds, &sales.last_error), (0, 0.0, &Some(None)));
    }
}
