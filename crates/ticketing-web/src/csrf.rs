//! Protection of the pages' form posts against cross-site request forgery: another site making a signed-in user's
//! browser post a form here (buy tickets, cancel a concert).
//!
//! Two defences, each sufficient in current browsers, so that one failing is not the end:
//!
//! 1. The session cookie is `SameSite=Strict` (`session.rs`): the browser does not send it with any request that
//!    another site starts, so a forged post arrives signed out and changes nothing.
//! 2. This middleware refuses every state-changing request (anything but GET, HEAD and OPTIONS) whose
//!    `Sec-Fetch-Site` says it was started by another site, or whose `Origin` is not this site's. Browsers send
//!    `Origin` with every POST, and `Sec-Fetch-Site` with every request.
//!
//! A request with neither header is let through: it does not come from a current browser, so it cannot carry a
//! victim's cookie without the victim's own program sending it. Tokens in forms would add nothing to these checks
//! and would cost every form a hidden field and the server a store of tokens.
//!
//! The API's own routes need none of this: they authenticate with an `Authorization` header, which a browser
//! never adds by itself.

use axum::extract::Request;
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The request header in which browsers say who started a request (Fetch Metadata).
const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// Why a form post was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CrossSite {
    /// `Sec-Fetch-Site` names another site (or a sibling subdomain) as the request's starter.
    #[error("the request was started by another site")]
    StartedElsewhere,
    /// `Origin` is not this site.
    #[error("the request comes from another origin")]
    OtherOrigin,
}

/// Middleware: lets safe methods through, and state-changing requests only from this site's own pages.
pub(crate) async fn same_origin_posts(request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe
        && let Err(refusal) = check(request.headers(), request.uri().authority().map(|authority| authority.as_str()))
    {
        tracing::warn!(%refusal, method = %request.method(), path = request.uri().path(), "refused a cross-site request");
        return (
            StatusCode::FORBIDDEN,
            "This form can only be sent from the shop's own pages. Please go back, reload the page and try again.",
        )
            .into_response();
    }
    next.run(request).await
}

/// Whether a state-changing request comes from this site, by its headers; `authority` is the request URI's
/// (HTTP/2 sends the host there rather than in `Host`).
pub(crate) fn check(headers: &HeaderMap, authority: Option<&str>) -> Result<(), CrossSite> {
    if let Some(site) = headers.get(SEC_FETCH_SITE).and_then(|value| value.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return Err(CrossSite::StartedElsewhere);
    }
    let Some(origin) = headers.get(ORIGIN) else {
        return Ok(());
    };
    let host = headers.get(HOST).and_then(|value| value.to_str().ok()).or(authority);
    let origin_host = origin.to_str().ok().and_then(|origin| origin.split_once("://")).map(|(_, host)| host);
    match (origin_host, host) {
        (Some(origin_host), Some(host)) if origin_host.eq_ignore_ascii_case(host) => Ok(()),
        // `Origin: null` (a sandboxed frame, a redirect across sites), a malformed origin, or a request without
        // a host to compare with.
        _ => Err(CrossSite::OtherOrigin),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn a_post_from_the_shops_own_page_passes() {
        let own = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
            ("sec-fetch-site", "same-origin"),
        ]);

        assert_eq!(check(&own, None), Ok(()));
    }

    #[test]
    fn a_post_from_another_origin_is_refused() {
        let forged = headers(&[("host", "127.0.0.1:8080"), ("origin", "https://evil.example")]);

        assert_eq!(check(&forged, None), Err(CrossSite::OtherOrigin));
    }

    #[test]
    fn a_post_started_by_another_site_is_refused_whatever_its_origin_says() {
        for site in ["cross-site", "same-site"] {
            let mut forged = headers(&[("host", "shop.example"), ("origin", "https://shop.example")]);
            forged.insert(SEC_FETCH_SITE, HeaderValue::from_static(site));
            assert_eq!(check(&forged, None), Err(CrossSite::StartedElsewhere), "{site}");
        }
    }

    #[test]
    fn a_null_origin_is_refused() {
        let sandboxed = headers(&[("host", "shop.example"), ("origin", "null")]);

        assert_eq!(check(&sandboxed, None), Err(CrossSite::OtherOrigin));
    }

    #[test]
    fn the_same_host_on_another_port_is_another_origin() {
        let other_port = headers(&[("host", "127.0.0.1:8080"), ("origin", "http://127.0.0.1:9999")]);

        assert_eq!(check(&other_port, None), Err(CrossSite::OtherOrigin));
    }

    #[test]
    fn an_http2_request_is_compared_with_its_authority() {
        let own = headers(&[("origin", "https://shop.example")]);

        assert_eq!(check(&own, Some("shop.example")), Ok(()));
        assert_eq!(check(&own, Some("other.example")), Err(CrossSite::OtherOrigin));
    }

    #[test]
    fn a_request_without_browser_headers_passes() {
        assert_eq!(check(&headers(&[("host", "shop.example")]), None), Ok(()));
    }
}
