//! One concert's page and what its forms post: its details, its date, its ticket types, publishing and cancelling.
//! Each post sends one command and comes back to the page, with a confirmation or with the refusal beside what was
//! typed.

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::profile::{ProfileBody, ProfileForm};
use super::{Feedback, command, fetch_concert, invalid, optional, refusal};
use crate::messages::Message;
use crate::model::{Concert, ConcertStatus};
use crate::money::{self, CURRENCIES, PriceError};
use crate::pages::shop::When;
use crate::pages::{Ctx, Layout, PageError, Section, render, see_other};

/// What the concert page confirms after a redirect; a fixed set, so the query string cannot put words on the page.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum ConcertDone {
    Created,
    Updated,
    Scheduled,
    TicketTypeAdded,
    TicketTypeRemoved,
    Published,
    Cancelled,
}

impl ConcertDone {
    fn sentence(self) -> &'static str {
        match self {
            ConcertDone::Created => "The concert is created as a draft. Add ticket types and a date, then publish it.",
            ConcertDone::Updated => "The concert's details are saved.",
            ConcertDone::Scheduled => "The concert is scheduled and its venue booked.",
            ConcertDone::TicketTypeAdded => "The ticket type is added.",
            ConcertDone::TicketTypeRemoved => "The ticket type is removed.",
            ConcertDone::Published => "The concert is published: it is in the programme and on sale.",
            ConcertDone::Cancelled => "The concert is cancelled.",
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ConcertQuery {
    done: Option<ConcertDone>,
}

/// What the forms of the concert page show: the concert's values, or what was typed when a post was refused.
#[derive(Debug, Default)]
struct ConcertForms {
    details: Option<DetailsForm>,
    schedule: Option<ScheduleForm>,
    ticket_type: Option<TicketTypeForm>,
}

/// A ticket type in the organiser's table.
#[derive(Debug)]
struct TicketTypeRow {
    id: Uuid,
    name: String,
    price: String,
    quantity: u32,
    available: u32,
}

#[derive(Template)]
#[template(path = "organiser/concert.html")]
struct ConcertPage {
    layout: Layout,
    id: Uuid,
    status: ConcertStatus,
    venue: String,
    starts: Option<When>,
    ticket_types: Vec<TicketTypeRow>,
    details: DetailsForm,
    schedule: ScheduleForm,
    ticket_type: TicketTypeForm,
    currencies: Vec<&'static str>,
    key: Uuid,
}

pub(super) async fn concert_page(
    ctx: Ctx,
    Path(concert_id): Path<String>,
    query: Result<Query<ConcertQuery>, QueryRejection>,
) -> Response {
    let Ok(concert_id) = Uuid::try_parse(&concert_id) else {
        return ctx.finish(Err(PageError::NotFound));
    };
    let done = query.ok().and_then(|Query(query)| query.done);
    let page = show_concert(
        &ctx,
        concert_id,
        ConcertForms::default(),
        Feedback::notice(done.map(|done| done.sentence().to_owned())),
    )
    .await;
    ctx.finish(page)
}

async fn show_concert(
    ctx: &Ctx,
    concert_id: Uuid,
    forms: ConcertForms,
    feedback: Feedback,
) -> Result<Response, PageError> {
    let concert = fetch_concert(ctx, concert_id).await?;
    let mut layout = ctx.layout(&concert.name, Section::Concerts);
    layout.notice = feedback.notice;
    layout.error = feedback.error;
    let details = forms.details.unwrap_or_else(|| DetailsForm {
        name: concert.name.clone(),
        profile: ProfileForm::of(&concert.profile),
        key: None,
    });
    let schedule = forms.schedule.unwrap_or_else(|| ScheduleForm {
        starts_at: concert.starts_at.map(|starts| ctx.zone.input_value(starts)).unwrap_or_default(),
        ends_at: concert.ends_at.map(|ends| ctx.zone.input_value(ends)).unwrap_or_default(),
    });
    let currency = concert.ticket_types.first().map_or("EUR", |ticket_type| ticket_type.price.currency.as_str());
    let ticket_type = forms
        .ticket_type
        .unwrap_or_else(|| TicketTypeForm { currency: currency.to_owned(), ..TicketTypeForm::default() });
    let page = ConcertPage {
        layout,
        id: concert.id,
        status: concert.status,
        venue: format!("{}, {}", concert.venue.name, concert.venue.city),
        starts: concert.starts_at.map(|starts| When::new(ctx.zone, starts)),
        ticket_types: concert
            .ticket_types
            .iter()
            .map(|ticket_type| TicketTypeRow {
                id: ticket_type.id,
                name: ticket_type.name.clone(),
                price: money::format(&ticket_type.price),
                quantity: ticket_type.quantity,
                available: ticket_type.available,
            })
            .collect(),
        details,
        schedule,
        ticket_type,
        currencies: CURRENCIES.iter().map(|(code, _)| *code).collect(),
        key: Uuid::new_v4(),
    };
    render(&page, feedback.status)
}

/// After a concert's command: back to its page with a confirmation, or the page with the refusal and `forms`.
async fn after_concert_command(
    ctx: &Ctx,
    concert_id: Uuid,
    result: Result<axum::body::Bytes, PageError>,
    done: &str,
    forms: ConcertForms,
) -> Response {
    match result {
        Ok(_) => see_other(&format!("/organiser/concerts/{concert_id}?done={done}")),
        Err(error) => match refusal(error) {
            Ok((message, status)) => {
                let page = show_concert(ctx, concert_id, forms, Feedback::refused(message, status)).await;
                ctx.finish(page)
            }
            Err(error) => ctx.finish(Err(error)),
        },
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct DetailsForm {
    name: String,
    #[serde(flatten)]
    profile: ProfileForm,
    key: Option<Uuid>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct UpdateConcert {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(flatten)]
    profile: ProfileBody,
}

impl UpdateConcert {
    /// The fields of `form` that differ from `concert`'s. An emptied optional field is left as it was: the API
    /// changes fields but does not clear them.
    fn changes(concert: &Concert, form: &DetailsForm) -> Self {
        let name = optional(&form.name).filter(|typed| *typed != concert.name);
        Self { name, profile: form.profile.changes(&concert.profile) }
    }

    fn is_empty(&self) -> bool {
        self.name.is_none() && self.profile.is_empty()
    }
}

pub(super) async fn update_details(
    ctx: Ctx,
    Path(concert_id): Path<Uuid>,
    form: Result<Form<DetailsForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return ctx.finish(Err(PageError::Form("The concert's details could not be read.".to_owned())));
    };
    let concert = match fetch_concert(&ctx, concert_id).await {
        Ok(concert) => concert,
        Err(error) => return ctx.finish(Err(error)),
    };
    let changes = UpdateConcert::changes(&concert, &form);
    if changes.is_empty() {
        return see_other(&format!("/organiser/concerts/{concert_id}"));
    }
    let result = command(&ctx, Method::PATCH, format!("/concerts/{concert_id}"), Some(&changes), form.key).await;
    after_concert_command(
        &ctx,
        concert_id,
        result,
        "updated",
        ConcertForms { details: Some(form), ..ConcertForms::default() },
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ScheduleForm {
    starts_at: String,
    ends_at: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ScheduleConcert {
    starts_at: String,
    ends_at: String,
}

pub(super) async fn schedule(
    ctx: Ctx,
    Path(concert_id): Path<Uuid>,
    form: Result<Form<ScheduleForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return ctx.finish(Err(PageError::Form("The schedule could not be read.".to_owned())));
    };
    let starts = ctx.zone.parse_input(&form.starts_at);
    let ends = ctx.zone.parse_input(&form.ends_at);
    let (Some(starts), Some(ends)) = (starts, ends) else {
        let mut details = Vec::new();
        if starts.is_none() {
            details.push("Starts: enter a date and time, such as 2030-02-01 20:00.".to_owned());
        }
        if ends.is_none() {
            details.push("Ends: enter a date and time, such as 2030-02-01 23:00.".to_owned());
        }
        let forms = ConcertForms { schedule: Some(form), ..ConcertForms::default() };
        let feedback = Feedback::refused(invalid(details), StatusCode::UNPROCESSABLE_ENTITY);
        let page = show_concert(&ctx, concert_id, forms, feedback).await;
        return ctx.finish(page);
    };
    let body = ScheduleConcert {
        starts_at: starts.to_rfc3339_opts(SecondsFormat::Millis, true),
        ends_at: ends.to_rfc3339_opts(SecondsFormat::Millis, true),
    };
    let result = command(&ctx, Method::POST, format!("/concerts/{concert_id}/schedule"), Some(&body), None).await;
    after_concert_command(
        &ctx,
        concert_id,
        result,
        "scheduled",
        ConcertForms { schedule: Some(form), ..ConcertForms::default() },
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct TicketTypeForm {
    name: String,
    price: String,
    currency: String,
    quantity: String,
    key: Option<Uuid>,
}

#[derive(Debug, Serialize)]
struct AddTicketType {
    name: String,
    price: crate::model::Money,
    quantity: u32,
}

/// The ticket type a form describes, or the messages of its invalid fields.
fn ticket_type_from(form: &TicketTypeForm) -> Result<AddTicketType, Vec<String>> {
    let mut problems = Vec::new();
    let amount = money::parse_price(&form.price).map_err(|error: PriceError| problems.push(format!("Price: {error}.")));
    let quantity = form
        .quantity
        .trim()
        .parse::<u32>()
        .map_err(|_| problems.push("Quantity: enter a whole number of tickets.".to_owned()));
    match (amount, quantity) {
        (Ok(amount), Ok(quantity)) => Ok(AddTicketType {
            name: form.name.trim().to_owned(),
            price: crate::model::Money { amount, currency: form.currency.trim().to_uppercase() },
            quantity,
        }),
        _ => Err(problems),
    }
}

pub(super) async fn add_ticket_type(
    ctx: Ctx,
    Path(concert_id): Path<Uuid>,
    form: Result<Form<TicketTypeForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return ctx.finish(Err(PageError::Form("The ticket type could not be read.".to_owned())));
    };
    let body = match ticket_type_from(&form) {
        Ok(body) => body,
        Err(problems) => {
            let forms = ConcertForms { ticket_type: Some(form), ..ConcertForms::default() };
            let feedback = Feedback::refused(invalid(problems), StatusCode::UNPROCESSABLE_ENTITY);
            let page = show_concert(&ctx, concert_id, forms, feedback).await;
            return ctx.finish(page);
        }
    };
    let path = format!("/concerts/{concert_id}/ticket-types");
    let result = command(&ctx, Method::POST, path, Some(&body), form.key).await;
    let forms = ConcertForms { ticket_type: Some(form), ..ConcertForms::default() };
    after_concert_command(&ctx, concert_id, result, "ticket-type-added", forms).await
}

pub(super) async fn remove_ticket_type(ctx: Ctx, Path((concert_id, ticket_type_id)): Path<(Uuid, Uuid)>) -> Response {
    let path = format!("/concerts/{concert_id}/ticket-types/{ticket_type_id}");
    let result = command::<()>(&ctx, Method::DELETE, path, None, None).await;
    after_concert_command(&ctx, concert_id, result, "ticket-type-removed", ConcertForms::default()).await
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ConfirmForm {
    confirm: Option<String>,
    key: Option<Uuid>,
}

pub(super) async fn publish(
    ctx: Ctx,
    Path(concert_id): Path<Uuid>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Response {
    let key = form.ok().and_then(|Form(form)| form.key);
    let result = command::<()>(&ctx, Method::POST, format!("/concerts/{concert_id}/publish"), None, key).await;
    after_concert_command(&ctx, concert_id, result, "published", ConcertForms::default()).await
}

pub(super) async fn cancel(
    ctx: Ctx,
    Path(concert_id): Path<Uuid>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(form)| form).unwrap_or_default();
    if form.confirm.as_deref() != Some("yes") {
        let message = Message::new("Tick the box to confirm that the concert is cancelled; this cannot be undone.");
        let feedback = Feedback::refused(message, StatusCode::UNPROCESSABLE_ENTITY);
        let page = show_concert(&ctx, concert_id, ConcertForms::default(), feedback).await;
        return ctx.finish(page);
    }
    let result = command::<()>(&ctx, Method::POST, format!("/concerts/{concert_id}/cancel"), None, form.key).await;
    after_concert_command(&ctx, concert_id, result, "cancelled", ConcertForms::default()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn concert() -> Concert {
        serde_json::from_value(serde_json::json!({
            "id": Uuid::nil(), "name": "Night of the Crabs", "description": null, "genre": "rock", "imageUrl": null,
            "status": "draft", "startsAt": null, "endsAt": null,
            "venue": {"id": Uuid::nil(), "name": "Paradiso", "city": "Amsterdam"}, "ticketTypes": []
        }))
        .expect("a concert document")
    }

    fn details(name: &str, genre: &str, description: &str) -> DetailsForm {
        DetailsForm {
            name: name.to_owned(),
            profile: ProfileForm {
                genre: genre.to_owned(),
                description: description.to_owned(),
                ..ProfileForm::default()
            },
            key: None,
        }
    }

    #[test]
    fn only_changed_details_are_sent() {
        let changes = UpdateConcert::changes(&concert(), &details("Night of the Crabs", "punk", "Loud."));

        assert_eq!(changes.name, None);
        let sent = serde_json::to_value(&changes).unwrap_or_default();
        assert_eq!(sent, serde_json::json!({"genre": "punk", "description": "Loud."}), "the poster is unchanged");
    }

    #[test]
    fn an_unchanged_form_changes_nothing() {
        assert!(UpdateConcert::changes(&concert(), &details(" Night of the Crabs ", "rock", "")).is_empty());
    }

    #[test]
    fn a_ticket_type_form_names_every_invalid_field() {
        let form = TicketTypeForm {
            name: "Standing".to_owned(),
            price: "lots".to_owned(),
            currency: "eur".to_owned(),
            quantity: "-3".to_owned(),
            key: None,
        };

        let problems = ticket_type_from(&form).expect_err("the form is invalid");

        assert_eq!(problems.len(), 2);
        assert!(problems[0].starts_with("Price:") && problems[1].starts_with("Quantity:"), "{problems:?}");
    }

    #[test]
    fn a_ticket_type_form_becomes_the_apis_document() {
        let form = TicketTypeForm {
            name: " Standing ".to_owned(),
            price: "35,50".to_owned(),
            currency: "eur".to_owned(),
            quantity: "800".to_owned(),
            key: None,
        };

        let body = ticket_type_from(&form).expect("the form is valid");

        assert_eq!(
            serde_json::to_value(&body).expect("serializes"),
            serde_json::json!({"name": "Standing", "price": {"amount": 3550, "currency": "EUR"}, "quantity": 800})
        );
    }
}
