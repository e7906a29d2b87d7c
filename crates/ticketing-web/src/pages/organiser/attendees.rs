//! The attendee list of a concert, and check-in at its door by ticket code.

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::{Feedback, command, fetch_concert, refusal};
use crate::api::{ApiError, with_query};
use crate::messages::Message;
use crate::model::Attendee;
use crate::pages::shop::When;
use crate::pages::{Ctx, Layout, PageError, Section, render, see_other};

/// An attendee in the list.
#[derive(Debug)]
struct AttendeeRow {
    code: String,
    ticket_type: String,
    order: String,
    checked_in: Option<When>,
}

#[derive(Template)]
#[template(path = "organiser/attendees.html")]
struct AttendeesPage {
    layout: Layout,
    id: Uuid,
    concert: String,
    attendees: Vec<AttendeeRow>,
    checked_in: usize,
    code: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct AttendeesQuery {
    checked_in: Option<String>,
}

pub(super) async fn attendees_page(
    ctx: Ctx,
    Path(concert_id): Path<Uuid>,
    query: Result<Query<AttendeesQuery>, QueryRejection>,
) -> Response {
    let checked_in = query.ok().and_then(|Query(query)| query.checked_in).filter(|code| is_ticket_code(code));
    let feedback = Feedback::notice(checked_in.map(|code| format!("Ticket {code} is checked in. Welcome!")));
    let page = show_attendees(&ctx, concert_id, String::new(), feedback).await;
    ctx.finish(page)
}

async fn show_attendees(ctx: &Ctx, concert_id: Uuid, code: String, feedback: Feedback) -> Result<Response, PageError> {
    let session = ctx.organiser()?;
    let concert = fetch_concert(ctx, concert_id).await?;
    let attendees: Vec<Attendee> =
        ctx.state.api().get_all(&format!("/concerts/{concert_id}/attendees"), Some(&session.token)).await?;
    let checked_in = attendees.iter().filter(|attendee| attendee.checked_in_at.is_some()).count();
    let attendees = attendees
        .into_iter()
        .map(|attendee| AttendeeRow {
            ticket_type: concert
                .ticket_type(attendee.ticket_type_id)
                .map_or_else(|| "—".to_owned(), |ticket_type| ticket_type.name.clone()),
            // The end of the id: ids are time-ordered UUIDs, whose first characters orders of one day share.
            order: {
                let mut id = attendee.order_id.simple().to_string();
                id.split_off(id.len() - 8)
            },
            checked_in: attendee.checked_in_at.map(|at| When::new(ctx.zone, at)),
            code: attendee.ticket_code,
        })
        .collect();
    let mut layout = ctx.layout(&format!("Attendees of {}", concert.name), Section::Concerts);
    layout.notice = feedback.notice;
    layout.error = feedback.error;
    let page = AttendeesPage { layout, id: concert_id, concert: concert.name, attendees, checked_in, code };
    render(&page, feedback.status)
}

/// Whether `code` could be a ticket code: letters and digits only (the API checks the rest).
fn is_ticket_code(code: &str) -> bool {
    !code.is_empty() && code.len() <= 64 && code.bytes().all(|byte| byte.is_ascii_alphanumeric())
}

#[derive(Debug, Deserialize)]
pub(super) struct CheckInForm {
    code: String,
}

pub(super) async fn check_in(
    ctx: Ctx,
    Path(concert_id): Path<Uuid>,
    form: Result<Form<CheckInForm>, FormRejection>,
) -> Response {
    let typed = form.map(|Form(form)| form.code).unwrap_or_default();
    // Codes are printed in capitals; a door scanner or a person may send them in any case, with spaces around.
    let code = typed.trim().to_uppercase();
    if !is_ticket_code(&code) {
        let message = Message::new("A ticket code has only letters and digits.");
        return refuse_check_in(&ctx, concert_id, typed, message, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    // At this concert's door, only this concert's tickets may pass: the API's door route refuses the others too,
    // but the attendee list answers with a message that fits the page.
    let session = match ctx.organiser() {
        Ok(session) => session,
        Err(error) => return ctx.finish(Err(error)),
    };
    let attendees: Result<Vec<Attendee>, ApiError> =
        ctx.state.api().get_all(&format!("/concerts/{concert_id}/attendees"), Some(&session.token)).await;
    match attendees {
        Ok(attendees) if attendees.iter().any(|attendee| attendee.ticket_code == code) => {}
        Ok(_) => {
            let message = Message::new(format!("Ticket {code} is not a ticket for this concert."));
            return refuse_check_in(&ctx, concert_id, typed, message, StatusCode::NOT_FOUND).await;
        }
        Err(error) => return ctx.finish(Err(error.into())),
    }
    let result =
        command::<()>(&ctx, Method::POST, format!("/concerts/{concert_id}/tickets/{code}/check-in"), None, None).await;
    match result {
        Ok(_) => {
            see_other(&with_query(&format!("/organiser/concerts/{concert_id}/attendees"), &[("checked_in", &code)]))
        }
        Err(error) => match refusal(error) {
            Ok((message, status)) => refuse_check_in(&ctx, concert_id, typed, message, status).await,
            Err(error) => ctx.finish(Err(error)),
        },
    }
}

/// The attendee list again, with why the check-in was refused and the code as typed.
async fn refuse_check_in(ctx: &Ctx, concert_id: Uuid, typed: String, message: Message, status: StatusCode) -> Response {
    let page = show_attendees(ctx, concert_id, typed, Feedback::refused(message, status)).await;
    ctx.finish(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_letters_and_digits_can_be_a_ticket_code() {
        assert!(is_ticket_code("ABCDEFGHIJ0123456789"));
        for code in ["", "ABC/../x", "ABC DEF", "ABC?x=1", &"A".repeat(65)] {
            assert!(!is_ticket_code(code), "{code:?}");
        }
    }
}
