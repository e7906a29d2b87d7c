//! The live view of the event log; the page's script follows the API's stream of events.

use askama::Template;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::limits::LIVE_LOG_ROWS_MAX;
use crate::pages::{Ctx, Layout, Section, render};

#[derive(Debug, Deserialize)]
pub(super) struct LogQuery {
    /// `start` to show the log from its first event rather than from now.
    from: Option<String>,
}

#[derive(Template)]
#[template(path = "organiser/log.html")]
struct LogPage {
    layout: Layout,
    from_start: bool,
    rows_max: u32,
}

pub(super) async fn log_page(ctx: Ctx, query: Result<Query<LogQuery>, QueryRejection>) -> Response {
    let from_start = query.ok().and_then(|Query(query)| query.from).is_some_and(|from| from == "start");
    let page = ctx.organiser().and_then(|_| {
        render(
            &LogPage { layout: ctx.layout("Live log", Section::Log), from_start, rows_max: LIVE_LOG_ROWS_MAX },
            StatusCode::OK,
        )
    });
    ctx.finish(page)
}
