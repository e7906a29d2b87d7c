//! The stylesheet, the scripts and the icon, compiled into the binary with `include_str!`, so the shop needs no
//! asset directory and no build step besides `cargo build`.
//!
//! Each asset's URL carries a hash of its content (`/assets/app.css?v=…`), and the asset is served as cacheable for
//! a year: a phone downloads it once, and a new build with a changed asset gets a new URL. An asset asked for
//! without the current hash is served too, but only cached briefly.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::WebState;

/// One compiled-in asset.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
    /// A hash of `body`, the `v` of its URL.
    version: String,
}

/// Every asset, with its version computed once.
static ASSETS: LazyLock<[Asset; 4]> = LazyLock::new(|| {
    [
        asset("app.css", "text/css; charset=utf-8", include_str!("../assets/app.css")),
        asset("app.js", "text/javascript; charset=utf-8", include_str!("../assets/app.js")),
        asset("pay.js", "text/javascript; charset=utf-8", include_str!("../assets/pay.js")),
        asset("icon.svg", "image/svg+xml", include_str!("../assets/icon.svg")),
    ]
});

fn asset(name: &'static str, content_type: &'static str, body: &'static str) -> Asset {
    Asset { name, content_type, body, version: format!("{:016x}", fnv1a(body.as_bytes())) }
}

/// FNV-1a, 64 bits: a cache key needs to change with the content, not to resist forgery.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3))
}

/// The URL of an asset, with its version; `/assets/<name>` for a name that is not an asset.
pub(crate) fn url(name: &str) -> String {
    match ASSETS.iter().find(|asset| asset.name == name) {
        Some(asset) => format!("/assets/{}?v={}", asset.name, asset.version),
        None => format!("/assets/{name}"),
    }
}

pub(crate) fn routes() -> Router<WebState> {
    Router::new().route("/assets/{name}", get(serve))
}

#[derive(Debug, Deserialize)]
struct Version {
    v: Option<String>,
}

async fn serve(Path(name): Path<String>, version: Result<Query<Version>, QueryRejection>) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.name == name) else {
        return (StatusCode::NOT_FOUND, "No such asset.").into_response();
    };
    let current = version.ok().and_then(|Query(version)| version.v).is_some_and(|v| v == asset.version);
    let cache = if current { "public, max-age=31536000, immutable" } else { "public, max-age=60" };
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
            (CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        asset.body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_asset_url_changes_with_its_content() {
        assert_ne!(fnv1a(b"body { color: black }"), fnv1a(b"body { color: white }"));
        assert!(url("app.css").starts_with("/assets/app.css?v="));
        assert_eq!(url("nothing.css"), "/assets/nothing.css");
    }

    #[test]
    fn the_scripts_never_write_markup_from_data() {
        // Data from the API (event records, availability, a payment's outcome) reaches the page as text only: no
        // `innerHTML`, `outerHTML`, `insertAdjacentHTML` or `document.write`, which would parse it as markup.
        for script in [include_str!("../assets/app.js"), include_str!("../assets/pay.js")] {
            for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("] {
                assert!(!script.contains(sink), "a script uses {sink}");
            }
        }
    }
}
