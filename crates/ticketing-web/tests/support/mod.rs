//! What the tests of the pages share: the web router merged with the REST API's, as the local host composes them,
//! over a real SQLite log with its read models, driven with plain HTTP requests as a browser without script sends
//! them (GET links, form posts with the session cookie). The seed data goes in through the API too.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use chrono::Utc;
use es_core::{CancellationToken, EventLog, ProjectionRunner, SnapshotStore, SystemClock};
use es_sqlite::{Durability, SqliteEventStore};
use serde_json::{Value, json};
use ticketing_api::auth::{AuthState, LocalSigner, Secret, Verifier};
use ticketing_api::{ApiState, router};
use ticketing_app::payments::PaymentProvider;
use ticketing_app::queries::ReadSide;
use ticketing_app::{RandomTicketCodes, Shop};
use ticketing_sqlite::{ReadModels, SqliteQueries};
use ticketing_web::{StripeJs, WebState};
use tower::ServiceExt;
use uuid::Uuid;

pub const SECRET: &[u8] = b"pages-test-secret-of-32-bytes-ok";
pub const ISSUER: &str = "https://issuer.test";
pub const ORIGIN_OF_SHOP: &str = "http://shop.test";
pub const BODY_BYTES_MAX: usize = 4 * 1024 * 1024;

/// The API and the pages in one router, over a fresh log.
pub struct Site {
    app: Router,
    /// The shop behind the API, for the processes a host runs beside it.
    pub shop: Arc<Shop>,
    runners: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Site {
    fn drop(&mut self) {
        self.runners.cancel();
    }
}

/// What a request answered.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn location(&self) -> &str {
        self.headers.get(LOCATION).and_then(|value| value.to_str().ok()).unwrap_or_default()
    }

    /// The session cookie this answer sets, as a browser sends it back.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|cookie| cookie.starts_with("cloudbash_session=") && !cookie.contains("Max-Age=0"))
            .and_then(|cookie| cookie.split(';').next())
            .map(str::to_owned)
    }
}

/// The site, with the development sign-in when `dev_sign_in`.
pub fn site(dev_sign_in: bool) -> Site {
    site_paying(dev_sign_in, None, None)
}

/// The site taking payments with `payments`, and cards on its pages with `stripe`.
pub fn site_paying(dev_sign_in: bool, payments: Option<Arc<dyn PaymentProvider>>, stripe: Option<StripeJs>) -> Site {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Arc::new(SqliteEventStore::open(dir.path().join("log.db"), Durability::Normal).expect("a store"));
    let clock = Arc::new(SystemClock);
    let snapshots: Arc<dyn SnapshotStore> = store.clone();
    let read_models = ReadModels::open(&store).expect("read models");
    let queries = SqliteQueries::open(&read_models).expect("queries");
    let log = EventLog::new(store, clock.clone());
    let shop = Shop::new(log.clone(), Some(snapshots), clock, Arc::new(RandomTicketCodes));
    let shop = Arc::new(match payments {
        Some(payments) => shop.with_payments(payments),
        None => shop,
    });
    let runners = CancellationToken::new();
    for projection in read_models.projections() {
        tokio::spawn(ProjectionRunner::new(log.clone(), projection).run(runners.clone()));
    }
    let secret = Secret::from_bytes(SECRET);
    let auth = AuthState::new(Verifier::new(&secret, ISSUER));
    let api = router(ApiState::new(auth.clone(), Arc::clone(&shop), ReadSide::of(Arc::new(queries))));
    let mut web = WebState::new(api.clone(), auth);
    if dev_sign_in {
        web = web.with_dev_sign_in(LocalSigner::new(&secret, ISSUER));
    }
    if let Some(stripe) = stripe {
        web = web.with_stripe(stripe);
    }
    Site { app: api.merge(ticketing_web::router(web)), shop, runners, _dir: dir }
}

pub fn admin_token() -> String {
    LocalSigner::new(&Secret::from_bytes(SECRET), ISSUER).issue(
        Uuid::new_v4(),
        true,
        Duration::from_secs(3600),
        SystemTime::now(),
    )
}

impl Site {
    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.app.clone().oneshot(request).await.expect("the router answers");
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, BODY_BYTES_MAX).await.expect("a body");
        Answer { status: parts.status, headers: parts.headers, body: String::from_utf8_lossy(&body).into_owned() }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        let mut request = Request::builder().uri(path);
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).expect("a request")).await
    }

    /// The page at `path` once `until` holds of it: the read side follows the log a moment after a command.
    pub async fn get_until(&self, path: &str, cookie: Option<&str>, until: impl Fn(&Answer) -> bool) -> Answer {
        for _ in 0..100 {
            let answer = self.get(path, cookie).await;
            if until(&answer) {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{path} never answered as awaited");
    }

    /// A form post as the shop's own page sends it.
    pub async fn post_form(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Answer {
        let body = serde_urlencoded::to_string(form).expect("a form encodes");
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("host", "shop.test")
            .header(ORIGIN, ORIGIN_OF_SHOP)
            .header("sec-fetch-site", "same-origin")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        self.send(request.body(Body::from(body)).expect("a request")).await
    }

    /// A command to the REST API as an administrator; its JSON answer.
    pub async fn api(&self, method: Method, path: &str, body: Value) -> Value {
        let request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header("authorization", format!("Bearer {}", admin_token()))
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("a request");
        let answer = self.send(request).await;
        assert!(answer.status.is_success(), "{method} {path}: {} {}", answer.status, answer.body);
        serde_json::from_str(&answer.body).unwrap_or(Value::Null)
    }

    /// A published concert in `city` with one ticket type; its id and the ticket type's.
    pub async fn published_concert(&self, name: &str, city: &str) -> (String, String) {
        let venue =
            json!({"name": format!("Hall of {city}"), "address": "Main street 1", "city": city, "capacity": 500});
        let venue_id = self.api(Method::POST, "/venues", venue).await["id"].as_str().expect("an id").to_owned();
        let concert = json!({"name": name, "venueId": venue_id, "genre": "rock"});
        let concert_id = self.api(Method::POST, "/concerts", concert).await["id"].as_str().expect("an id").to_owned();
        let ticket_type = json!({"name": "Standing", "price": {"amount": 3500, "currency": "EUR"}, "quantity": 100});
        let path = format!("/concerts/{concert_id}/ticket-types");
        let ticket_type_id = self.api(Method::POST, &path, ticket_type).await["id"].as_str().expect("an id").to_owned();
        let starts = Utc::now() + chrono::Duration::days(10);
        let schedule =
            json!({"startsAt": starts.to_rfc3339(), "endsAt": (starts + chrono::Duration::hours(3)).to_rfc3339()});
        self.api(Method::POST, &format!("/concerts/{concert_id}/schedule"), schedule).await;
        self.api(Method::POST, &format!("/concerts/{concert_id}/publish"), Value::Null).await;
        (concert_id, ticket_type_id)
    }

    pub async fn sign_in(&self, name: &str, role: &str) -> String {
        let answer = self.post_form("/shop/sign-in", None, &[("name", name), ("role", role), ("next", "")]).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        answer.session_cookie().expect("signing in sets the session cookie")
    }
}
