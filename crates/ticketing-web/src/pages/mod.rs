//! What every page shares: the request's context (who is signed in, their time zone), the layout around each
//! page, and the one way failures become responses: a redirect to sign in, or the page's layout with a message
//! instead of its content. The pages themselves are in `shop.rs` (fans) and `organiser.rs`.

mod organiser;
mod shop;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Serialize;

use crate::WebState;
use crate::api::{ApiError, with_query};
use crate::assets;
use crate::dates::Zone;
use crate::messages::Message;
use crate::session::{self, Session, ZONE_COOKIE};

/// The pages of fans and organisers.
pub(crate) fn routes() -> Router<WebState> {
    shop::routes().merge(organiser::routes())
}

/// The part of the site a page belongs to, for the navigation's current link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Programme,
    Cart,
    Orders,
    SignIn,
    Concerts,
    Venues,
    Log,
}

/// A link of the navigation.
#[derive(Debug, Clone)]
pub(crate) struct NavLink {
    pub(crate) href: &'static str,
    pub(crate) label: &'static str,
    pub(crate) current: bool,
}

/// What the layout around every page shows.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) title: String,
    pub(crate) nav: Vec<NavLink>,
    /// "Fan" or "Organiser" when signed in.
    pub(crate) signed_in_as: Option<&'static str>,
    pub(crate) sign_in_href: String,
    /// A sentence confirming what the user just did.
    pub(crate) notice: Option<String>,
    /// What did not work.
    pub(crate) error: Option<Message>,
    pub(crate) zone_minutes: i32,
    /// "UTC" or "UTC+01:00".
    pub(crate) zone_label: String,
    pub(crate) zone_is_utc: bool,
    pub(crate) css: String,
    pub(crate) js: String,
    pub(crate) icon: String,
}

/// Why a page could not be shown as asked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PageError {
    /// The page needs a signed-in user; after signing in, the user comes back to `next`.
    #[error("the page needs a signed-in user")]
    SignIn { next: String },
    /// The page is for organisers and the user is a fan.
    #[error("the page is for organisers")]
    Forbidden,
    /// No page at this address (or the id in it names nothing).
    #[error("no such page")]
    NotFound,
    /// The API refused or failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A template failed to render: a bug.
    #[error("a page could not be rendered: {0}")]
    Render(#[from] askama::Error),
    /// A form that a page of the shop did not send (a field missing or of the wrong kind).
    #[error("the form could not be read: {0}")]
    Form(String),
}

/// A template rendered as a response with `status`.
pub(crate) fn render(template: &impl Template, status: StatusCode) -> Result<Response, PageError> {
    Ok((status, Html(template.render()?)).into_response())
}

/// A redirect after a successful form post (303, so the browser follows it with a GET and a reload does not post
/// again).
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// The request as the pages see it.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) state: WebState,
    pub(crate) session: Option<Session>,
    pub(crate) zone: Zone,
    /// This request's path and query, to come back to after signing in.
    pub(crate) path: String,
}

impl FromRequestParts<WebState> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Self::Rejection> {
        Ok(Ctx {
            state: state.clone(),
            session: Session::from_headers(&parts.headers, state),
            zone: Zone::from_cookie(session::cookie(&parts.headers, ZONE_COOKIE)),
            path: original_path(parts),
        })
    }
}

/// The path and query the browser asked for. Inside a nested router (`/shop`, `/organiser`) the request's URI has
/// lost its prefix; axum keeps the original.
fn original_path(parts: &Parts) -> String {
    let uri = parts.extensions.get::<OriginalUri>().map_or(&parts.uri, |original| &original.0);
    uri.path_and_query().map_or_else(|| uri.path().to_owned(), |path| path.to_string())
}

#[derive(Serialize)]
struct NextQuery<'a> {
    next: &'a str,
}

impl Ctx {
    /// The layout of a page titled `title` in `section`.
    pub(crate) fn layout(&self, title: &str, section: Section) -> Layout {
        let organiser = self.session.as_ref().is_some_and(|session| session.admin);
        let links: &[(&str, &str, Section)] = if organiser {
            &[
                ("/", "Programme", Section::Programme),
                ("/organiser", "Concerts", Section::Concerts),
                ("/organiser/venues", "Venues", Section::Venues),
                ("/organiser/log", "Live log", Section::Log),
            ]
        } else {
            &[
                ("/", "Programme", Section::Programme),
                ("/shop/cart", "Cart", Section::Cart),
                ("/shop/orders", "My orders", Section::Orders),
            ]
        };
        let minutes = self.zone.minutes();
        Layout {
            title: title.to_owned(),
            nav: links
                .iter()
                .map(|(href, label, link_section)| NavLink { href, label, current: *link_section == section })
                .collect(),
            signed_in_as: self.session.as_ref().map(|session| if session.admin { "Organiser" } else { "Fan" }),
            sign_in_href: sign_in_href(&self.path),
            notice: None,
            error: None,
            zone_minutes: minutes,
            zone_label: zone_label(minutes),
            zone_is_utc: self.zone.is_utc(),
            css: assets::url("app.css"),
            js: assets::url("app.js"),
            icon: assets::url("icon.svg"),
        }
    }

    /// The signed-in user, or a redirect to sign in and come back to this page.
    pub(crate) fn session(&self) -> Result<&Session, PageError> {
        self.session.as_ref().ok_or_else(|| PageError::SignIn { next: self.path.clone() })
    }

    /// The signed-in organiser; a fan gets the "organisers only" page.
    pub(crate) fn organiser(&self) -> Result<&Session, PageError> {
        let session = self.session()?;
        if session.admin { Ok(session) } else { Err(PageError::Forbidden) }
    }

    /// The response of a page: the page, or what its failure shows.
    pub(crate) fn finish(&self, result: Result<Response, PageError>) -> Response {
        match result {
            Ok(response) => response,
            Err(error) => self.failure(error),
        }
    }

    fn failure(&self, error: PageError) -> Response {
        let (status, message) = match error {
            PageError::SignIn { next } => return see_other(&sign_in_href(&next)),
            // The API no longer accepts the token (expired, or the secret changed): sign out and in again.
            PageError::Api(error) if error.is_status(StatusCode::UNAUTHORIZED) => {
                let query = with_query("/shop/sign-in", &[("expired", "1"), ("next", self.path.as_str())]);
                return session::sign_out_redirect(&query);
            }
            PageError::Forbidden => (
                StatusCode::FORBIDDEN,
                Message::new("This page is for organisers. Sign out and sign in as an organiser to use it."),
            ),
            PageError::NotFound => (StatusCode::NOT_FOUND, Message::new("There is no page at this address.")),
            PageError::Api(error) => {
                let status = error
                    .problem()
                    .and_then(|problem| StatusCode::from_u16(problem.status).ok())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                (status, Message::from_api(&error))
            }
            PageError::Form(reason) => (StatusCode::BAD_REQUEST, Message::new(reason)),
            PageError::Render(error) => {
                tracing::error!(%error, "a page could not be rendered");
                return (StatusCode::INTERNAL_SERVER_ERROR, "The page could not be shown. The error has been logged.")
                    .into_response();
            }
        };
        let title = if status == StatusCode::NOT_FOUND { "Not found" } else { "Something went wrong" };
        let layout = self.layout(title, Section::Programme);
        let page = ErrorPage { layout, message };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(error) => {
                tracing::error!(%error, "the error page could not be rendered");
                (status, "Something went wrong.").into_response()
            }
        }
    }
}

/// The link to sign in and come back to `next`.
fn sign_in_href(next: &str) -> String {
    if next.starts_with("/shop/sign-in") {
        return "/shop/sign-in".to_owned();
    }
    with_query("/shop/sign-in", &NextQuery { next })
}

/// "UTC", "UTC+01:00", "UTC-05:30".
fn zone_label(minutes: i32) -> String {
    if minutes == 0 {
        return "UTC".to_owned();
    }
    let sign = if minutes < 0 { '-' } else { '+' };
    format!("UTC{sign}{:02}:{:02}", minutes.abs() / 60, minutes.abs() % 60)
}

/// The page shown instead of one that failed: its title and what went wrong.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    message: Message,
}

/// A page for addresses under `/shop/` and `/organiser/` that no page has.
pub(crate) async fn not_found(ctx: Ctx) -> Response {
    ctx.finish(Err(PageError::NotFound))
}

/// A `Location` of a response, for tests of redirects.
#[cfg(test)]
pub(crate) fn location(response: &Response) -> Option<&str> {
    response.headers().get(axum::http::header::LOCATION).and_then(|value| value.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_labelled_as_offsets_from_utc() {
        assert_eq!(zone_label(0), "UTC");
        assert_eq!(zone_label(60), "UTC+01:00");
        assert_eq!(zone_label(-330), "UTC-05:30");
    }

    #[test]
    fn signing_in_comes_back_to_the_page() {
        assert_eq!(sign_in_href("/shop/cart"), "/shop/sign-in?next=%2Fshop%2Fcart");
        assert_eq!(sign_in_href("/shop/sign-in?next=x"), "/shop/sign-in");
    }

    #[test]
    fn a_redirect_after_a_post_is_a_see_other() {
        let response = see_other("/shop/cart");

        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&response), Some("/shop/cart"));
    }
}
