//! The read routes end to end: commands sent through the production router into a `Shop` on a real SQLite file,
//! read models kept current by background projection runners, and GETs through the same router. They pin the
//! documents, the search, who may see what (drafts, other customers' carts and orders, admin-only lists), the
//! validation of query parameters, and read-your-writes: a GET right after a command shows the command's effect.

mod support;

use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use ticketing_api::auth::{AuthState, LocalSigner, Secret, Verifier};
use ticketing_api::limits::READ_YOUR_WRITES_WAIT_MAX;
use ticketing_api::{ApiState, router};
use tower::ServiceExt;
use uuid::Uuid;

const SECRET: &[u8] = b"integration-test-secret-32-bytes";
const ISSUER: &str = "https://issuer.test";
const RESPONSE_BYTES_MAX: usize = 1024 * 1024;

struct Api {
    _backend: support::Backend,
    app: Router,
    admin_id: Uuid,
    admin: String,
    customer_id: Uuid,
    customer: String,
    other: String,
}

struct Answer {
    status: StatusCode,
    body: Value,
}

fn token(user_id: Uuid, admin: bool) -> String {
    let signer = LocalSigner::new(&Secret::from_bytes(SECRET), ISSUER);
    signer.issue(user_id, admin, Duration::from_secs(3600), SystemTime::now())
}

fn open() -> Api {
    let backend = support::backend();
    let secret = Secret::from_bytes(SECRET);
    let auth = AuthState::new(Verifier::new(&secret, ISSUER));
    let state = ApiState::new(auth, backend.shop.clone(), backend.queries.clone());
    let (admin_id, customer_id) = (Uuid::new_v4(), Uuid::new_v4());
    Api {
        _backend: backend,
        app: router(state),
        admin_id,
        admin: token(admin_id, true),
        customer_id,
        customer: token(customer_id, false),
        other: token(Uuid::new_v4(), false),
    }
}

impl Api {
    async fn send(&self, method: Method, uri: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some(body) => {
                builder = builder.header(CONTENT_TYPE, "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        let response =
            self.app.clone().oneshot(builder.body(body).expect("a test request is valid")).await.expect("no failure");
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, RESPONSE_BYTES_MAX).await.expect("a test response is small");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|error| panic!("a JSON body ({error}): {}", String::from_utf8_lossy(&bytes)))
        };
        if !parts.status.is_success() {
            assert_eq!(parts.headers[CONTENT_TYPE], "application/problem+json", "{body}");
        }
        Answer { status: parts.status, body }
    }

    /// A GET that must succeed; its body.
    async fn get(&self, uri: &str, token: Option<&str>) -> Value {
        let answer = self.send(Method::GET, uri, token, None).await;
        assert_eq!(answer.status, StatusCode::OK, "GET {uri}: {}", answer.body);
        answer.body
    }

    async fn status(&self, uri: &str, token: Option<&str>) -> StatusCode {
        self.send(Method::GET, uri, token, None).await.status
    }

    /// A command that must succeed; the id it returns, if any.
    async fn command(&self, method: Method, uri: &str, token: &str, body: Option<Value>) -> String {
        let answer = self.send(method.clone(), uri, Some(token), body).await;
        assert!(answer.status.is_success(), "{method} {uri}: {}", answer.body);
        answer.body["id"].as_str().or_else(|| answer.body["orderId"].as_str()).unwrap_or_default().to_owned()
    }

    async fn venue(&self, name: &str, city: &str) -> String {
        let body = json!({"name": name, "address": "Weteringschans 6", "city": city, "capacity": 1000});
        self.command(Method::POST, "/venues", &self.admin, Some(body)).await
    }

    /// A scheduled concert with one ticket type of 100 at 25.00 EUR on February `day`, published if asked.
    async fn concert(&self, venue_id: &str, name: &str, day: u32, publish: bool) -> (String, String) {
        let body = json!({"name": name, "venueId": venue_id, "genre": "Rock", "description": "Loud."});
        let concert_id = self.command(Method::POST, "/concerts", &self.admin, Some(body)).await;
        let ticket_type = json!({"name": "Standing", "price": {"amount": 2500, "currency": "EUR"}, "quantity": 100});
        let uri = format!("/concerts/{concert_id}/ticket-types");
        let ticket_type_id = self.command(Method::POST, &uri, &self.admin, Some(ticket_type)).await;
        let schedule =
            json!({"startsAt": format!("2030-02-{day:02}T20:00:00Z"), "endsAt": format!("2030-02-{day:02}T23:00:00Z")});
        let uri = format!("/concerts/{concert_id}/schedule");
        self.command(Method::POST, &uri, &self.admin, Some(schedule)).await;
        if publish {
            self.command(Method::POST, &format!("/concerts/{concert_id}/publish"), &self.admin, None).await;
        }
        (concert_id, ticket_type_id)
    }

    async fn reserve(&self, token: &str, concert_id: &str, ticket_type_id: &str, quantity: u32) -> String {
        let body = json!({"concertId": concert_id, "ticketTypeId": ticket_type_id, "quantity": quantity});
        self.command(Method::POST, "/cart/items", token, Some(body)).await
    }
}

fn names(page: &Value) -> Vec<String> {
    let items = page["items"].as_array().cloned().unwrap_or_default();
    items.iter().map(|item| item["name"].as_str().unwrap_or_default().to_owned()).collect()
}

fn error_fields(answer: &Answer) -> Vec<String> {
    let errors = answer.body["errors"].as_array().cloned().unwrap_or_default();
    errors.iter().map(|error| error["field"].as_str().unwrap_or_default().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reservation_shows_in_the_cart_on_the_very_next_request() {
    let api = open();
    let venue_id = api.venue("Paradiso", "Amsterdam").await;
    let (concert_id, ticket_type_id) = api.concert(&venue_id, "Night of the Crabs", 1, true).await;

    let started = Instant::now();
    let item_id = api.reserve(&api.customer, &concert_id, &ticket_type_id, 3).await;
    let reserved_in = started.elapsed();
    let cart = api.get("/cart", Some(&api.customer)).await;

    assert!(reserved_in < READ_YOUR_WRITES_WAIT_MAX, "the command waited out its bound: {reserved_in:?}");
    assert_eq!(
        cart,
        json!({
            "items": [{
                "id": item_id, "concertId": concert_id, "ticketTypeId": ticket_type_id, "quantity": 3,
                "unitPrice": {"amount": 2500, "currency": "EUR"}, "expiresAt": "2030-01-01T10:15:00.000Z"
            }],
            "total": {"amount": 7500, "currency": "EUR"}
        })
    );
    // The race the wait closes is short, so it is run a few more times: each GET must see every reservation.
    for count in 2..=6 {
        api.reserve(&api.customer, &concert_id, &ticket_type_id, 1).await;
        let items = api.get("/cart", Some(&api.customer)).await["items"].as_array().map(Vec::len);
        assert_eq!(items, Some(count));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_published_concert_is_listed_on_the_very_next_request() {
    let api = open();
    let venue_id = api.venue("Paradiso", "Amsterdam").await;
    let (concert_id, _) = api.concert(&venue_id, "Night of the Crabs", 1, false).await;
    assert!(names(&api.get("/concerts", None).await).is_empty(), "a draft is not listed");

    api.command(Method::POST, &format!("/concerts/{concert_id}/publish"), &api.admin, None).await;
    let page = api.get("/concerts", None).await;

    assert_eq!(
        page,
        json!({
            "items": [{
                "id": concert_id, "name": "Night of the Crabs", "genre": "Rock",
                "startsAt": "2030-02-01T20:00:00.000Z", "endsAt": "2030-02-01T23:00:00.000Z",
                "venue": {"id": venue_id, "name": "Paradiso", "city": "Amsterdam"}
            }],
            "nextCursor": null
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn venues_are_listed_in_pages_and_shown_one_by_one() {
    let api = open();
    let paradiso = api.venue("Paradiso", "Amsterdam").await;
    api.venue("Ancienne Belgique", "Brussels").await;
    api.venue("Melkweg", "Amsterdam").await;

    let first = api.get("/venues?limit=2", None).await;
    let cursor = first["nextCursor"].as_str().expect("a second page").to_owned();
    let second = api.get(&format!("/venues?limit=2&cursor={cursor}"), None).await;
    let venue = api.get(&format!("/venues/{paradiso}"), None).await;

    assert_eq!(names(&first), ["Ancienne Belgique", "Melkweg"]);
    assert_eq!(names(&second), ["Paradiso"]);
    assert_eq!(second["nextCursor"], Value::Null);
    assert_eq!(
        venue,
        json!({"id": paradiso, "name": "Paradiso", "address": "Weteringschans 6", "city": "Amsterdam",
            "capacity": 1000, "description": null, "webUrl": null})
    );
    assert_eq!(api.status(&format!("/venues/{}", Uuid::new_v4()), None).await, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concerts_are_found_by_name_city_and_date_range() {
    let api = open();
    let paradiso = api.venue("Paradiso", "Amsterdam").await;
    let ab = api.venue("Ancienne Belgique", "Brussels").await;
    api.concert(&paradiso, "Night of the Crabs", 1, true).await;
    api.concert(&ab, "Jazz Brunch", 10, true).await;

    let client = &api;
    let search = |query: &'static str| async move { names(&client.get(&format!("/concerts?{query}"), None).await) };

    assert_eq!(search("").await, ["Night of the Crabs", "Jazz Brunch"], "by start time");
    assert_eq!(search("q=crab").await, ["Night of the Crabs"]);
    assert_eq!(search("q=ANCIENNE").await, ["Jazz Brunch"], "q matches the venue's name");
    assert_eq!(search("location=brussels").await, ["Jazz Brunch"]);
    assert_eq!(search("from=2030-02-05T00:00:00Z").await, ["Jazz Brunch"]);
    assert_eq!(search("to=2030-02-01T20:00:00Z").await, ["Night of the Crabs"], "to is inclusive");
    assert_eq!(search("from=2030-02-01T00:00:00%2B01:00&to=2030-02-09T00:00:00Z").await, ["Night of the Crabs"]);
    assert_eq!(search("genre=rock&q=").await, ["Night of the Crabs", "Jazz Brunch"], "a blank q is no filter");
    assert!(search("q=nothing-like-it").await.is_empty());
    let first = api.get("/concerts?limit=1", None).await;
    let cursor = first["nextCursor"].as_str().expect("a second page");
    assert_eq!(names(&api.get(&format!("/concerts?limit=1&cursor={cursor}"), None).await), ["Jazz Brunch"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_draft_is_404_to_anonymous_callers_and_customers_and_shown_to_admins() {
    let api = open();
    let venue_id = api.venue("Paradiso", "Amsterdam").await;
    let (draft, ticket_type_id) = api.concert(&venue_id, "Secret Draft", 1, false).await;
    let uri = format!("/concerts/{draft}");

    assert_eq!(api.status(&uri, None).await, StatusCode::NOT_FOUND);
    assert_eq!(api.status(&uri, Some(&api.customer)).await, StatusCode::NOT_FOUND);
    let concert = api.get(&uri, Some(&api.admin)).await;
    assert!(names(&api.get("/concerts?q=secret", Some(&api.admin)).await).is_empty(), "search lists no drafts");

    assert_eq!(
        concert,
        json!({
            "id": draft, "name": "Secret Draft", "description": "Loud.", "genre": "Rock", "imageUrl": null,
            "ageLimit": null, "status": "draft", "startsAt": "2030-02-01T20:00:00.000Z", "endsAt": "2030-02-01T23:00:00.000Z",
            "venue": {"id": venue_id, "name": "Paradiso", "city": "Amsterdam"},
            "ticketTypes": [{"id": ticket_type_id, "name": "Standing", "price": {"amount": 2500, "currency": "EUR"},
                "quantity": 100, "available": 100}]
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn organisers_find_their_drafts_by_name_until_they_are_published() {
    let api = open();
    let venue_id = api.venue("Paradiso", "Amsterdam").await;
    api.concert(&venue_id, "Already Out", 1, true).await;
    let (zebra, _) = api.concert(&venue_id, "Zebra Night", 2, false).await;
    let (alpha, _) = api.concert(&venue_id, "Alpha Night", 3, false).await;
    let body = json!({"name": "No Date Yet", "venueId": venue_id});
    let unscheduled = api.command(Method::POST, "/concerts", &api.admin, Some(body)).await;

    let page = api.get("/concerts/drafts", Some(&api.admin)).await;
    assert_eq!(
        names(&page),
        ["Alpha Night", "No Date Yet", "Zebra Night"],
        "drafts only (not \"Already Out\"), by name"
    );
    assert_eq!(
        page["items"][1],
        json!({"id": unscheduled, "name": "No Date Yet", "genre": null, "startsAt": null,
               "venue": {"id": venue_id, "name": "Paradiso", "city": "Amsterdam"}})
    );
    assert_eq!(page["items"][0]["startsAt"], "2030-02-03T20:00:00.000Z");

    let first = api.get("/concerts/drafts?limit=2", Some(&api.admin)).await;
    assert_eq!(names(&first), ["Alpha Night", "No Date Yet"]);
    let cursor = first["nextCursor"].as_str().expect("a second page");
    let second = api.get(&format!("/concerts/drafts?limit=2&cursor={cursor}"), Some(&api.admin)).await;
    assert_eq!(names(&second), ["Zebra Night"]);
    assert_eq!(second["nextCursor"], Value::Null);

    api.command(Method::POST, &format!("/concerts/{alpha}/publish"), &api.admin, None).await;
    assert_eq!(names(&api.get("/concerts/drafts", Some(&api.admin)).await), ["No Date Yet", "Zebra Night"]);
    assert_eq!(api.status(&format!("/concerts/{zebra}"), None).await, StatusCode::NOT_FOUND, "still a draft");
    let bad = api.send(Method::GET, "/concerts/drafts?limit=0&cursor=zz", Some(&api.admin), None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_concert_page_shows_what_is_still_available_to_everyone() {
    let api = open();
    let venue_id = api.venue("Paradiso", "Amsterdam").await;
    let (concert_id, ticket_type_id) = api.concert(&venue_id, "Night of the Crabs", 1, true).await;

    api.reserve(&api.customer, &concert_id, &ticket_type_id, 4).await;
    let concert = api.get(&format!("/concerts/{concert_id}"), None).await;

    assert_eq!(concert["status"], "published");
    assert_eq!(concert["ticketTypes"][0]["available"], 96);
    assert_eq!(api.status(&format!("/concerts/{}", Uuid::new_v4()), None).await, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_customer_sees_an_empty_cart_not_another_customers_items() {
    let api = open();
    let venue_id = api.venue("Paradiso", "Amsterdam").await;
    let (concert_id, ticket_type_id) = api.concert(&venue_id, "Night of the Crabs", 1, true).await;
    api.reserve(&api.customer, &concert_id, &ticket_type_id, 2).await;

    let theirs = api.get("/cart", Some(&api.other)).await;

    assert_eq!(theirs, json!({"items": [], "total": null}));
    assert_eq!(api.get("/cart", Some(&api.customer)).await["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_order_is_shown_to_its_owner_and_admins_and_is_404_to_other_customers() {
    let api = open();
    let venue_id = api.venue("Paradiso", "Amsterdam").await;
    let (concert_id, ticket_type_id) = api.concert(&venue_id, "Night of the Crabs", 1, true).await;
    api.reserve(&api.customer, &concert_id, &ticket_type_id, 2).await;
    let order_id = api.command(Method::POST, "/cart/checkout", &api.customer, None).await;
    let uri = format!("/orders/{order_id}");

    let order = api.get(&uri, Some(&api.customer)).await;
    let mine = api.get("/orders", Some(&api.customer)).await;
    let everyone = api.get("/orders", Some(&api.admin)).await;

    assert_eq!(order["id"], order_id.as_str());
    assert_eq!(order["customerId"], api.customer_id.to_string());
    assert_eq!(order["status"], "paid");
    assert_eq!(order["total"], json!({"amount": 5000, "currency": "EUR"}));
    let tickets = order["tickets"].as_array().cloned().unwrap_or_default();
    assert_eq!(tickets.len(), 2);
    for ticket in &tickets {
        assert_eq!(ticket["code"].as_str().map(str::len), Some(20), "{ticket}");
        assert_eq!((&ticket["concertId"], &ticket["ticketTypeId"]), (&json!(concert_id), &json!(ticket_type_id)));
    }
    assert_eq!(mine["items"][0], order);
    assert_eq!(everyone["items"][0], order);
    assert_eq!(api.get(&uri, Some(&api.admin)).await, order);
    assert_eq!(api.status(&uri, Some(&api.other)).await, StatusCode::NOT_FOUND);
    assert_eq!(api.get("/orders", Some(&api.other)).await, json!({"items": [], "nextCursor": null}));
    assert_eq!(api.get("/cart", Some(&api.customer)).await, json!({"items": [], "total": null}), "checked out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attendees_and_daily_sales_show_a_checkout_and_a_check_in() {
    let api = open();
    let venue_id = api.venue("Paradiso", "Amsterdam").await;
    let (concert_id, ticket_type_id) = api.concert(&venue_id, "Night of the Crabs", 1, true).await;
    api.reserve(&api.customer, &concert_id, &ticket_type_id, 3).await;
    let order_id = api.command(Method::POST, "/cart/checkout", &api.customer, None).await;
    let order = api.get(&format!("/orders/{order_id}"), Some(&api.customer)).await;
    let code = order["tickets"][0]["code"].as_str().expect("a ticket code").to_owned();
    api.command(Method::POST, &format!("/concerts/{concert_id}/tickets/{code}/check-in"), &api.admin, None).await;

    let attendees = api.get(&format!("/concerts/{concert_id}/attendees"), Some(&api.admin)).await;
    let sales = api.get(&format!("/concerts/{concert_id}/sales"), Some(&api.admin)).await;

    let attendees = attendees["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(attendees.len(), 3);
    let checked_in: Vec<&Value> = attendees.iter().filter(|attendee| !attendee["checkedInAt"].is_null()).collect();
    assert_eq!(
        checked_in,
        [&json!({"ticketCode": code, "orderId": order_id, "customerId": api.customer_id,
            "ticketTypeId": ticket_type_id, "checkedInAt": "2030-01-01T10:00:00.000Z"})]
    );
    assert_eq!(
        sales,
        json!({"items": [{"day": "2030-01-01", "ticketsSold": 3, "revenue": {"amount": 7500, "currency": "EUR"},
            "ticketsRefunded": 0, "refunded": {"amount": 0, "currency": "EUR"}}]})
    );
    let unknown = format!("/concerts/{}/sales", Uuid::new_v4());
    assert_eq!(api.status(&unknown, Some(&api.admin)).await, StatusCode::NOT_FOUND);

    let export = Request::builder()
        .uri(format!("/concerts/{concert_id}/attendees.csv"))
        .header(AUTHORIZATION, format!("Bearer {}", api.admin))
        .body(Body::empty())
        .expect("a test request is valid");
    let response = api.app.clone().oneshot(export).await.expect("no failure");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
    let bytes = axum::body::to_bytes(response.into_body(), RESPONSE_BYTES_MAX).await.expect("a small body");
    let csv = String::from_utf8(bytes.to_vec()).expect("UTF-8");
    let rows: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(rows.len(), 4, "a header and one row per ticket: {csv}");
    assert_eq!(rows[0], "ticketCode,orderId,customerId,ticketTypeId,ticketType,checkedInAt");
    let checked_in_row =
        format!("{code},{order_id},{},{ticket_type_id},Standing,2030-01-01T10:00:00.000Z", api.customer_id);
    assert!(rows.contains(&checked_in_row.as_str()), "{csv}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_read_routes_are_401_without_a_token_and_403_for_customers() {
    let api = open();
    let id = Uuid::new_v4();
    for uri in [
        format!("/concerts/{id}/attendees"),
        format!("/concerts/{id}/sales"),
        "/concerts/drafts".to_owned(),
        "/events".to_owned(),
        format!("/aggregates/{id}/events"),
    ] {
        let anonymous = api.send(Method::GET, &uri, None, None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{uri}: {}", anonymous.body);
        assert_eq!(api.status(&uri, Some(&api.customer)).await, StatusCode::FORBIDDEN, "{uri}");
    }
    for uri in ["/cart".to_owned(), "/orders".to_owned(), format!("/orders/{id}")] {
        assert_eq!(api.status(&uri, None).await, StatusCode::UNAUTHORIZED, "{uri}");
    }
    let invalid = api.send(Method::GET, &format!("/concerts/{id}"), Some("not-a-token"), None).await;
    assert_eq!(invalid.status, StatusCode::UNAUTHORIZED, "a bad token is refused, not read as anonymous");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_log_routes_return_the_seeds_fields() {
    let api = open();
    let venue_id = api.venue("Paradiso", "Amsterdam").await;
    api.venue("Melkweg", "Amsterdam").await;

    let all = api.get("/events", Some(&api.admin)).await;
    let first = api.get("/events?limit=1", Some(&api.admin)).await;
    let rest = api.get("/events?after=1&limit=1000", Some(&api.admin)).await;
    let stream = api.get(&format!("/aggregates/{venue_id}/events"), Some(&api.admin)).await;

    let record = &all["items"][0];
    let keys: Vec<&str> =
        record.as_object().map(|object| object.keys().map(String::as_str).collect()).unwrap_or_default();
    let mut expected = [
        "aggregateId",
        "aggregateVersion",
        "created",
        "data",
        "eventId",
        "eventType",
        "metadata",
        "position",
        "schemaVersion",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(record["position"], 1);
    assert_eq!(record["aggregateId"], venue_id.as_str());
    assert_eq!(record["aggregateVersion"], 1);
    assert_eq!(record["eventType"], "VenueCreated");
    assert_eq!(record["schemaVersion"], 1);
    assert_eq!(record["created"], "2030-01-01T10:00:00.000Z");
    assert!(Uuid::parse_str(record["eventId"].as_str().unwrap_or_default()).is_ok(), "{record}");
    assert_eq!(record["metadata"]["actor"], api.admin_id.to_string());
    let data: Value = serde_json::from_str(record["data"].as_str().expect("data is JSON text")).expect("JSON");
    assert!(data.to_string().contains("Paradiso"), "{data}");
    assert_eq!(all["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(all["nextCursor"], Value::Null);
    assert_eq!(first["nextCursor"], "1");
    assert_eq!(rest["items"][0]["position"], 2);
    assert_eq!(rest["nextCursor"], Value::Null);
    assert_eq!(stream, json!({"items": [record], "nextCursor": null}));
    let unknown = format!("/aggregates/{}/events", Uuid::new_v4());
    assert_eq!(api.status(&unknown, Some(&api.admin)).await, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_query_parameters_are_400_problems_naming_them() {
    let api = open();
    let id = Uuid::new_v4();
    let cases = [
        ("/concerts?from=tomorrow".to_owned(), vec!["from"]),
        ("/concerts?from=2030-02-01&to=2030-13-01T00:00:00Z".to_owned(), vec!["from", "to"]),
        ("/concerts?from=2030-02-02T00:00:00Z&to=2030-02-01T00:00:00Z".to_owned(), vec!["to"]),
        ("/concerts?limit=0".to_owned(), vec!["limit"]),
        ("/concerts?limit=101".to_owned(), vec!["limit"]),
        ("/concerts?cursor=not-a-cursor".to_owned(), vec!["cursor"]),
        ("/concerts?limit=lots".to_owned(), vec!["limit"]),
        ("/venues?limit=0&cursor=abc".to_owned(), vec!["limit"]),
        ("/venues?cursor=zz".to_owned(), vec!["cursor"]),
        ("/events?limit=1001".to_owned(), vec!["limit"]),
        ("/events?limit=0".to_owned(), vec!["limit"]),
        ("/events?after=first".to_owned(), vec!["after"]),
        ("/orders?limit=0".to_owned(), vec!["limit"]),
        ("/orders?cursor=zz".to_owned(), vec!["cursor"]),
        (format!("/aggregates/{id}/events?cursor=0"), vec!["cursor"]),
    ];
    for (uri, fields) in cases {
        let answer = api.send(Method::GET, &uri, Some(&api.admin), None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{uri}: {}", answer.body);
        assert_eq!(error_fields(&answer), fields, "{uri}: {}", answer.body);
    }
    for uri in ["/orders/nope", "/venues/nope"] {
        assert_eq!(api.status(uri, Some(&api.admin)).await, StatusCode::BAD_REQUEST, "{uri}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn numbers_out_of_range_negative_or_empty_are_400_problems_naming_them() {
    let api = open();
    let id = Uuid::new_v4();
    let beyond_the_log = "9223372036854775808";
    let mut cases = vec![
        (format!("/events?after={beyond_the_log}"), "after"),
        ("/events?after=18446744073709551616".to_owned(), "after"),
        ("/events?after=-1".to_owned(), "after"),
        ("/events?after=".to_owned(), "after"),
        ("/events?limit=".to_owned(), "limit"),
        ("/events?limit=-5".to_owned(), "limit"),
        ("/events?limit=4294967296".to_owned(), "limit"),
        (format!("/events/live?after={beyond_the_log}"), "after"),
        ("/events/live?after=".to_owned(), "after"),
        ("/events/live?after=-1".to_owned(), "after"),
        (format!("/aggregates/{id}/events?cursor={beyond_the_log}"), "cursor"),
    ];
    for list in ["/venues", "/concerts", "/concerts/drafts", "/orders"] {
        for limit in ["", "-1", "4294967296", "99999999999999999999"] {
            cases.push((format!("{list}?limit={limit}"), "limit"));
        }
    }
    for (uri, field) in cases {
        let answer = api.send(Method::GET, &uri, Some(&api.admin), None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{uri}: {}", answer.body);
        assert_eq!(error_fields(&answer), [field], "{uri}: {}", answer.body);
    }
    let last_position = api.get("/events?after=9223372036854775807", Some(&api.admin)).await;
    assert_eq!(last_position, json!({"items": [], "nextCursor": null}), "the largest position is a position");
    let mut header = Request::builder().uri("/events/live").header(AUTHORIZATION, format!("Bearer {}", api.admin));
    header = header.header("Last-Event-ID", beyond_the_log);
    let response = api.app.clone().oneshot(header.body(Body::empty()).expect("a test request is valid")).await;
    let response = response.expect("the router never fails");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_empty_time_or_cursor_is_a_400_problem_but_a_blank_text_filter_is_no_filter() {
    let api = open();
    let cases = [
        ("/concerts?to=", vec!["to"]),
        ("/concerts?from=", vec!["from"]),
        ("/concerts?from=%20&to=", vec!["from", "to"]),
        ("/concerts?cursor=", vec!["cursor"]),
        ("/venues?cursor=", vec!["cursor"]),
        ("/concerts/drafts?cursor=", vec!["cursor"]),
        ("/orders?cursor=", vec!["cursor"]),
    ];
    for (uri, fields) in cases {
        let answer = api.send(Method::GET, uri, Some(&api.admin), None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{uri}: {}", answer.body);
        assert_eq!(error_fields(&answer), fields, "{uri}: {}", answer.body);
    }
    assert_eq!(api.get("/concerts?q=&location=&genre=", None).await, json!({"items": [], "nextCursor": null}));
}
