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
//!
//! **Paying.** When the shop takes payments with Stripe, checkout leads to a payment page whose card form is
//! Stripe.js's (`stripe.rs`, [`WebState::with_stripe`]): the one page that needs script, and says so without it.

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
mod stripe;

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
pub use crate::stripe::{STRIPE_JS_URL, StripeJs, StripeJsError};

/// What the pages need: the API to call, the verifier of session tokens, in local mode the signer of the
/// development sign-in, and Stripe.js's configuration when buyers pay by card.
#[derive(Clone)]
pub struct WebState {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    api: Api,
    auth: AuthState,
    dev_sign_in: Option<LocalSigner>,
    stripe: Option<StripeJs>,
}

impl std::fmt::Debug for WebState {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("WebState")
            .field("auth", &self.inner.auth)
            .field("dev_sign_in", &self.inner.dev_sign_in.is_some())
            .field("stripe", &self.inner.stripe)
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
        Self { inner: Arc::new(Inner { api: Api::new(api), auth, dev_sign_in: None, stripe: None }) }
    }

    /// Turns on the development sign-in: anyone may sign in as a fan or an organiser by typing a name, and gets a
    /// token signed by `signer`. Only for local mode, where `signer` holds the data directory's secret; never for a
    /// deployment with real users.
    pub fn with_dev_sign_in(self, signer: LocalSigner) -> Self {
        let mut inner = Arc::unwrap_or_clone(self.inner);
        inner.dev_sign_in = Some(signer);
        Self { inner: Arc::new(inner) }
    }

    /// Lets buyers pay by card on the payment page, with Stripe.js as `stripe` says. The API must take payments
    /// with Stripe (its checkout answers with Stripe's client secret); without this, the payment page says that
    /// the order cannot be paid on these pages.
    pub fn with_stripe(self, stripe: StripeJs) -> Self {
        let mut inner = Arc::unwrap_or_clone(self.inner);
        inner.stripe = Some(stripe);
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

    pub(crate) fn stripe(&self) -> Option<&StripeJs> {
        self.inner.stripe.as_ref()
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
///
/// The payment page alone also lets Stripe.js's origin (`with_origin`) run its script, connect and frame its card
/// fields (`stripe.rs`); it states its own policy, which this middleware keeps.
pub(crate) fn content_security_policy(with_origin: Option<&str>) -> String {
    let (script, connect, frames) = match with_origin {
        // Stripe's own script talks to its API and frames the bank's check (3-D Secure) from its hooks site.
        Some(origin @ STRIPE_JS_ORIGIN) => (
            format!(" {origin}"),
            format!(" {origin} https://api.stripe.com"),
            format!("frame-src {origin} https://hooks.stripe.com; "),
        ),
        Some(origin) => (format!(" {origin}"), format!(" {origin}"), format!("frame-src {origin}; ")),
        None => (String::new(), String::new(), String::new()),
    };
    format!(
        "default-src 'self'; script-src 'self'{script}; style-src 'self'; img-src 'self' https: data:; \
         connect-src 'self'{connect}; {frames}form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
         object-src 'none'"
    )
}

/// The origin of Stripe's own Stripe.js.
const STRIPE_JS_ORIGIN: &str = "https://js.stripe.com";

/// The policy of every page but the payment page.
static CONTENT_SECURITY_POLICY_VALUE: std::sync::LazyLock<HeaderValue> = std::sync::LazyLock::new(|| {
    HeaderValue::try_from(content_security_policy(None))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
});

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.entry(CONTENT_SECURITY_POLICY).or_insert_with(|| CONTENT_SECURITY_POLICY_VALUE.clone());
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // Pages differ per user (their session); only assets, which say otherwise, may be kept by caches.
    headers.entry(CACHE_CONTROL).or_insert(HeaderValue::from_static("private, no-cache"));
    response
}
