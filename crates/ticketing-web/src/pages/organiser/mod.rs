//! The organiser's pages: venues; concerts (create, edit, schedule, ticket types, publish, cancel); the attendee
//! list with check-in by code; the sales report as charts; and the live view of the event log. Each form posts to
//! a route here that sends one API command with the organiser's token and redirects back with a confirmation, or
//! shows the page again with the API's refusal and what was typed.
//!
//! The API lists only published concerts (`GET /concerts`); a draft is reached from its own page, which creating
//! it opens, until the API offers organisers a list of drafts.
//!
//! One module per page or group of pages: the concert list and the new concert ([`concerts`]), one concert's page
//! and its forms ([`concert`]), the attendees and the door ([`attendees`]), the sales report ([`sales`]), the venues
//! ([`venues`]) and the live log ([`log`]). What their forms share (sending a command, showing a refusal) is here.

mod attendees;
mod concert;
mod concerts;
mod log;
mod profile;
mod sales;
mod venues;

use axum::Router;
use axum::http::{Method, StatusCode};
use axum::routing::{get, post};
use serde::Serialize;
use uuid::Uuid;

use self::attendees::{attendees_page, check_in};
use self::concert::{add_ticket_type, cancel, concert_page, publish, remove_ticket_type, schedule, update_details};
use self::concerts::{concerts_page, create_concert, new_concert_page};
use self::log::log_page;
use self::sales::sales_page;
use self::venues::{create_venue, delete_venue, venues_page};
use crate::WebState;
use crate::api::{ApiError, Command};
use crate::messages::Message;
use crate::model::Concert;
use crate::pages::{Ctx, PageError, not_found};

pub(super) fn routes() -> Router<WebState> {
    let organiser = Router::new()
        .route("/", get(concerts_page))
        .route("/venues", get(venues_page).post(create_venue))
        .route("/venues/{venue_id}/delete", post(delete_venue))
        .route("/concerts/new", get(new_concert_page))
        .route("/concerts", post(create_concert))
        .route("/concerts/{concert_id}", get(concert_page))
        .route("/concerts/{concert_id}/details", post(update_details))
        .route("/concerts/{concert_id}/schedule", post(schedule))
        .route("/concerts/{concert_id}/ticket-types", post(add_ticket_type))
        .route("/concerts/{concert_id}/ticket-types/{ticket_type_id}/remove", post(remove_ticket_type))
        .route("/concerts/{concert_id}/publish", post(publish))
        .route("/concerts/{concert_id}/cancel", post(cancel))
        .route("/concerts/{concert_id}/attendees", get(attendees_page))
        .route("/concerts/{concert_id}/check-in", post(check_in))
        .route("/concerts/{concert_id}/sales", get(sales_page))
        .route("/log", get(log_page))
        .fallback(not_found);
    Router::new().nest("/organiser", organiser)
}

/// Sends a command as the signed-in organiser.
async fn command<B: Serialize>(
    ctx: &Ctx,
    method: Method,
    path: String,
    body: Option<&B>,
    key: Option<Uuid>,
) -> Result<axum::body::Bytes, PageError> {
    let session = ctx.organiser()?;
    Ok(ctx.state.api().command(Command { method, path, token: &session.token, body, key }).await?)
}

/// A failed command as the message to show on the form's page, or as the failure of the whole page when it is not
/// the form's to fix (signed out, not an organiser, a server error).
fn refusal(error: PageError) -> Result<(Message, StatusCode), PageError> {
    match error {
        PageError::Api(ApiError::Problem(problem)) if (400..500).contains(&problem.status) && problem.status != 401 => {
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST);
            Ok((Message::from_problem(&problem), status))
        }
        other => Err(other),
    }
}

/// Text typed in an optional field: `None` when left empty.
fn optional(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// The fields the user typed wrong before anything was sent, as one message.
fn invalid(details: Vec<String>) -> Message {
    Message { headline: "Please check what you entered.".to_owned(), details }
}

/// What a page says besides its content, and its status.
#[derive(Debug)]
struct Feedback {
    notice: Option<String>,
    error: Option<Message>,
    status: StatusCode,
}

impl Feedback {
    /// A page as asked for, with `notice` confirming what was just done, if anything.
    fn notice(notice: Option<String>) -> Self {
        Self { notice, error: None, status: StatusCode::OK }
    }

    fn refused(message: Message, status: StatusCode) -> Self {
        Self { notice: None, error: Some(message), status }
    }
}

/// One page of a list the API pages through.
#[derive(Debug, Serialize)]
struct PageQuery<'a> {
    limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<&'a str>,
}

async fn fetch_concert(ctx: &Ctx, concert_id: Uuid) -> Result<Concert, PageError> {
    let session = ctx.organiser()?;
    Ok(ctx.state.api().get(&format!("/concerts/{concert_id}"), Some(&session.token)).await?)
}
