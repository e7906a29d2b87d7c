//! The organiser's pages: venues; concerts (create, edit, schedule, ticket types, publish, cancel); the attendee
//! list with check-in by code; the sales report as charts; and the live view of the event log. Each form posts to
//! a route here that sends one API command with the organiser's token and redirects back with a confirmation, or
//! shows the page again with the API's refusal and what was typed.
//!
//! The API lists only published concerts (`GET /concerts`); a draft is reached from its own page, which creating
//! it opens, until the API offers organisers a list of drafts.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::shop::When;
use crate::WebState;
use crate::api::{ApiError, Command, with_query};
use crate::chart::{self, BarChart};
use crate::limits::{LIVE_LOG_ROWS_MAX, VENUES_PAGE_MAX};
use crate::messages::Message;
use crate::model::{
    Attendee, Concert, ConcertListed, ConcertStatus, Created, DaySales, DraftListed, Items, Page, Venue,
};
use crate::money::{self, CURRENCIES, PriceError};
use crate::pages::{Ctx, Layout, PageError, Section, not_found, render, see_other};

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

// ----- Concerts -----

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    /// Where the published concerts' page starts.
    cursor: Option<String>,
    /// Where the drafts' page starts.
    drafts: Option<String>,
}

/// A concert in the organiser's list.
#[derive(Debug)]
struct ConcertRow {
    id: Uuid,
    name: String,
    when: When,
    venue: String,
}

#[derive(Template)]
#[template(path = "organiser/concerts.html")]
struct ConcertsPage {
    layout: Layout,
    drafts: Vec<DraftRow>,
    more_drafts: Option<String>,
    concerts: Vec<ConcertRow>,
    next_page: Option<String>,
}

/// A draft in the organiser's list: perhaps not scheduled yet.
#[derive(Debug)]
struct DraftRow {
    id: Uuid,
    name: String,
    when: Option<When>,
    venue: String,
}

#[derive(Debug, Serialize)]
struct PageQuery<'a> {
    limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<&'a str>,
}

async fn concerts_page(ctx: Ctx, query: Result<Query<ListQuery>, QueryRejection>) -> Response {
    let ListQuery { cursor, drafts: drafts_cursor } = query.map(|Query(query)| query).unwrap_or_default();
    let page = async {
        let session = ctx.organiser()?;
        let list = PageQuery { limit: 100, cursor: drafts_cursor.as_deref() };
        let drafts: Page<DraftListed> =
            ctx.state.api().get(&with_query("/concerts/drafts", &list), Some(&session.token)).await?;
        let more_drafts = drafts.next_cursor.map(|next| with_query("/organiser", &[("drafts", next)]));
        let drafts = drafts
            .items
            .into_iter()
            .map(|draft| DraftRow {
                id: draft.id,
                when: draft.starts_at.map(|starts_at| When::new(ctx.zone, starts_at)),
                venue: format!("{}, {}", draft.venue.name, draft.venue.city),
                name: draft.name,
            })
            .collect();
        let list = PageQuery { limit: 100, cursor: cursor.as_deref() };
        let page: Page<ConcertListed> =
            ctx.state.api().get(&with_query("/concerts", &list), Some(&session.token)).await?;
        let concerts = page
            .items
            .into_iter()
            .map(|concert| ConcertRow {
                id: concert.id,
                when: When::new(ctx.zone, concert.starts_at),
                venue: format!("{}, {}", concert.venue.name, concert.venue.city),
                name: concert.name,
            })
            .collect();
        let next_page = page.next_cursor.map(|cursor| with_query("/organiser", &[("cursor", cursor)]));
        let layout = ctx.layout("Concerts", Section::Concerts);
        render(&ConcertsPage { layout, drafts, more_drafts, concerts, next_page }, StatusCode::OK)
    };
    let page = page.await;
    ctx.finish(page)
}

/// What the new-concert form shows: the venues to choose from and what was typed.
#[derive(Template)]
#[template(path = "organiser/concert_new.html")]
struct NewConcertPage {
    layout: Layout,
    venues: Vec<Venue>,
    form: ConcertForm,
    key: Uuid,
}

#[derive(Debug, Default, Deserialize)]
struct ConcertForm {
    name: String,
    venue_id: String,
    #[serde(default)]
    genre: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    image_url: String,
    key: Option<Uuid>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateConcert {
    name: String,
    venue_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    genre: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_url: Option<String>,
}

async fn new_concert_page(ctx: Ctx) -> Response {
    let page = show_new_concert(&ctx, ConcertForm::default(), None, StatusCode::OK).await;
    ctx.finish(page)
}

async fn show_new_concert(
    ctx: &Ctx,
    form: ConcertForm,
    error: Option<Message>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let session = ctx.organiser()?;
    let venues: Page<Venue> =
        ctx.state.api().get(&format!("/venues?limit={VENUES_PAGE_MAX}"), Some(&session.token)).await?;
    let mut layout = ctx.layout("New concert", Section::Concerts);
    layout.error = error;
    render(&NewConcertPage { layout, venues: venues.items, form, key: Uuid::new_v4() }, status)
}

async fn create_concert(ctx: Ctx, form: Result<Form<ConcertForm>, FormRejection>) -> Response {
    let Ok(Form(form)) = form else {
        return ctx.finish(Err(PageError::Form("The concert form could not be read.".to_owned())));
    };
    let Ok(venue_id) = Uuid::try_parse(form.venue_id.trim()) else {
        let page = show_new_concert(
            &ctx,
            form,
            Some(invalid(vec!["Venue: choose a venue.".to_owned()])),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
        let page = page.await;
        return ctx.finish(page);
    };
    let body = CreateConcert {
        name: form.name.trim().to_owned(),
        venue_id,
        description: optional(&form.description),
        genre: optional(&form.genre),
        image_url: optional(&form.image_url),
    };
    let created = command(&ctx, Method::POST, "/concerts".to_owned(), Some(&body), form.key).await;
    let created = created
        .and_then(|body| serde_json::from_slice::<Created>(&body).map_err(|error| ApiError::Decode(error).into()));
    match created {
        Ok(created) => see_other(&format!("/organiser/concerts/{}?done=created", created.id)),
        Err(error) => match refusal(error) {
            Ok((message, status)) => {
                let page = show_new_concert(&ctx, form, Some(message), status).await;
                ctx.finish(page)
            }
            Err(error) => ctx.finish(Err(error)),
        },
    }
}

// ----- One concert -----

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
struct ConcertQuery {
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

async fn concert_page(
    ctx: Ctx,
    Path(concert_id): Path<String>,
    query: Result<Query<ConcertQuery>, QueryRejection>,
) -> Response {
    let Ok(concert_id) = Uuid::try_parse(&concert_id) else {
        return ctx.finish(Err(PageError::NotFound));
    };
    let done = query.ok().and_then(|Query(query)| query.done);
    let page = show_concert(&ctx, concert_id, ConcertForms::default(), Feedback::done(done)).await;
    ctx.finish(page)
}

/// What a page says besides its content, and its status.
#[derive(Debug)]
struct Feedback {
    notice: Option<String>,
    error: Option<Message>,
    status: StatusCode,
}

impl Feedback {
    fn done(done: Option<ConcertDone>) -> Self {
        Self { notice: done.map(|done| done.sentence().to_owned()), error: None, status: StatusCode::OK }
    }

    fn refused(message: Message, status: StatusCode) -> Self {
        Self { notice: None, error: Some(message), status }
    }
}

async fn fetch_concert(ctx: &Ctx, concert_id: Uuid) -> Result<Concert, PageError> {
    let session = ctx.organiser()?;
    Ok(ctx.state.api().get(&format!("/concerts/{concert_id}"), Some(&session.token)).await?)
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
        genre: concert.genre.clone().unwrap_or_default(),
        description: concert.description.clone().unwrap_or_default(),
        image_url: concert.image_url.clone().unwrap_or_default(),
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
struct DetailsForm {
    name: String,
    #[serde(default)]
    genre: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    image_url: String,
    key: Option<Uuid>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct UpdateConcert {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    genre: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_url: Option<String>,
}

impl UpdateConcert {
    /// The fields of `form` that differ from `concert`'s. An emptied optional field is left as it was: the API
    /// changes fields but does not clear them.
    fn changes(concert: &Concert, form: &DetailsForm) -> Self {
        let changed =
            |typed: &str, current: Option<&str>| optional(typed).filter(|typed| Some(typed.as_str()) != current);
        Self {
            name: changed(&form.name, Some(&concert.name)),
            description: changed(&form.description, concert.description.as_deref()),
            genre: changed(&form.genre, concert.genre.as_deref()),
            image_url: changed(&form.image_url, concert.image_url.as_deref()),
        }
    }

    fn is_empty(&self) -> bool {
        self.name.is_none() && self.description.is_none() && self.genre.is_none() && self.image_url.is_none()
    }
}

async fn update_details(
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
struct ScheduleForm {
    starts_at: String,
    ends_at: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ScheduleConcert {
    starts_at: String,
    ends_at: String,
}

async fn schedule(ctx: Ctx, Path(concert_id): Path<Uuid>, form: Result<Form<ScheduleForm>, FormRejection>) -> Response {
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
struct TicketTypeForm {
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

async fn add_ticket_type(
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

async fn remove_ticket_type(ctx: Ctx, Path((concert_id, ticket_type_id)): Path<(Uuid, Uuid)>) -> Response {
    let path = format!("/concerts/{concert_id}/ticket-types/{ticket_type_id}");
    let result = command::<()>(&ctx, Method::DELETE, path, None, None).await;
    after_concert_command(&ctx, concert_id, result, "ticket-type-removed", ConcertForms::default()).await
}

#[derive(Debug, Default, Deserialize)]
struct ConfirmForm {
    confirm: Option<String>,
    key: Option<Uuid>,
}

async fn publish(ctx: Ctx, Path(concert_id): Path<Uuid>, form: Result<Form<ConfirmForm>, FormRejection>) -> Response {
    let key = form.ok().and_then(|Form(form)| form.key);
    let result = command::<()>(&ctx, Method::POST, format!("/concerts/{concert_id}/publish"), None, key).await;
    after_concert_command(&ctx, concert_id, result, "published", ConcertForms::default()).await
}

async fn cancel(ctx: Ctx, Path(concert_id): Path<Uuid>, form: Result<Form<ConfirmForm>, FormRejection>) -> Response {
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

// ----- Attendees -----

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
struct AttendeesQuery {
    checked_in: Option<String>,
}

async fn attendees_page(
    ctx: Ctx,
    Path(concert_id): Path<Uuid>,
    query: Result<Query<AttendeesQuery>, QueryRejection>,
) -> Response {
    let checked_in = query.ok().and_then(|Query(query)| query.checked_in).filter(|code| is_ticket_code(code));
    let feedback = Feedback {
        notice: checked_in.map(|code| format!("Ticket {code} is checked in. Welcome!")),
        error: None,
        status: StatusCode::OK,
    };
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
struct CheckInForm {
    code: String,
}

async fn check_in(ctx: Ctx, Path(concert_id): Path<Uuid>, form: Result<Form<CheckInForm>, FormRejection>) -> Response {
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

// ----- Sales -----

/// A day of the sales table.
#[derive(Debug)]
struct SalesRow {
    day: String,
    tickets: u64,
    revenue: String,
}

#[derive(Template)]
#[template(path = "organiser/sales.html")]
struct SalesPage {
    layout: Layout,
    id: Uuid,
    concert: String,
    /// Tickets per day, and revenue per day.
    charts: [BarChart; 2],
    rows: Vec<SalesRow>,
    tickets_total: u64,
    revenue_total: String,
    width: u32,
    height: u32,
}

async fn sales_page(ctx: Ctx, Path(concert_id): Path<Uuid>) -> Response {
    let page = async {
        let session = ctx.organiser()?;
        let concert = fetch_concert(&ctx, concert_id).await?;
        let sales: Items<DaySales> =
            ctx.state.api().get(&format!("/concerts/{concert_id}/sales"), Some(&session.token)).await?;
        let currency = sales
            .items
            .first()
            .map(|sale| sale.revenue.currency.clone())
            .or_else(|| concert.ticket_types.first().map(|ticket_type| ticket_type.price.currency.clone()))
            .unwrap_or_else(|| "EUR".to_owned());
        let days = chart::days(&sales.items);
        let (tickets_chart, revenue_chart) = chart::sales_charts(&days, &currency);
        let tickets_total = sales.items.iter().map(|sale| sale.tickets_sold).sum();
        let revenue_total: u64 = sales.items.iter().map(|sale| sale.revenue.amount).sum();
        let rows = sales
            .items
            .iter()
            .rev()
            .map(|sale| SalesRow {
                day: sale.day.format("%a %-d %b %Y").to_string(),
                tickets: sale.tickets_sold,
                revenue: money::format(&sale.revenue),
            })
            .collect();
        let page = SalesPage {
            layout: ctx.layout(&format!("Sales of {}", concert.name), Section::Concerts),
            id: concert_id,
            concert: concert.name,
            charts: [tickets_chart, revenue_chart],
            rows,
            tickets_total,
            revenue_total: money::format(&crate::model::Money { amount: revenue_total, currency }),
            width: chart::WIDTH,
            height: chart::HEIGHT,
        };
        render(&page, StatusCode::OK)
    };
    let page = page.await;
    ctx.finish(page)
}

// ----- Venues -----

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum VenueDone {
    Created,
    Deleted,
}

#[derive(Debug, Deserialize)]
struct VenuesQuery {
    done: Option<VenueDone>,
    cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct VenueForm {
    name: String,
    address: String,
    city: String,
    capacity: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    web_url: String,
    key: Option<Uuid>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateVenue {
    name: String,
    address: String,
    city: String,
    capacity: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    web_url: Option<String>,
}

#[derive(Template)]
#[template(path = "organiser/venues.html")]
struct VenuesPage {
    layout: Layout,
    venues: Vec<Venue>,
    next_page: Option<String>,
    form: VenueForm,
    key: Uuid,
}

async fn venues_page(ctx: Ctx, query: Result<Query<VenuesQuery>, QueryRejection>) -> Response {
    let (done, cursor) = query.map(|Query(query)| (query.done, query.cursor)).unwrap_or((None, None));
    let notice = done.map(|done| match done {
        VenueDone::Created => "The venue is added.",
        VenueDone::Deleted => "The venue is deleted.",
    });
    let feedback = Feedback { notice: notice.map(str::to_owned), error: None, status: StatusCode::OK };
    let page = show_venues(&ctx, cursor, VenueForm::default(), feedback).await;
    ctx.finish(page)
}

async fn show_venues(
    ctx: &Ctx,
    cursor: Option<String>,
    form: VenueForm,
    feedback: Feedback,
) -> Result<Response, PageError> {
    let session = ctx.organiser()?;
    let list = PageQuery { limit: VENUES_PAGE_MAX, cursor: cursor.as_deref() };
    let venues: Page<Venue> = ctx.state.api().get(&with_query("/venues", &list), Some(&session.token)).await?;
    let mut layout = ctx.layout("Venues", Section::Venues);
    layout.notice = feedback.notice;
    layout.error = feedback.error;
    let next_page = venues.next_cursor.map(|cursor| with_query("/organiser/venues", &[("cursor", cursor)]));
    render(&VenuesPage { layout, venues: venues.items, next_page, form, key: Uuid::new_v4() }, feedback.status)
}

async fn create_venue(ctx: Ctx, form: Result<Form<VenueForm>, FormRejection>) -> Response {
    let Ok(Form(form)) = form else {
        return ctx.finish(Err(PageError::Form("The venue form could not be read.".to_owned())));
    };
    let Ok(capacity) = form.capacity.trim().parse::<u32>() else {
        let message = invalid(vec!["Capacity: enter the number of people the venue holds.".to_owned()]);
        let page = show_venues(&ctx, None, form, Feedback::refused(message, StatusCode::UNPROCESSABLE_ENTITY)).await;
        return ctx.finish(page);
    };
    let body = CreateVenue {
        name: form.name.trim().to_owned(),
        address: form.address.trim().to_owned(),
        city: form.city.trim().to_owned(),
        capacity,
        description: optional(&form.description),
        web_url: optional(&form.web_url),
    };
    match command(&ctx, Method::POST, "/venues".to_owned(), Some(&body), form.key).await {
        Ok(_) => see_other("/organiser/venues?done=created"),
        Err(error) => match refusal(error) {
            Ok((message, status)) => {
                let page = show_venues(&ctx, None, form, Feedback::refused(message, status)).await;
                ctx.finish(page)
            }
            Err(error) => ctx.finish(Err(error)),
        },
    }
}

async fn delete_venue(ctx: Ctx, Path(venue_id): Path<Uuid>) -> Response {
    match command::<()>(&ctx, Method::DELETE, format!("/venues/{venue_id}"), None, None).await {
        Ok(_) => see_other("/organiser/venues?done=deleted"),
        Err(error) => match refusal(error) {
            Ok((message, status)) => {
                let page = show_venues(&ctx, None, VenueForm::default(), Feedback::refused(message, status)).await;
                ctx.finish(page)
            }
            Err(error) => ctx.finish(Err(error)),
        },
    }
}

// ----- The live log -----

#[derive(Debug, Deserialize)]
struct LogQuery {
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

async fn log_page(ctx: Ctx, query: Result<Query<LogQuery>, QueryRejection>) -> Response {
    let from_start = query.ok().and_then(|Query(query)| query.from).is_some_and(|from| from == "start");
    let page = ctx.organiser().and_then(|_| {
        render(
            &LogPage { layout: ctx.layout("Live log", Section::Log), from_start, rows_max: LIVE_LOG_ROWS_MAX },
            StatusCode::OK,
        )
    });
    ctx.finish(page)
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
            genre: genre.to_owned(),
            description: description.to_owned(),
            image_url: String::new(),
            key: None,
        }
    }

    #[test]
    fn only_changed_details_are_sent() {
        let changes = UpdateConcert::changes(&concert(), &details("Night of the Crabs", "punk", "Loud."));

        assert_eq!(changes.name, None);
        assert_eq!(changes.genre.as_deref(), Some("punk"));
        assert_eq!(changes.description.as_deref(), Some("Loud."));
        assert_eq!(changes.image_url, None);
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

    #[test]
    fn only_letters_and_digits_can_be_a_ticket_code() {
        assert!(is_ticket_code("ABCDEFGHIJ0123456789"));
        for code in ["", "ABC/../x", "ABC DEF", "ABC?x=1", &"A".repeat(65)] {
            assert!(!is_ticket_code(code), "{code:?}");
        }
    }
}
