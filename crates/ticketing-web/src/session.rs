//! Who is signed in, and how the pages and the browser's script get their token.
//!
//! **The cookie.** A signed-in user's bearer token (the same JWT the API checks) is kept in the `cloudbash_session`
//! cookie: `HttpOnly`, so that no script, including one injected into a page, can read it from `document.cookie`;
//! `SameSite=Strict`, so that the browser never sends it with a request started by another site (which, with the
//! origin check of `csrf.rs`, is what protects the form posts); `Path=/`; `Secure` when the page was served over
//! https; and it expires with the token. The server reads it on every page and forwards the token to the API.
//! The price of `Strict`: following a link from another site to the shop shows the first page signed out; the
//! next click on the shop's own pages is signed in again.
//!
//! **The script's token.** Most of the script needs no token (availability is public, the countdown is a
//! clock). The live event log does, because it calls `GET /events/live` itself. It fetches the token from
//! `GET /shop/session` right before connecting, rather than the pages embedding it: pages are kept in the
//! browser's history and caches, the token endpoint answers `no-store`, and only the one page that needs the token
//! asks for it. Another site cannot read that answer (it is same-origin, without CORS headers, and the cookie is
//! not sent with cross-site requests at all).
//!
//! **Signing in.** With the development sign-in on ([`crate::WebState::with_dev_sign_in`], local mode only), the
//! sign-in form issues a token for a fan or an organiser named by the user: the same name gives the same user id
//! (a UUID v5 of the name), so a fan finds their cart and orders again. Without it, the sign-in page only says
//! that signing in goes through the deployment's identity provider.

use std::time::{Duration, SystemTime};

use axum::Form;
use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, COOKIE, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::WebState;
use crate::limits::{SIGN_IN_LIFETIME, SIGN_IN_NAME_CHARS_MAX};
use crate::messages::Message;
use crate::pages::{Ctx, Section, render};

/// The cookie that holds the signed-in user's token.
pub(crate) const SESSION_COOKIE: &str = "cloudbash_session";

/// The cookie in which the script stores the browser's time zone (minutes east of UTC); see `dates.rs`.
pub(crate) const ZONE_COOKIE: &str = "cloudbash_tz";

/// The namespace of the user ids the development sign-in derives from names (a fixed, random UUID: changing it
/// would give every name a new id, with an empty cart and no orders).
const DEV_USER_NAMESPACE: Uuid = Uuid::from_u128(0x1b9e_53c4_07d2_4a61_9f3e_c2a8_5d7b_e410);

/// A signed-in user: their token, and what the API will make of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    pub(crate) token: String,
    pub(crate) user_id: Uuid,
    pub(crate) admin: bool,
}

impl Session {
    /// The session of a request: its cookie's token, if the API's verifier accepts it now. An expired or foreign
    /// token is no session, so the user sees the pages signed out rather than an error.
    pub(crate) fn from_headers(headers: &HeaderMap, state: &WebState) -> Option<Session> {
        let token = cookie(headers, SESSION_COOKIE)?;
        let caller = state.auth().verifier()?.verify(token, SystemTime::now()).ok()?;
        Some(Session { token: token.to_owned(), user_id: caller.user_id, admin: caller.admin })
    }
}

/// The value of cookie `name` in a request's `Cookie` headers (RFC 6265 section 5.4: `name=value` pairs separated
/// by `;`). The first one wins when a name occurs twice.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
}

/// The `Set-Cookie` value that stores `token` for `lifetime`.
fn session_cookie(token: &str, lifetime: Duration, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    let value =
        format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", lifetime.as_secs());
    HeaderValue::try_from(value).ok()
}

/// The `Set-Cookie` value that removes the session.
fn cleared_session_cookie() -> HeaderValue {
    HeaderValue::from_static("cloudbash_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// A redirect that also ends the session: for signing out, and when the API no longer accepts the token.
pub(crate) fn sign_out_redirect(to: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    response.headers_mut().append(SET_COOKIE, cleared_session_cookie());
    response
}

/// The sign-in routes and the script's token endpoint.
pub(crate) fn routes() -> Router<WebState> {
    Router::new()
        .route("/shop/sign-in", get(sign_in_page).post(sign_in))
        .route("/shop/sign-out", post(sign_out))
        .route("/shop/session", get(token_for_script))
}

/// Where to go after signing in: a path of this site only, so that the parameter cannot send a user elsewhere
/// (an open redirect).
pub(crate) fn local_path(next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    let local = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') && !next.contains("://");
    let printable = next.chars().all(|character| !character.is_control());
    (local && printable).then(|| next.to_owned())
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct SignInQuery {
    next: Option<String>,
    /// Set when the API stopped accepting the user's token.
    expired: Option<String>,
}

/// The role a development sign-in gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    Fan,
    Organiser,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SignInForm {
    name: String,
    role: Role,
    next: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    layout: crate::pages::Layout,
    enabled: bool,
    next: String,
    name: String,
    organiser: bool,
}

async fn sign_in_page(ctx: Ctx, query: Result<Query<SignInQuery>, QueryRejection>) -> Response {
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let mut layout = ctx.layout("Sign in", Section::SignIn);
    if query.expired.is_some() {
        layout.error = Some(Message::new("Your session has ended. Please sign in again."));
    }
    let enabled = ctx.state.dev_sign_in().is_some();
    let page = SignInPage {
        layout,
        enabled,
        next: local_path(query.next.as_deref()).unwrap_or_default(),
        name: String::new(),
        organiser: query.next.as_deref().is_some_and(|next| next.starts_with("/organiser")),
    };
    // Without the development sign-in there is no sign-in here: the page only says where to sign in.
    ctx.finish(render(&page, if enabled { StatusCode::OK } else { StatusCode::NOT_FOUND }))
}

async fn sign_in(ctx: Ctx, headers: HeaderMap, form: Result<Form<SignInForm>, FormRejection>) -> Response {
    let Some(signer) = ctx.state.dev_sign_in() else {
        let page = SignInPage {
            layout: ctx.layout("Sign in", Section::SignIn),
            enabled: false,
            next: String::new(),
            name: String::new(),
            organiser: false,
        };
        return ctx.finish(render(&page, StatusCode::NOT_FOUND));
    };
    let Ok(Form(form)) = form else {
        return ctx.finish(Err(crate::pages::PageError::Form("Choose fan or organiser and enter a name.".to_owned())));
    };
    let name = form.name.trim();
    let length = name.chars().count();
    if length == 0 || length > SIGN_IN_NAME_CHARS_MAX || name.chars().any(char::is_control) {
        let mut layout = ctx.layout("Sign in", Section::SignIn);
        layout.error = Some(Message::new(format!("Enter a name of 1 to {SIGN_IN_NAME_CHARS_MAX} characters.")));
        let page = SignInPage {
            layout,
            enabled: true,
            next: local_path(form.next.as_deref()).unwrap_or_default(),
            name: form.name.chars().take(SIGN_IN_NAME_CHARS_MAX).collect(),
            organiser: form.role == Role::Organiser,
        };
        return ctx.finish(render(&page, StatusCode::UNPROCESSABLE_ENTITY));
    }
    let admin = form.role == Role::Organiser;
    let user_id = Uuid::new_v5(&DEV_USER_NAMESPACE, name.to_lowercase().as_bytes());
    let token = signer.issue(user_id, admin, SIGN_IN_LIFETIME, SystemTime::now());
    let home = if admin { "/organiser" } else { "/" };
    let next = local_path(form.next.as_deref()).unwrap_or_else(|| home.to_owned());
    let mut response = Redirect::to(&next).into_response();
    // A page served over https posts with an https origin; only then may the cookie be `Secure` (local mode over
    // plain http would otherwise never get its cookie back).
    let secure = headers.get(ORIGIN).and_then(|origin| origin.to_str().ok()).is_some_and(|o| o.starts_with("https:"));
    match session_cookie(&token, SIGN_IN_LIFETIME, secure) {
        Some(cookie) => {
            response.headers_mut().append(SET_COOKIE, cookie);
            response
        }
        None => ctx.finish(Err(crate::pages::PageError::Form("The sign-in could not be stored.".to_owned()))),
    }
}

async fn sign_out() -> Response {
    sign_out_redirect("/")
}

/// The body of `GET /shop/session`.
#[derive(Debug, Serialize)]
struct ScriptToken<'a> {
    token: &'a str,
    admin: bool,
}

/// The signed-in user's token, for the script (see the module docs); 401 without a session.
async fn token_for_script(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let no_store = [(CACHE_CONTROL, HeaderValue::from_static("no-store"))];
    match Session::from_headers(&headers, &state) {
        Some(session) => {
            (no_store, axum::Json(ScriptToken { token: &session.token, admin: session.admin })).into_response()
        }
        None => {
            (StatusCode::UNAUTHORIZED, no_store, axum::Json(serde_json::json!({ "signedIn": false }))).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookies: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for cookie in cookies {
            headers.append(COOKIE, HeaderValue::from_str(cookie).expect("a valid header"));
        }
        headers
    }

    #[test]
    fn a_cookie_is_found_among_others_and_across_headers() {
        let headers = headers(&["a=1; cloudbash_tz=60", "cloudbash_session=abc.def.ghi; b=2"]);

        assert_eq!(cookie(&headers, ZONE_COOKIE), Some("60"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc.def.ghi"));
        assert_eq!(cookie(&headers, "missing"), None);
        assert_eq!(cookie(&headers, "cloudbash"), None, "a name is matched whole");
    }

    #[test]
    fn the_session_cookie_is_http_only_and_same_site_strict() {
        let cookie = session_cookie("abc.def.ghi", Duration::from_secs(3600), false).expect("a valid header");

        let cookie = cookie.to_str().expect("ASCII");
        assert!(cookie.starts_with("cloudbash_session=abc.def.ghi;"), "{cookie}");
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=3600"] {
            assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
        }
        assert!(!cookie.contains("Secure"), "plain http would never send it back: {cookie}");
        let secure = session_cookie("t", Duration::from_secs(1), true).expect("a valid header");
        assert!(secure.to_str().expect("ASCII").ends_with("; Secure"));
    }

    #[test]
    fn only_local_paths_are_followed_after_signing_in() {
        assert_eq!(local_path(Some("/shop/cart")), Some("/shop/cart".to_owned()));
        assert_eq!(local_path(Some("/?q=rock&when=today")), Some("/?q=rock&when=today".to_owned()));
        for elsewhere in ["https://evil.example/", "//evil.example/", "/\\evil.example", "evil", "/x\r\nSet-Cookie: a"]
        {
            assert_eq!(local_path(Some(elsewhere)), None, "{elsewhere:?} is followed");
        }
        assert_eq!(local_path(None), None);
    }
}
