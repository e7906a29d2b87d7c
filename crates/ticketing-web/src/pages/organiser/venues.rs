//! The venues: the list, the form that adds one, and deleting one.

use askama::Template;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Feedback, PageQuery, command, invalid, optional, refusal};
use crate::api::with_query;
use crate::limits::VENUES_PAGE_MAX;
use crate::model::{Page, Venue};
use crate::pages::{Ctx, Layout, PageError, Section, render, see_other};

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum VenueDone {
    Created,
    Deleted,
}

#[derive(Debug, Deserialize)]
pub(super) struct VenuesQuery {
    done: Option<VenueDone>,
    cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct VenueForm {
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

pub(super) async fn venues_page(ctx: Ctx, query: Result<Query<VenuesQuery>, QueryRejection>) -> Response {
    let (done, cursor) = query.map(|Query(query)| (query.done, query.cursor)).unwrap_or((None, None));
    let notice = done.map(|done| match done {
        VenueDone::Created => "The venue is added.",
        VenueDone::Deleted => "The venue is deleted.",
    });
    let feedback = Feedback::notice(notice.map(str::to_owned));
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

pub(super) async fn create_venue(ctx: Ctx, form: Result<Form<VenueForm>, FormRejection>) -> Response {
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

pub(super) async fn delete_venue(ctx: Ctx, Path(venue_id): Path<Uuid>) -> Response {
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
