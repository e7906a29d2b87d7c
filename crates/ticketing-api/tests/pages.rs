//! The administrators' lists that grow with the business, paged with the cursor contract of every paged list
//! (`?cursor=&limit=`, `nextCursor` until the last page): all orders, a concert's attendees, and one aggregate's
//! events. Walking the pages must show the whole list once, in its order, whatever the page size.

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use ticketing_api::auth::{AuthState, LocalSigner, Secret, Verifier};
use ticketing_api::{ApiState, router};
use tower::ServiceExt;
use uuid::Uuid;

const SECRET: &[u8] = b"integration-test-secret-32-bytes";
const ISSUER: &str = "https://issuer.test";
const RESPONSE_BYTES_MAX: usize = 1024 * 1024;

struct Api {
    _backend: support::Backend,
    app: Router,
    admin: String,
}

fn token(user_id: Uuid, admin: bool) -> String {
    let signer = LocalSigner::new(&Secret::from_bytes(SECRET), ISSUER);
    signer.issue(user_id, admin, Duration::from_secs(3600), SystemTime::now())
}

fn open() -> Api {
    let backend = support::backend();
    let auth = AuthState::new(Verifier::new(&Secret::from_bytes(SECRET), ISSUER));
    let state = ApiState::new(auth, Arc::clone(&backend.shop), backend.queries.clone());
    Api { _backend: backend, app: router(state), admin: token(Uuid::new_v4(), true) }
}

impl Api {
    async fn send(&self, method: Method, uri: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let builder = Request::builder().method(method).uri(uri).header(AUTHORIZATION, format!("Bearer {token}"));
        let request = match body {
            Some(body) => builder.header(CONTENT_TYPE, "application/json").body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        };
        let response = self.app.clone().oneshot(request.expect("a test request is valid")).await;
        let (parts, body) = response.expect("the router never fails").into_parts();
        let bytes = axum::body::to_bytes(body, RESPONSE_BYTES_MAX).await.expect("a test response is small");
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("a JSON body") };
        (parts.status, body)
    }

    /// A command that must succeed; the id it returns, if any.
    async fn command(&self, method: Method, uri: &str, token: &str, body: Option<Value>) -> String {
        let (status, body) = self.send(method.clone(), uri, token, body).await;
        assert!(status.is_success(), "{method} {uri}: {body}");
        body["id"].as_str().or_else(|| body["orderId"].as_str()).unwrap_or_default().to_owned()
    }

    /// A published concert with one ticket type of 100 tickets.
    async fn on_sale(&self) -> (String, String) {
        let venue = json!({"name": "Paradiso", "address": "Weteringschans 6", "city": "Amsterdam", "capacity": 1000});
        let venue_id = self.command(Method::POST, "/venues", &self.admin, Some(venue)).await;
        let concert = json!({"name": "Night of the Crabs", "venueId": venue_id});
        let concert_id = self.command(Method::POST, "/concerts", &self.admin, Some(concert)).await;
        let uri = format!("/concerts/{concert_id}/ticket-types");
        let ticket_type = json!({"name": "Standing", "price": {"amount": 2500, "currency": "EUR"}, "quantity": 100});
        let ticket_type_id = self.command(Method::POST, &uri, &self.admin, Some(ticket_type)).await;
        let schedule = json!({"startsAt": "2030-02-01T20:00:00Z", "endsAt": "2030-02-01T23:00:00Z"});
        self.command(Method::POST, &format!("/concerts/{concert_id}/schedule"), &self.admin, Some(schedule)).await;
        self.command(Method::POST, &format!("/concerts/{concert_id}/publish"), &self.admin, None).await;
        (concert_id, ticket_type_id)
    }

    /// A new customer buys `tickets` tickets; their token.
    async fn buyer(&self, (concert_id, ticket_type_id): &(String, String), tickets: u32) -> String {
        let customer = token(Uuid::new_v4(), false);
        let item = json!({"concertId": concert_id, "ticketTypeId": ticket_type_id, "quantity": tickets});
        self.command(Method::POST, "/cart/items", &customer, Some(item)).await;
        self.command(Method::POST, "/cart/checkout", &customer, None).await;
        customer
    }

    /// Every page of `list` (a path with a query string) at `limit` items a page, as `token`.
    async fn pages(&self, list: &str, limit: u32, token: &str) -> Vec<Value> {
        let mut pages: Vec<Value> = Vec::new();
        let mut uri = format!("{list}limit={limit}");
        loop {
            let (status, page) = self.send(Method::GET, &uri, token, None).await;
            assert_eq!(status, StatusCode::OK, "{uri}: {page}");
            let items = page["items"].as_array().map_or(0, Vec::len);
            assert!(items <= limit as usize, "{uri}: {page}");
            let next = page["nextCursor"].as_str().map(str::to_owned);
            pages.push(page);
            match next {
                Some(cursor) => uri = format!("{list}limit={limit}&cursor={cursor}"),
                None => return pages,
            }
        }
    }
}

fn items(pages: &[Value]) -> Vec<Value> {
    pages.iter().flat_map(|page| page["items"].as_array().cloned().unwrap_or_default()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn all_orders_and_a_customers_own_are_paged() {
    let api = open();
    let concert = api.on_sale().await;
    let mut customers = Vec::new();
    for tickets in 1..=5 {
        customers.push(api.buyer(&concert, tickets).await);
    }

    let whole = items(&api.pages("/orders?", 100, &api.admin).await);
    assert_eq!(whole.len(), 5);
    for limit in [1, 2, 3] {
        let pages = api.pages("/orders?", limit, &api.admin).await;
        assert_eq!(pages.len(), 5_usize.div_ceil(limit as usize), "{limit} a page");
        assert_eq!(items(&pages), whole, "{limit} a page");
    }
    let (status, first) = api.send(Method::GET, "/orders", &api.admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["nextCursor"], Value::Null, "five orders fit the default page");
    let mine = api.pages("/orders?", 1, &customers[0]).await;
    assert_eq!(items(&mine).len(), 1, "a customer pages through their own orders only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_concerts_attendees_are_paged_by_ticket_code() {
    let api = open();
    let concert = api.on_sale().await;
    api.buyer(&concert, 3).await;
    api.buyer(&concert, 4).await;
    let list = format!("/concerts/{}/attendees?", concert.0);

    let whole = items(&api.pages(&list, 100, &api.admin).await);
    let pages = api.pages(&list, 2, &api.admin).await;

    assert_eq!(whole.len(), 7);
    let codes: Vec<&str> = whole.iter().map(|attendee| attendee["ticketCode"].as_str().unwrap_or_default()).collect();
    assert!(codes.is_sorted(), "by ticket code: {codes:?}");
    assert_eq!(pages.len(), 4);
    assert_eq!(items(&pages), whole);
    let unknown = format!("/concerts/{}/attendees?limit=2", Uuid::new_v4());
    assert_eq!(api.send(Method::GET, &unknown, &api.admin, None).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_aggregates_events_are_paged_oldest_first() {
    let api = open();
    let concert = api.on_sale().await;
    api.buyer(&concert, 1).await;
    let list = format!("/aggregates/{}/events?", concert.0);

    let whole = items(&api.pages(&list, 100, &api.admin).await);
    let pages = api.pages(&list, 2, &api.admin).await;

    let versions: Vec<u64> =
        whole.iter().map(|record| record["aggregateVersion"].as_u64().unwrap_or_default()).collect();
    assert_eq!(versions, (1..=versions.len() as u64).collect::<Vec<_>>(), "every event once, oldest first");
    assert!(versions.len() > 4, "created, ticket type, scheduled, published, held, sold: {versions:?}");
    assert_eq!(pages.len(), versions.len().div_ceil(2));
    assert_eq!(items(&pages), whole);
    let unknown = format!("/aggregates/{}/events", Uuid::new_v4());
    assert_eq!(api.send(Method::GET, &unknown, &api.admin, None).await.0, StatusCode::NOT_FOUND);
}
