//! The web shop and the organiser's pages, served by the same process as the REST API: HTML rendered on the
//! server from compiled templates, a stylesheet and a small script compiled into the binary. There is no separate
//! front-end build.
//!
//! **Only the REST API.** Every page gets its data and makes its changes through the API's router, called
//! in-process with the signed-in user's token (`api.rs`); the browser's script calls the same API over HTTP. The
//! pages hold no business rules: what may be bought, by whom and how many is the API's answer, and its problems
//! are shown as sentences (`messages.rs`).
//!
//! **Progressive enhancement.** Everything works as plain HTML: browsing, searching (a GET form), buying and the
//! organiser's forms are links and form posts answered with a redirect. The script adds what needs a clock or a
//! connection: the hold countdown, live availability, the live event log, and local times.
//!
//! **Paths.** Pages live at `/`, under `/shop/` and under `/organiser/`, assets under `/assets/`; none of these
//! is a path of the API, so the two routers merge without sharing a path and the API keeps its own.
//!
//! **Sessions and forms.** The user's token is kept in an HttpOnly, SameSite=Strict cookie (`session.rs`);
//! form posts are checked to come from the shop's own pages (`csrf.rs`). Signing in without an identity provider
//! is a development feature that the composition root must switch on ([`WebState::with_dev_sign_in`]).

mod api;
mod assets;
mod chart;
mod csrf;
mod dates;
pub mod limits;
mod messages;
mod model;
mod money;
mod pages;
mod qr;
mod session;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderValue;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::middleware::{self, Next};
use axum::response::Response;
use ticketing_api::auth::{AuthState, LocalSigner};

use crate::api::Api;
use crate::limits::FORM_BYTES_MAX;

/// What the pages need: the API to call, the verifier of session tokens, and, in local mode, the signer of the
/// development sign-in.
#[derive(Clone)]
pub struct WebState {
    inner: Arc<Inner>,
}

struct Inner {
    api: Api,
    auth: AuthState,
    dev_sign_in: Option<LocalSigner>,
}

impl std::fmt::Debug for WebState {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("WebState")
            .field("auth", &self.inner.auth)
            .field("dev_sign_in", &self.inner.dev_sign_in.is_some())
            .finish_non_exhaustive()
    }
}

impl WebState {
    /// Pages over `api`, which must be the REST API's router (`ticketing_api::router`) and not one that includes
    /// these pages; session tokens are checked with `auth`, the API's own verifier, so that a page shows a user as
    /// signed in exactly when the API would accept their token.
    ///
    /// Without [`WebState::with_dev_sign_in`] the sign-in page only explains where to sign in: a deployment signs
    /// users in through its identity provider (an Amazon Cognito hosted UI, whose callback would set the same
    /// session cookie), which is not part of this crate.
    pub fn new(api: Router, auth: AuthState) -> Self {
        Self { inner: Arc::new(Inner { api: Api::new(api), auth, dev_sign_in: None }) }
    }

    /// Turns on the development sign-in: anyone may sign in as a fan or an organiser by typing a name, and gets a
    /// token signed by `signer`. Only for local mode, where `signer` holds the data directory's secret; never for a
    /// deployment with real users.
    pub fn with_dev_sign_in(self, signer: LocalSigner) -> Self {
        let inner = Inner { api: self.inner.api.clone(), auth: self.inner.auth.clone(), dev_sign_in: Some(signer) };
        Self { inner: Arc::new(inner) }
    }

    pub(crate) fn api(&self) -> &Api {
        &self.inner.api
    }

    pub(crate) fn auth(&self) -> &AuthState {
        &self.inner.auth
    }

    pub(crate) fn dev_sign_in(&self) -> Option<&LocalSigner> {
        self.inner.dev_sign_in.as_ref()
    }
}

/// The pages and assets, ready to be merged with the API's router (their paths do not overlap).
pub fn router(state: WebState) -> Router {
    pages::routes()
        .merge(session::routes())
        .merge(assets::routes())
        .layer(middleware::from_fn(csrf::same_origin_posts))
        .layer(DefaultBodyLimit::max(FORM_BYTES_MAX))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// What the pages allow a browser to do, stated on every response: scripts, styles and connections only from this
/// origin (no inline script, so injected markup cannot run), images also from https sites (concert pictures), no
/// framing (clickjacking), no MIME sniffing, and no full URLs in `Referer` to other sites.
const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' https: data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
     object-src 'none'";

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // Pages differ per user (their session); only assets, which say otherwise, may be kept by caches.
    headers.entry(CACHE_CONTROL).or_insert(HeaderValue::from_static("private, no-cache"));
    response
}
