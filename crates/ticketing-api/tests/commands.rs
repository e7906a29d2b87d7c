//! The command routes end to end: HTTP requests through the production router into a `Shop` on a real SQLite file,
//! with a manual clock and tokens from the local signer. They pin the REST contract: statuses, bodies, problems,
//! authorization and idempotency, as a client sees them.

mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use es_core::Position;
use serde_json::{Value, json};
use ticketing::{ConcertId, OrderId, TicketTypeId};
use ticketing_api::auth::{AuthState, LocalSigner, Secret, Verifier};
use ticketing_api::{ApiState, router};
use ticketing_app::{CONCERTS_PER_CART_MAX, Shop};
use tower::ServiceExt;
use uuid::Uuid;

const SECRET: &[u8] = b"integration-test-secret-32-bytes";
const ISSUER: &str = "https://issuer.test";
const RESPONSE_BYTES_MAX: usize = 1024 * 1024;

struct Api {
    _backend: support::Backend,
    app: Router,
    shop: Arc<Shop>,
    admin_id: Uuid,
    admin: String,
    customer_id: Uuid,
    customer: String,
}

/// What a response carries: its status, headers and body (`Value::Null` when empty).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

fn open() -> Api {
    let backend = support::backend();
    let shop = Arc::clone(&backend.shop);
    let secret = Secret::from_bytes(SECRET);
    let state =
        ApiState::new(AuthState::new(Verifier::new(&secret, ISSUER)), Arc::clone(&shop), backend.queries.clone());
    let (admin_id, customer_id) = (Uuid::new_v4(), Uuid::new_v4());
    Api {
        _backend: backend,
        app: router(state),
        shop,
        admin_id,
        admin: token(admin_id, true),
        customer_id,
        customer: token(customer_id, false),
    }
}

fn token(user_id: Uuid, admin: bool) -> String {
    LocalSigner::new(&Secret::from_bytes(SECRET), ISSUER).issue(
        user_id,
        admin,
        Duration::from_secs(3600),
        SystemTime::now(),
    )
}

fn random_id() -> String {
    Uuid::new_v4().to_string()
}

impl Api {
    /// Sends a request with an optional bearer token and an optional raw body (sent as JSON).
    async fn raw(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
        key: Option<&str>,
    ) -> Answer {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(key) = key {
            builder = builder.header("Idempotency-Key", key);
        }
        let body = match body {
            Some(bytes) => {
                builder = builder.header(CONTENT_TYPE, "application/json");
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let request = builder.body(body).expect("a test request is valid");
        let response = self.app.clone().oneshot(request).await.expect("the router never fails");
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, RESPONSE_BYTES_MAX).await.expect("a test response is small");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|error| panic!("a JSON body ({error}): {}", String::from_utf8_lossy(&bytes)))
        };
        Answer { status: parts.status, headers: parts.headers, body }
    }

    async fn send(&self, method: Method, uri: &str, token: &str, body: Option<Value>) -> Answer {
        self.raw(method, uri, Some(token), body.map(|body| body.to_string().into_bytes()), None).await
    }

    async fn admin(&self, method: Method, uri: &str, body: Option<Value>) -> Answer {
        self.send(method, uri, &self.admin, body).await
    }

    async fn customer(&self, method: Method, uri: &str, body: Option<Value>) -> Answer {
        self.send(method, uri, &self.customer, body).await
    }

    /// A venue, created through the API.
    async fn venue(&self) -> String {
        let body = json!({"name": "Paradiso", "address": "Weteringschans 6", "city": "Amsterdam", "capacity": 1000});
        id_of(&expect(self.admin(Method::POST, "/venues", Some(body)).await, StatusCode::CREATED))
    }

    /// A draft concert at a new venue.
    async fn draft(&self) -> String {
        let venue_id = self.venue().await;
        let body = json!({"name": "Night of the Crabs", "venueId": venue_id, "genre": "Rock"});
        id_of(&expect(self.admin(Method::POST, "/concerts", Some(body)).await, StatusCode::CREATED))
    }

    /// A published concert with one ticket type of `quantity` tickets at 25.00 EUR.
    async fn on_sale(&self, quantity: u32) -> (String, String) {
        let concert_id = self.draft().await;
        let ticket_type =
            json!({"name": "Standing", "price": {"amount": 2500, "currency": "EUR"}, "quantity": quantity});
        let uri = format!("/concerts/{concert_id}/ticket-types");
        let ticket_type_id =
            id_of(&expect(self.admin(Method::POST, &uri, Some(ticket_type)).await, StatusCode::CREATED));
        let schedule = json!({"startsAt": "2030-02-01T20:00:00Z", "endsAt": "2030-02-01T23:00:00Z"});
        let uri = format!("/concerts/{concert_id}/schedule");
        expect(self.admin(Method::POST, &uri, Some(schedule)).await, StatusCode::OK);
        expect(self.admin(Method::POST, &format!("/concerts/{concert_id}/publish"), None).await, StatusCode::OK);
        (concert_id, ticket_type_id)
    }

    async fn reserve(&self, concert_id: &str, ticket_type_id: &str, quantity: i64) -> Answer {
        let body = json!({"concertId": concert_id, "ticketTypeId": ticket_type_id, "quantity": quantity});
        self.customer(Method::POST, "/cart/items", Some(body)).await
    }

    /// The ticket codes of an order, read from the command side.
    async fn codes(&self, order_id: &str) -> Vec<String> {
        let order_id = OrderId(order_id.parse().expect("a UUID"));
        let order = self.shop.orders().refresh(order_id.into()).await.expect("the order loads");
        order.state.tickets().map(|ticket| ticket.code.as_str().to_owned()).collect()
    }
}

impl Api {
    /// The ticket codes of an order for one concert.
    async fn codes_for(&self, order_id: &str, concert_id: &str) -> Vec<String> {
        let order_id = OrderId(order_id.parse().expect("a UUID"));
        let concert_id = ConcertId(concert_id.parse().expect("a UUID"));
        let order = self.shop.orders().refresh(order_id.into()).await.expect("the order loads");
        let tickets = order.state.tickets().filter(|ticket| ticket.line.concert_id == concert_id);
        tickets.map(|ticket| ticket.code.as_str().to_owned()).collect()
    }
}

/// Asserts the status, and that every error is a problem document with that status.
fn expect(answer: Answer, status: StatusCode) -> Answer {
    assert_eq!(answer.status, status, "unexpected answer: {}", answer.body);
    if !status.is_success() {
        assert_eq!(answer.headers[CONTENT_TYPE], "application/problem+json", "{}", answer.body);
        assert_eq!(answer.body["status"].as_u64(), Some(u64::from(status.as_u16())), "{}", answer.body);
    }
    answer
}

fn id_of(answer: &Answer) -> String {
    answer.body["id"].as_str().unwrap_or_else(|| panic!("no id in {}", answer.body)).to_owned()
}

fn error_fields(answer: &Answer) -> Vec<String> {
    let errors = answer.body["errors"].as_array().cloned().unwrap_or_default();
    errors.iter().map(|error| error["field"].as_str().unwrap_or_default().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admin_takes_a_concert_from_venue_to_publication() {
    let api = open();

    let venue = expect(
        api.admin(
            Method::POST,
            "/venues",
            Some(json!({"name": "Paradiso", "address": "Weteringschans 6", "city": "Amsterdam", "capacity": 1000,
                "description": "A church", "webUrl": "https://paradiso.nl"})),
        )
        .await,
        StatusCode::CREATED,
    );
    let venue_id = id_of(&venue);
    assert_eq!(venue.headers[LOCATION], format!("/venues/{venue_id}").as_str());
    assert_eq!(venue.body.as_object().map(|body| body.len()), Some(1), "only the id: {}", venue.body);

    let concert = expect(
        api.admin(Method::POST, "/concerts", Some(json!({"name": "Night of the Crabs", "venueId": venue_id}))).await,
        StatusCode::CREATED,
    );
    let concert_id = id_of(&concert);
    assert_eq!(concert.headers[LOCATION], format!("/concerts/{concert_id}").as_str());

    let update = json!({"description": "Loud.", "genre": "Rock", "imageUrl": "https://img.example/crab.png"});
    let updated =
        expect(api.admin(Method::PATCH, &format!("/concerts/{concert_id}"), Some(update)).await, StatusCode::OK);
    assert_eq!(updated.body, Value::Null);

    let ticket_types = format!("/concerts/{concert_id}/ticket-types");
    let standing = json!({"name": "Standing", "price": {"amount": 2500, "currency": "EUR"}, "quantity": 100});
    let ticket_type_id =
        id_of(&expect(api.admin(Method::POST, &ticket_types, Some(standing)).await, StatusCode::CREATED));
    let balcony = json!({"name": "Balcony", "price": {"amount": 0, "currency": "EUR"}, "quantity": 10});
    let balcony_id = id_of(&expect(api.admin(Method::POST, &ticket_types, Some(balcony)).await, StatusCode::CREATED));
    expect(api.admin(Method::DELETE, &format!("{ticket_types}/{balcony_id}"), None).await, StatusCode::NO_CONTENT);

    let schedule = json!({"startsAt": "2030-02-01T20:00:00Z", "endsAt": "2030-02-01T23:00:00Z"});
    expect(api.admin(Method::POST, &format!("/concerts/{concert_id}/schedule"), Some(schedule)).await, StatusCode::OK);
    expect(api.admin(Method::POST, &format!("/concerts/{concert_id}/publish"), None).await, StatusCode::OK);

    let concert_id = ConcertId(concert_id.parse().expect("a UUID"));
    let concert = api.shop.concerts().refresh(concert_id.into()).await.expect("the concert loads");
    let details = concert.state.details().expect("the concert exists");
    assert_eq!(details.venue_id.to_string(), venue_id);
    let ticket_type_id = TicketTypeId(ticket_type_id.parse().expect("a UUID"));
    assert_eq!(concert.state.ticket_type(ticket_type_id).map(|ticket_type| ticket_type.price.amount), Some(2500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_draft_can_be_cancelled_and_an_unused_venue_deleted() {
    let api = open();
    let concert_id = api.draft().await;
    let venue_id = api.venue().await;

    let cancelled =
        expect(api.admin(Method::POST, &format!("/concerts/{concert_id}/cancel"), None).await, StatusCode::OK);
    let deleted = expect(api.admin(Method::DELETE, &format!("/venues/{venue_id}"), None).await, StatusCode::NO_CONTENT);

    assert_eq!((cancelled.body, deleted.body), (Value::Null, Value::Null));
    let again = api.admin(Method::POST, &format!("/concerts/{concert_id}/publish"), None).await;
    expect(again, StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_customer_reserves_tickets_and_checks_out_into_an_order() {
    let api = open();
    let (concert_id, ticket_type_id) = api.on_sale(100).await;

    let item = expect(api.reserve(&concert_id, &ticket_type_id, 3).await, StatusCode::CREATED);
    let item_id = id_of(&item);
    assert_eq!(item.body["expiresAt"], "2030-01-01T10:15:00Z");
    assert_eq!(item.headers[LOCATION], format!("/cart/items/{item_id}").as_str());

    let order = expect(api.customer(Method::POST, "/cart/checkout", None).await, StatusCode::CREATED);
    let order_id = order.body["orderId"].as_str().expect("an order id").to_owned();
    assert!(Uuid::parse_str(&order_id).is_ok());
    assert_eq!(api.codes(&order_id).await.len(), 3);

    let empty = api.customer(Method::POST, "/cart/checkout", None).await;
    expect(empty, StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_disabled_customer_is_refused_with_a_403_until_enabled_again() {
    let api = open();
    let (concert_id, ticket_type_id) = api.on_sale(100).await;
    let item_id = id_of(&expect(api.reserve(&concert_id, &ticket_type_id, 1).await, StatusCode::CREATED));
    let customer = format!("/customers/{}", api.customer_id);
    let refused = api.customer(Method::POST, &format!("{customer}/disable"), None).await;
    expect(refused, StatusCode::FORBIDDEN);

    expect(api.admin(Method::POST, &format!("{customer}/disable"), None).await, StatusCode::OK);
    expect(api.admin(Method::POST, &format!("{customer}/disable"), None).await, StatusCode::OK);

    let reserve = expect(api.reserve(&concert_id, &ticket_type_id, 1).await, StatusCode::FORBIDDEN);
    assert_eq!(reserve.headers[CONTENT_TYPE], "application/problem+json");
    assert!(reserve.body["detail"].as_str().is_some_and(|detail| detail.contains("disabled")), "{}", reserve.body);
    expect(api.customer(Method::POST, "/cart/checkout", None).await, StatusCode::FORBIDDEN);
    let remove = api.customer(Method::DELETE, &format!("/cart/items/{item_id}"), None).await;
    expect(remove, StatusCode::NO_CONTENT);

    expect(api.admin(Method::POST, &format!("{customer}/enable"), None).await, StatusCode::OK);
    expect(api.reserve(&concert_id, &ticket_type_id, 1).await, StatusCode::CREATED);
    expect(api.customer(Method::POST, "/cart/checkout", None).await, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_removed_cart_item_frees_its_tickets() {
    let api = open();
    let (concert_id, ticket_type_id) = api.on_sale(2).await;
    let item_id = id_of(&expect(api.reserve(&concert_id, &ticket_type_id, 2).await, StatusCode::CREATED));

    expect(api.customer(Method::DELETE, &format!("/cart/items/{item_id}"), None).await, StatusCode::NO_CONTENT);

    expect(api.reserve(&concert_id, &ticket_type_id, 2).await, StatusCode::CREATED);
    let gone = api.customer(Method::DELETE, &format!("/cart/items/{item_id}"), None).await;
    expect(gone, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reserving_more_tickets_than_are_left_is_a_409_problem() {
    let api = open();
    let (concert_id, ticket_type_id) = api.on_sale(5).await;
    expect(api.reserve(&concert_id, &ticket_type_id, 4).await, StatusCode::CREATED);

    let problem = expect(api.reserve(&concert_id, &ticket_type_id, 2).await, StatusCode::CONFLICT);

    assert!(problem.body["detail"].as_str().is_some_and(|detail| !detail.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_concert_keeps_the_age_limit_it_is_given_and_refuses_one_out_of_range() {
    let api = open();
    let venue = json!({"name": "Paradiso", "address": "Weteringschans 6", "city": "Amsterdam", "capacity": 1000});
    let venue_id = id_of(&expect(api.admin(Method::POST, "/venues", Some(venue)).await, StatusCode::CREATED));
    let concert = json!({"name": "Late Set", "venueId": venue_id, "ageLimit": 18});
    let concert_id = id_of(&expect(api.admin(Method::POST, "/concerts", Some(concert)).await, StatusCode::CREATED));
    let path = format!("/concerts/{concert_id}");
    assert_eq!(expect(api.admin(Method::GET, &path, None).await, StatusCode::OK).body["ageLimit"], json!(18));

    let renamed = json!({"name": "Later Set"});
    expect(api.admin(Method::PATCH, &path, Some(renamed)).await, StatusCode::OK);
    assert_eq!(expect(api.admin(Method::GET, &path, None).await, StatusCode::OK).body["ageLimit"], json!(18), "kept");
    expect(api.admin(Method::PATCH, &path, Some(json!({"ageLimit": 16}))).await, StatusCode::OK);
    assert_eq!(expect(api.admin(Method::GET, &path, None).await, StatusCode::OK).body["ageLimit"], json!(16));

    for years in [0, 22, -1] {
        let refused = expect(
            api.admin(Method::PATCH, &path, Some(json!({"ageLimit": years}))).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
        assert_eq!(error_fields(&refused), ["ageLimit"], "{years}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eleven_tickets_for_one_concert_are_a_422_problem() {
    let api = open();
    let (concert_id, ticket_type_id) = api.on_sale(100).await;

    expect(api.reserve(&concert_id, &ticket_type_id, 11).await, StatusCode::UNPROCESSABLE_ENTITY);
    expect(api.reserve(&concert_id, &ticket_type_id, 6).await, StatusCode::CREATED);
    expect(api.reserve(&concert_id, &ticket_type_id, 5).await, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ticket_checks_in_once_and_then_conflicts() {
    let api = open();
    let (concert_id, ticket_type_id) = api.on_sale(10).await;
    expect(api.reserve(&concert_id, &ticket_type_id, 2).await, StatusCode::CREATED);
    let order = expect(api.customer(Method::POST, "/cart/checkout", None).await, StatusCode::CREATED);
    let codes = api.codes(order.body["orderId"].as_str().expect("an order id")).await;

    let door = |code: &str| format!("/concerts/{concert_id}/tickets/{code}/check-in");
    let first = expect(api.admin(Method::POST, &door(&codes[0]), None).await, StatusCode::OK);
    let second = api.admin(Method::POST, &door(&codes[0]), None).await;
    let other = api.admin(Method::POST, &door(&codes[1]), None).await;

    assert_eq!(first.body, Value::Null);
    expect(second, StatusCode::CONFLICT);
    expect(other, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_door_lets_in_only_tickets_of_its_own_concert() {
    let api = open();
    let (here, here_type) = api.on_sale(10).await;
    let (elsewhere, elsewhere_type) = api.on_sale(10).await;
    expect(api.reserve(&elsewhere, &elsewhere_type, 1).await, StatusCode::CREATED);
    expect(api.reserve(&here, &here_type, 1).await, StatusCode::CREATED);
    let order = expect(api.customer(Method::POST, "/cart/checkout", None).await, StatusCode::CREATED);
    let order_id = order.body["orderId"].as_str().expect("an order id").to_owned();
    let (here_code, elsewhere_code) =
        (&api.codes_for(&order_id, &here).await[0], &api.codes_for(&order_id, &elsewhere).await[0]);

    let door = |concert: &str, code: &str| format!("/concerts/{concert}/tickets/{code}/check-in");
    let wrong =
        expect(api.admin(Method::POST, &door(&here, elsewhere_code), None).await, StatusCode::UNPROCESSABLE_ENTITY);
    let detail = wrong.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(&format!("is for concert {elsewhere}, not for concert {here}")), "{detail}");
    expect(api.admin(Method::POST, &door(&random_id(), here_code), None).await, StatusCode::NOT_FOUND);
    expect(api.admin(Method::POST, &door(&here, "ABCDEFGHIJKLMNOPQRST"), None).await, StatusCode::NOT_FOUND);
    let malformed = expect(api.admin(Method::POST, &door(&here, "short"), None).await, StatusCode::BAD_REQUEST);
    assert_eq!(error_fields(&malformed), ["code"]);

    let first = expect(api.admin(Method::POST, &door(&here, here_code), None).await, StatusCode::OK);
    assert_eq!(first.body, Value::Null);
    expect(api.admin(Method::POST, &door(&here, here_code), None).await, StatusCode::CONFLICT);
    expect(api.admin(Method::POST, &door(&elsewhere, elsewhere_code), None).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_ticket_of_a_cancelled_concert_is_checked_in() {
    let api = open();
    let (concert_id, ticket_type_id) = api.on_sale(10).await;
    expect(api.reserve(&concert_id, &ticket_type_id, 2).await, StatusCode::CREATED);
    let order = expect(api.customer(Method::POST, "/cart/checkout", None).await, StatusCode::CREATED);
    let codes = api.codes(order.body["orderId"].as_str().expect("an order id")).await;
    expect(api.admin(Method::POST, &format!("/concerts/{concert_id}/cancel"), None).await, StatusCode::OK);

    let at_door = format!("/concerts/{concert_id}/tickets/{}/check-in", codes[0]);
    let refused = expect(api.admin(Method::POST, &at_door, None).await, StatusCode::CONFLICT);
    let detail = refused.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("which is cancelled"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_customer_holds_at_most_twenty_tickets_across_all_concerts() {
    let api = open();
    let mut concerts = Vec::new();
    for _ in 0..3 {
        concerts.push(api.on_sale(10).await);
    }
    expect(api.reserve(&concerts[0].0, &concerts[0].1, 10).await, StatusCode::CREATED);
    expect(api.reserve(&concerts[1].0, &concerts[1].1, 10).await, StatusCode::CREATED);

    let refused = expect(api.reserve(&concerts[2].0, &concerts[2].1, 1).await, StatusCode::UNPROCESSABLE_ENTITY);

    let detail = refused.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("at most 20 tickets at once across all concerts: 20 held, 1 more requested"), "{detail}");
    expect(api.customer(Method::POST, "/cart/checkout", None).await, StatusCode::CREATED);
    expect(api.reserve(&concerts[2].0, &concerts[2].1, 1).await, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unknown_or_malformed_ticket_code_is_a_404_or_400_problem() {
    let api = open();

    let (concert_id, _) = api.on_sale(10).await;
    let door = |code: &str| format!("/concerts/{concert_id}/tickets/{code}/check-in");
    expect(api.admin(Method::POST, &door("ABCDEFGHIJKLMNOPQRST"), None).await, StatusCode::NOT_FOUND);
    let malformed = expect(api.admin(Method::POST, &door("short"), None).await, StatusCode::BAD_REQUEST);
    assert_eq!(error_fields(&malformed), ["code"]);
}

/// Every administrators' route, with ids that exist nowhere.
fn admin_routes() -> Vec<(Method, String)> {
    let (id, other) = (random_id(), random_id());
    vec![
        (Method::POST, "/venues".to_owned()),
        (Method::DELETE, format!("/venues/{id}")),
        (Method::POST, "/concerts".to_owned()),
        (Method::PATCH, format!("/concerts/{id}")),
        (Method::POST, format!("/concerts/{id}/schedule")),
        (Method::POST, format!("/concerts/{id}/ticket-types")),
        (Method::DELETE, format!("/concerts/{id}/ticket-types/{other}")),
        (Method::POST, format!("/concerts/{id}/publish")),
        (Method::POST, format!("/concerts/{id}/cancel")),
        (Method::POST, format!("/concerts/{id}/tickets/ABCDEFGHIJKLMNOPQRST/check-in")),
    ]
}

fn customer_routes() -> Vec<(Method, String)> {
    vec![
        (Method::POST, "/cart/items".to_owned()),
        (Method::DELETE, format!("/cart/items/{}", random_id())),
        (Method::POST, "/cart/checkout".to_owned()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_admin_route_is_401_without_a_token_and_403_with_a_customer_token() {
    let api = open();
    for (method, uri) in admin_routes() {
        let anonymous = api.raw(method.clone(), &uri, None, Some(b"{}".to_vec()), None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{method} {uri}: {}", anonymous.body);
        assert_eq!(anonymous.headers["www-authenticate"], "Bearer", "{method} {uri}");

        let customer = api.raw(method.clone(), &uri, Some(&api.customer), Some(b"{}".to_vec()), None).await;
        assert_eq!(customer.status, StatusCode::FORBIDDEN, "{method} {uri}: {}", customer.body);
        assert_eq!(customer.headers[CONTENT_TYPE], "application/problem+json");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_customer_route_is_401_without_a_token() {
    let api = open();
    for (method, uri) in customer_routes() {
        let anonymous = api.raw(method.clone(), &uri, None, Some(b"{}".to_vec()), None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{method} {uri}: {}", anonymous.body);
    }
}

/// Every route that reads a JSON body, with the owner's token.
async fn body_routes(api: &Api) -> Vec<(Method, String, String)> {
    let concert_id = api.draft().await;
    vec![
        (Method::POST, "/venues".to_owned(), api.admin.clone()),
        (Method::POST, "/concerts".to_owned(), api.admin.clone()),
        (Method::PATCH, format!("/concerts/{concert_id}"), api.admin.clone()),
        (Method::POST, format!("/concerts/{concert_id}/schedule"), api.admin.clone()),
        (Method::POST, format!("/concerts/{concert_id}/ticket-types"), api.admin.clone()),
        (Method::POST, "/cart/items".to_owned(), api.customer.clone()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_json_is_a_400_and_an_oversized_body_a_413_on_every_body_route() {
    let api = open();
    for (method, uri, token) in body_routes(&api).await {
        let malformed = api.raw(method.clone(), &uri, Some(&token), Some(b"{,}".to_vec()), None).await;
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST, "{method} {uri}: {}", malformed.body);

        let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(64 * 1024));
        let oversized = api.raw(method.clone(), &uri, Some(&token), Some(huge.into_bytes()), None).await;
        assert_eq!(oversized.status, StatusCode::PAYLOAD_TOO_LARGE, "{method} {uri}: {}", oversized.body);

        let unknown = api.raw(method.clone(), &uri, Some(&token), Some(br#"{"colour": "red"}"#.to_vec()), None).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "{method} {uri}: {}", unknown.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn missing_fields_and_wrong_types_are_422_problems_naming_the_field() {
    let api = open();
    let concert_id = api.draft().await;
    let cases = [
        ("/venues".to_owned(), json!({"name": "Paradiso", "address": "x", "city": "y"}), "capacity"),
        ("/venues".to_owned(), json!({"name": "P", "address": "x", "city": "y", "capacity": "many"}), "capacity"),
        ("/concerts".to_owned(), json!({"name": "Crabs"}), "venueId"),
        ("/concerts".to_owned(), json!({"name": "Crabs", "venueId": "not-a-uuid"}), "venueId"),
        (format!("/concerts/{concert_id}/schedule"), json!({"startsAt": "2030-02-01T20:00:00Z"}), "endsAt"),
        (format!("/concerts/{concert_id}/ticket-types"), json!({"name": "S", "price": 25, "quantity": 1}), "price"),
        (
            format!("/concerts/{concert_id}/ticket-types"),
            json!({"name": "S", "price": {"amount": 1}, "quantity": 1}),
            "price.currency",
        ),
    ];
    for (uri, body, field) in cases {
        let answer = expect(api.admin(Method::POST, &uri, Some(body.clone())).await, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error_fields(&answer), [field], "{uri} {body}: {}", answer.body);
    }
    let cart = json!({"concertId": concert_id, "ticketTypeId": random_id(), "quantity": true});
    let answer = expect(api.customer(Method::POST, "/cart/items", Some(cart)).await, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&answer), ["quantity"]);
    let patch = json!({"name": 7});
    let answer = expect(
        api.admin(Method::PATCH, &format!("/concerts/{concert_id}"), Some(patch)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    );
    assert_eq!(error_fields(&answer), ["name"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_invalid_field_of_a_document_is_reported_at_once() {
    let api = open();

    let venue =
        json!({"name": "", "address": "x".repeat(301), "city": "Amsterdam", "capacity": 0, "webUrl": "ftp://x"});
    let answer = expect(api.admin(Method::POST, "/venues", Some(venue)).await, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&answer), ["name", "address", "capacity", "webUrl"]);

    let concert_id = api.draft().await;
    let ticket_type = json!({"name": "n".repeat(201), "price": {"amount": -5, "currency": "eur"}, "quantity": -1});
    let uri = format!("/concerts/{concert_id}/ticket-types");
    let answer = expect(api.admin(Method::POST, &uri, Some(ticket_type)).await, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&answer), ["name", "price.amount", "price.currency", "quantity"]);

    let schedule = json!({"startsAt": "tomorrow", "endsAt": "2030-02-01 20:00"});
    let uri = format!("/concerts/{concert_id}/schedule");
    let answer = expect(api.admin(Method::POST, &uri, Some(schedule)).await, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&answer), ["startsAt", "endsAt"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn zero_negative_and_huge_quantities_are_422_problems() {
    let api = open();
    let (concert_id, ticket_type_id) = api.on_sale(10).await;
    let draft_id = api.draft().await;
    for quantity in [json!(0), json!(-1), json!(250_001), json!(4_294_967_296_i64), json!(1e30)] {
        let cart = json!({"concertId": concert_id, "ticketTypeId": ticket_type_id, "quantity": quantity});
        let answer = api.customer(Method::POST, "/cart/items", Some(cart)).await;
        assert_eq!(error_fields(&expect(answer, StatusCode::UNPROCESSABLE_ENTITY)), ["quantity"], "{quantity}");

        let ticket_type = json!({"name": "S", "price": {"amount": 1, "currency": "EUR"}, "quantity": quantity});
        let answer = api.admin(Method::POST, &format!("/concerts/{draft_id}/ticket-types"), Some(ticket_type)).await;
        assert_eq!(error_fields(&expect(answer, StatusCode::UNPROCESSABLE_ENTITY)), ["quantity"], "{quantity}");

        let venue = json!({"name": "P", "address": "x", "city": "y", "capacity": quantity});
        let answer = api.admin(Method::POST, "/venues", Some(venue)).await;
        assert_eq!(error_fields(&expect(answer, StatusCode::UNPROCESSABLE_ENTITY)), ["capacity"], "{quantity}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_schedule_in_the_wrong_order_or_a_price_over_the_limit_is_a_422_problem() {
    let api = open();
    let concert_id = api.draft().await;

    let backwards = json!({"startsAt": "2030-02-01T23:00:00Z", "endsAt": "2030-02-01T20:00:00Z"});
    let uri = format!("/concerts/{concert_id}/schedule");
    let answer = expect(api.admin(Method::POST, &uri, Some(backwards)).await, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&answer), ["endsAt"]);
    let past = json!({"startsAt": "2020-02-01T20:00:00Z", "endsAt": "2020-02-01T23:00:00Z"});
    expect(api.admin(Method::POST, &uri, Some(past)).await, StatusCode::UNPROCESSABLE_ENTITY);

    let pricey = json!({"name": "Gold", "price": {"amount": i64::MAX, "currency": "EUR"}, "quantity": 1});
    let uri = format!("/concerts/{concert_id}/ticket-types");
    expect(api.admin(Method::POST, &uri, Some(pricey)).await, StatusCode::UNPROCESSABLE_ENTITY);
    let empty_patch = api.admin(Method::PATCH, &format!("/concerts/{concert_id}"), Some(json!({}))).await;
    expect(empty_patch, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_malformed_uuid_in_any_path_is_a_400_problem() {
    let api = open();
    let id = random_id();
    let routes = [
        (Method::DELETE, "/venues/nope".to_owned(), &api.admin),
        (Method::PATCH, "/concerts/nope".to_owned(), &api.admin),
        (Method::POST, "/concerts/nope/schedule".to_owned(), &api.admin),
        (Method::POST, "/concerts/nope/ticket-types".to_owned(), &api.admin),
        (Method::DELETE, format!("/concerts/{id}/ticket-types/nope"), &api.admin),
        (Method::POST, "/concerts/nope/publish".to_owned(), &api.admin),
        (Method::POST, "/concerts/nope/cancel".to_owned(), &api.admin),
        (Method::DELETE, "/cart/items/nope".to_owned(), &api.customer),
    ];
    for (method, uri, token) in routes {
        let answer = api.raw(method.clone(), &uri, Some(token), Some(b"{}".to_vec()), None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{method} {uri}: {}", answer.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_ids_are_404_problems() {
    let api = open();
    let (concert_id, _) = api.on_sale(10).await;
    let (id, other) = (random_id(), random_id());
    let schedule = json!({"startsAt": "2030-02-01T20:00:00Z", "endsAt": "2030-02-01T23:00:00Z"});
    let ticket_type = json!({"name": "S", "price": {"amount": 1, "currency": "EUR"}, "quantity": 1});
    let admin_cases = [
        (Method::DELETE, format!("/venues/{id}"), None),
        (Method::POST, "/concerts".to_owned(), Some(json!({"name": "Crabs", "venueId": id}))),
        (Method::PATCH, format!("/concerts/{id}"), Some(json!({"name": "Crabs"}))),
        (Method::POST, format!("/concerts/{id}/schedule"), Some(schedule)),
        (Method::POST, format!("/concerts/{id}/ticket-types"), Some(ticket_type)),
        (Method::DELETE, format!("/concerts/{id}/ticket-types/{other}"), None),
        (Method::DELETE, format!("/concerts/{concert_id}/ticket-types/{other}"), None),
        (Method::POST, format!("/concerts/{id}/publish"), None),
        (Method::POST, format!("/concerts/{id}/cancel"), None),
    ];
    for (method, uri, body) in admin_cases {
        let answer = api.admin(method.clone(), &uri, body).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {uri}: {}", answer.body);
    }
    let customer_cases = [
        (Method::POST, "/cart/items".to_owned(), Some(json!({"concertId": id, "ticketTypeId": other, "quantity": 1}))),
        (
            Method::POST,
            "/cart/items".to_owned(),
            Some(json!({"concertId": concert_id, "ticketTypeId": other, "quantity": 1})),
        ),
        (Method::DELETE, format!("/cart/items/{id}"), None),
    ];
    for (method, uri, body) in customer_cases {
        let answer = api.customer(method.clone(), &uri, body).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {uri}: {}", answer.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_idempotency_key_twice_holds_tickets_once_and_answers_alike() {
    let api = open();
    let (concert_id, ticket_type_id) = api.on_sale(10).await;
    let key = Uuid::new_v4().to_string();
    let body = json!({"concertId": concert_id, "ticketTypeId": ticket_type_id, "quantity": 2}).to_string();

    let first =
        api.raw(Method::POST, "/cart/items", Some(&api.customer), Some(body.clone().into_bytes()), Some(&key)).await;
    let second = api.raw(Method::POST, "/cart/items", Some(&api.customer), Some(body.into_bytes()), Some(&key)).await;

    let first = expect(first, StatusCode::CREATED);
    let second = expect(second, StatusCode::CREATED);
    assert_eq!(first.body, second.body);
    assert_eq!(first.headers[LOCATION], second.headers[LOCATION]);
    let concert_id = ConcertId(concert_id.parse().expect("a UUID"));
    let concert = api.shop.concerts().refresh(concert_id.into()).await.expect("the concert loads");
    assert_eq!(concert.state.holds().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idempotency_key_is_scoped_to_its_caller() {
    let api = open();
    let (concert_id, ticket_type_id) = api.on_sale(10).await;
    let key = Uuid::new_v4().to_string();
    let body = json!({"concertId": concert_id, "ticketTypeId": ticket_type_id, "quantity": 1}).to_string();
    let other_customer = token(Uuid::new_v4(), false);

    let mine = api.raw(Method::POST, "/cart/items", Some(&api.customer), Some(body.clone().into_bytes()), Some(&key));
    let mine = expect(mine.await, StatusCode::CREATED);
    let theirs = api.raw(Method::POST, "/cart/items", Some(&other_customer), Some(body.into_bytes()), Some(&key));
    let theirs = expect(theirs.await, StatusCode::CREATED);

    assert_ne!(mine.body["id"], theirs.body["id"], "another caller's key returned my hold");
    let concert_id = ConcertId(concert_id.parse().expect("a UUID"));
    let concert = api.shop.concerts().refresh(concert_id.into()).await.expect("the concert loads");
    assert_eq!(concert.state.holds().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idempotency_key_sent_with_a_different_request_is_a_422_problem_and_acts_once() {
    let api = open();
    let (concert_id, ticket_type_id) = api.on_sale(10).await;
    let key = Uuid::new_v4().to_string();
    let items = |quantity: u32| {
        let body = json!({"concertId": concert_id, "ticketTypeId": ticket_type_id, "quantity": quantity});
        Some(body.to_string().into_bytes())
    };
    let first = api.raw(Method::POST, "/cart/items", Some(&api.customer), items(2), Some(&key)).await;
    let first = expect(first, StatusCode::CREATED);

    let other_body = api.raw(Method::POST, "/cart/items", Some(&api.customer), items(3), Some(&key)).await;
    let other_route = api.raw(Method::POST, "/cart/checkout", Some(&api.customer), None, Some(&key)).await;
    let other_method = api
        .raw(
            Method::DELETE,
            &format!("/cart/items/{}", first.body["id"].as_str().unwrap_or_default()),
            Some(&api.customer),
            None,
            Some(&key),
        )
        .await;
    let respaced = format!(r#"{{ "quantity": 2, "ticketTypeId": "{ticket_type_id}", "concertId": "{concert_id}" }}"#);
    let again =
        api.raw(Method::POST, "/cart/items", Some(&api.customer), Some(respaced.into_bytes()), Some(&key)).await;

    for refused in [other_body, other_route, other_method] {
        let refused = expect(refused, StatusCode::UNPROCESSABLE_ENTITY);
        let detail = refused.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("Idempotency-Key was used for a different request"), "{detail}");
    }
    let again = expect(again, StatusCode::CREATED);
    assert_eq!(again.body, first.body, "the same document, spelled differently, is the same request");
    assert_eq!(again.headers[LOCATION], first.headers[LOCATION]);
    let concert_id = ConcertId(concert_id.parse().expect("a UUID"));
    let concert = api.shop.concerts().refresh(concert_id.into()).await.expect("the concert loads");
    assert_eq!(concert.state.holds().len(), 1, "one hold, still in the cart");
    let ticket_type = concert.state.ticket_type(TicketTypeId(ticket_type_id.parse().expect("a UUID")));
    assert_eq!(ticket_type.map(|ticket_type| ticket_type.held), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tickets_of_one_concert_more_than_a_checkout_can_buy_are_a_422_problem() {
    let api = open();
    let mut concerts = Vec::new();
    for _ in 0..=CONCERTS_PER_CART_MAX {
        concerts.push(api.on_sale(10).await);
    }
    let (last, allowed) = concerts.split_last().expect("concerts were made");
    for (concert_id, ticket_type_id) in allowed {
        expect(api.reserve(concert_id, ticket_type_id, 1).await, StatusCode::CREATED);
    }

    let refused = expect(api.reserve(&last.0, &last.1, 1).await, StatusCode::UNPROCESSABLE_ENTITY);

    let detail = refused.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(&format!("at most {CONCERTS_PER_CART_MAX} concerts")), "{detail}");
    let checkout = api.customer(Method::POST, "/cart/checkout", None).await;
    expect(checkout, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_malformed_idempotency_key_is_a_400_problem() {
    let api = open();
    let body = Some(br#"{"name": "P", "address": "x", "city": "y", "capacity": 10}"#.to_vec());

    let answer = api.raw(Method::POST, "/venues", Some(&api.admin), body, Some("once-please")).await;

    let answer = expect(answer, StatusCode::BAD_REQUEST);
    assert_eq!(error_fields(&answer), ["Idempotency-Key"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_name_the_caller_as_their_actor() {
    let api = open();
    let (concert_id, ticket_type_id) = api.on_sale(10).await;
    expect(api.reserve(&concert_id, &ticket_type_id, 1).await, StatusCode::CREATED);

    let records = api.shop.log().read_all(Position(0), 1000).await.expect("the log reads");

    let actor_of = |event_type: &str| {
        records.iter().find(|record| record.event_type == event_type).and_then(|record| record.metadata.actor.clone())
    };
    assert_eq!(actor_of("VenueCreated"), Some(api.admin_id.to_string()));
    assert_eq!(actor_of("ConcertPublished"), Some(api.admin_id.to_string()));
    assert_eq!(actor_of("CartItemAdded"), Some(api.customer_id.to_string()));
}
