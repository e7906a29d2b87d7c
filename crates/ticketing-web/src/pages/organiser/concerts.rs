//! The organiser's list of concerts (drafts first, then the published ones) and the form that creates one.

use askama::Template;
use axum::Form;
use axum::extract::Query;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::profile::{ProfileBody, ProfileForm};
use super::{PageQuery, command, invalid, refusal};
use crate::api::{ApiError, with_query};
use crate::limits::VENUES_PAGE_MAX;
use crate::messages::Message;
use crate::model::{ConcertListed, Created, DraftListed, Page, Venue};
use crate::pages::shop::When;
use crate::pages::{Ctx, Layout, PageError, Section, render, see_other};

#[derive(Debug, Default, Deserialize)]
pub(super) struct ListQuery {
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

pub(super) async fn concerts_page(ctx: Ctx, query: Result<Query<ListQuery>, QueryRejection>) -> Response {
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
pub(super) struct ConcertForm {
    name: String,
    venue_id: String,
    #[serde(flatten)]
    profile: ProfileForm,
    key: Option<Uuid>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateConcert {
    name: String,
    venue_id: Uuid,
    #[serde(flatten)]
    profile: ProfileBody,
}

pub(super) async fn new_concert_page(ctx: Ctx) -> Response {
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

pub(super) async fn create_concert(ctx: Ctx, form: Result<Form<ConcertForm>, FormRejection>) -> Response {
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
    let body = CreateConcert { name: form.name.trim().to_owned(), venue_id, profile: form.profile.body() };
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
