//! The OpenAPI document at `GET /openapi.json` against the router that serves it: the document's (method, path)
//! pairs are exactly the API's routes (each one answers, none falls through to the 404 problem, and every other
//! method on a documented path is a 405), each operation documents the statuses the route is seen to answer, and
//! the schemas name the members the real JSON documents have.

mod support;

use std::collections::{BTreeMap, BTreeSet};
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

/// Every route of the API with the success status the other tests observe for it. The document must list exactly
/// these; the router must serve each of them.
const ROUTES: &[(&str, &str, u16)] = &[
    ("GET", "/health", 200),
    ("GET", "/ready", 200),
    ("GET", "/openapi.json", 200),
    ("POST", "/venues", 201),
    ("GET", "/venues", 200),
    ("GET", "/venues/{venueId}", 200),
    ("DELETE", "/venues/{venueId}", 204),
    ("POST", "/concerts", 201),
    ("GET", "/concerts", 200),
    ("GET", "/concerts/drafts", 200),
    ("GET", "/concerts/{concertId}", 200),
    ("PATCH", "/concerts/{concertId}", 200),
    ("POST", "/concerts/{concertId}/schedule", 200),
    ("POST", "/concerts/{concertId}/ticket-types", 201),
    ("DELETE", "/concerts/{concertId}/ticket-types/{ticketTypeId}", 204),
    ("POST", "/concerts/{concertId}/publish", 200),
    ("POST", "/concerts/{concertId}/cancel", 200),
    ("POST", "/customers/{customerId}/disable", 200),
    ("POST", "/customers/{customerId}/enable", 200),
    ("GET", "/concerts/{concertId}/attendees", 200),
    ("GET", "/concerts/{concertId}/attendees.csv", 200),
    ("GET", "/concerts/{concertId}/sales", 200),
    ("GET", "/cart", 200),
    ("POST", "/cart/items", 201),
    ("DELETE", "/cart/items/{itemId}", 204),
    ("POST", "/cart/checkout", 201),
    ("GET", "/orders", 200),
    ("GET", "/orders/{orderId}", 200),
    ("GET", "/orders/{orderId}/payment", 200),
    ("GET", "/orders/{orderId}/tickets.pdf", 200),
    ("POST", "/payments/stripe/webhook", 200),
    ("POST", "/concerts/{concertId}/tickets/{code}/check-in", 200),
    ("GET", "/events", 200),
    ("GET", "/events/live", 200),
    ("GET", "/aggregates/{aggregateId}/events", 200),
];

/// The methods probed on every documented path. (`HEAD` is answered wherever `GET` is, as HTTP asks; OpenAPI does
/// not list it.)
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

struct Api {
    _backend: support::Backend,
    app: Router,
    admin: String,
    customer: String,
}

struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    body: Value,
}

fn token(user_id: Uuid, admin: bool) -> String {
    let signer = LocalSigner::new(&Secret::from_bytes(SECRET), ISSUER);
    signer.issue(user_id, admin, Duration::from_secs(3600), SystemTime::now())
}

fn open() -> Api {
    let backend = support::backend();
    let auth = AuthState::new(Verifier::new(&Secret::from_bytes(SECRET), ISSUER));
    let state = ApiState::new(auth, Arc::clone(&backend.shop), backend.queries.clone());
    Api {
        _backend: backend,
        app: router(state),
        admin: token(Uuid::new_v4(), true),
        customer: token(Uuid::new_v4(), false),
    }
}

impl Api {
    async fn send(&self, method: &str, uri: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let method = Method::from_bytes(method.as_bytes()).expect("a known method");
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
        let request = builder.body(body).expect("a test request is valid");
        let response = self.app.clone().oneshot(request).await.expect("the router never fails");
        let (parts, body) = response.into_parts();
        let content_type = parts.headers.get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).map(str::to_owned);
        if content_type.as_deref() == Some("text/event-stream") {
            // A live stream does not end; its head is the answer.
            return Answer { status: parts.status, content_type, body: Value::Null };
        }
        let bytes = axum::body::to_bytes(body, RESPONSE_BYTES_MAX).await.expect("a test response is small");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|error| panic!("a JSON body ({error}): {}", String::from_utf8_lossy(&bytes)))
        };
        Answer { status: parts.status, content_type, body }
    }

    /// A request that must succeed with `status`; its body.
    async fn expect(&self, method: &str, uri: &str, token: Option<&str>, body: Option<Value>, status: u16) -> Value {
        let answer = self.send(method, uri, token, body).await;
        assert_eq!(answer.status.as_u16(), status, "{method} {uri}: {}", answer.body);
        answer.body
    }

    /// The document, as any anonymous client gets it.
    async fn document(&self) -> Value {
        let answer = self.send("GET", "/openapi.json", None, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.content_type.as_deref(), Some("application/json"));
        answer.body
    }
}

/// The operations of the document: (METHOD, path) → operation object.
fn operations(document: &Value) -> BTreeMap<(String, String), Value> {
    let paths = document["paths"].as_object().expect("the document has paths");
    let mut operations = BTreeMap::new();
    for (path, item) in paths {
        let item = item.as_object().expect("a path item is an object");
        for (method, operation) in item {
            if METHODS.iter().any(|known| known.eq_ignore_ascii_case(method)) {
                operations.insert((method.to_ascii_uppercase(), path.clone()), operation.clone());
            }
        }
    }
    operations
}

/// The statuses an operation documents.
fn documented_statuses(operation: &Value) -> BTreeSet<u16> {
    let responses = operation["responses"].as_object().expect("an operation has responses");
    responses.keys().map(|status| status.parse().unwrap_or_else(|_| panic!("a numeric status: {status}"))).collect()
}

/// The path with every `{parameter}` replaced by a value of the right shape that names nothing.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| match segment {
            "{code}" => "ABCDEFGHIJKLMNOPQRST".to_owned(),
            segment if segment.starts_with('{') => Uuid::new_v4().to_string(),
            segment => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether an answer is the router's own 404 (no route matched), rather than a handler's.
fn is_fallback(answer: &Answer) -> bool {
    answer.status == StatusCode::NOT_FOUND
        && answer.body["detail"].as_str().is_some_and(|detail| detail.starts_with("No resource exists at"))
}

/// A component schema by name.
fn schema<'a>(document: &'a Value, name: &str) -> &'a Value {
    let schema = &document["components"]["schemas"][name];
    assert!(schema.is_object(), "no schema {name} in the components");
    schema
}

/// A component response by name.
fn response<'a>(document: &'a Value, name: &str) -> &'a Value {
    let response = &document["components"]["responses"][name];
    assert!(response.is_object(), "no response {name} in the components");
    response
}

/// The schema or response `reference` (`#/components/schemas/Name`, `#/components/responses/Name`) points to.
fn resolve<'a>(document: &'a Value, reference: &str) -> &'a Value {
    if let Some(name) = reference.strip_prefix("#/components/responses/") {
        return response(document, name);
    }
    let name = reference.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("a schema ref: {reference}"));
    schema(document, name)
}

/// Asserts that a JSON object has every required member of its object schema and no member the schema lacks; and,
/// for a response document whose members are always written (`null` when unknown), that each is required.
fn assert_matches(document: &Value, schema: &Value, value: &Value, what: &str, always_written: bool) {
    let schema = match schema["$ref"].as_str() {
        Some(reference) => resolve(document, reference),
        None => schema,
    };
    let properties = schema["properties"].as_object().unwrap_or_else(|| panic!("{what}: an object schema: {schema}"));
    let object = value.as_object().unwrap_or_else(|| panic!("{what}: an object: {value}"));
    let required: Vec<&str> = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    for key in object.keys() {
        assert!(properties.contains_key(key), "{what}: `{key}` is not documented: {schema}");
        assert!(!always_written || required.contains(&key.as_str()), "{what}: `{key}` is always written: {schema}");
    }
    for required in required {
        assert!(object.contains_key(required), "{what}: documented as required but absent: `{required}` in {value}");
    }
}

/// Every `$ref` anywhere in `value`.
fn references(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            for (key, value) in object {
                match (key.as_str(), value) {
                    ("$ref", Value::String(reference)) => {
                        found.insert(reference.clone());
                    }
                    _ => references(value, found),
                }
            }
        }
        Value::Array(values) => values.iter().for_each(|value| references(value, found)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_document_is_openapi_3_and_public() {
    let api = open();

    let document = api.document().await;

    let version = document["openapi"].as_str().expect("an `openapi` version string");
    assert!(version.starts_with("3."), "{version}");
    assert_eq!(document["info"]["title"], "Cloudbash");
    let bearer = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http", "{bearer}");
    assert_eq!(bearer["scheme"], "bearer", "{bearer}");
    assert_eq!(bearer["bearerFormat"], "JWT", "{bearer}");
    let operations = operations(&document);
    for public in [("GET", "/health"), ("GET", "/openapi.json"), ("GET", "/venues"), ("GET", "/concerts")] {
        let operation = &operations[&(public.0.to_owned(), public.1.to_owned())];
        assert!(operation.get("security").is_none(), "{public:?} is public: {operation}");
    }
    let mut found = BTreeSet::new();
    references(&document, &mut found);
    for reference in found {
        resolve(&document, &reference);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_document_lists_exactly_the_routes_the_router_serves() {
    let api = open();
    let document = api.document().await;
    let operations = operations(&document);

    let documented: BTreeSet<(String, String)> = operations.keys().cloned().collect();
    let listed: BTreeSet<(String, String)> =
        ROUTES.iter().map(|(method, path, _)| ((*method).to_owned(), (*path).to_owned())).collect();
    let undocumented: Vec<_> = listed.difference(&documented).collect();
    let unlisted: Vec<_> = documented.difference(&listed).collect();
    assert!(
        undocumented.is_empty() && unlisted.is_empty(),
        "not documented: {undocumented:?}; not listed: {unlisted:?}"
    );

    let paths: BTreeSet<&str> = ROUTES.iter().map(|(_, path, _)| *path).collect();
    for path in paths {
        let uri = concrete(path);
        for method in METHODS {
            let key = (method.to_owned(), path.to_owned());
            let body = (method != "GET").then(|| json!({}));
            let answer = api.send(method, &uri, Some(&api.admin), body).await;
            if documented.contains(&key) {
                assert!(!is_fallback(&answer), "{method} {uri} is documented but not routed: {}", answer.body);
                assert_ne!(
                    answer.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {uri} is documented but not routed"
                );
            } else {
                assert_eq!(
                    answer.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {uri} is routed but not documented"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_operation_documents_the_statuses_its_route_answers() {
    let api = open();
    let document = api.document().await;
    let operations = operations(&document);

    for (method, path, success) in ROUTES {
        let key = ((*method).to_owned(), (*path).to_owned());
        let operation = operations.get(&key).unwrap_or_else(|| panic!("{method} {path} is not documented"));
        let statuses = documented_statuses(operation);
        assert!(statuses.contains(success), "{method} {path} does not document its {success}: {statuses:?}");
        let uri = concrete(path);
        let body = (*method != "GET").then(|| json!({}));
        for (caller, token) in [("anonymous", None), ("customer", Some(&api.customer)), ("admin", Some(&api.admin))] {
            let answer = api.send(method, &uri, token.map(String::as_str), body.clone()).await;
            let status = answer.status.as_u16();
            assert!(
                statuses.contains(&status),
                "{method} {path} answered {caller} with an undocumented {status}: {} (documented: {statuses:?})",
                answer.body
            );
            if status == 401 {
                assert!(operation.get("security").is_some(), "{method} {path} needs a token but documents no security");
            }
        }
        for (status, response) in operation["responses"].as_object().into_iter().flatten() {
            if status.starts_with('4') || status.starts_with('5') {
                let response = match response["$ref"].as_str() {
                    Some(reference) => resolve(&document, reference),
                    None => response,
                };
                let problem = &response["content"]["application/problem+json"]["schema"]["$ref"];
                assert_eq!(problem, "#/components/schemas/Problem", "{method} {path} {status}: {response}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_schemas_name_the_members_of_the_real_documents() {
    let api = open();
    let document = api.document().await;
    let operations = operations(&document);
    let response_schema = |method: &str, path: &str, status: &str| {
        let operation = &operations[&(method.to_owned(), path.to_owned())];
        operation["responses"][status]["content"]["application/json"]["schema"].clone()
    };

    let venue = json!({"name": "Paradiso", "address": "Weteringschans 6", "city": "Amsterdam", "capacity": 1000,
        "description": "A church", "webUrl": "https://paradiso.nl"});
    assert_matches(&document, schema(&document, "CreateVenue"), &venue, "CreateVenue", false);
    let created = api.expect("POST", "/venues", Some(&api.admin), Some(venue), 201).await;
    assert_matches(&document, &response_schema("POST", "/venues", "201"), &created, "POST /venues", true);
    let venue_id = created["id"].as_str().expect("an id").to_owned();
    let shown = api.expect("GET", &format!("/venues/{venue_id}"), None, None, 200).await;
    assert_matches(
        &document,
        &response_schema("GET", "/venues/{venueId}", "200"),
        &shown,
        "GET /venues/{venueId}",
        true,
    );

    let concert = json!({"name": "Night of the Crabs", "venueId": venue_id, "genre": "Rock"});
    assert_matches(&document, schema(&document, "CreateConcert"), &concert, "CreateConcert", false);
    let concert_id = api.expect("POST", "/concerts", Some(&api.admin), Some(concert), 201).await["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let ticket_type = json!({"name": "Standing", "price": {"amount": 2500, "currency": "EUR"}, "quantity": 10});
    assert_matches(&document, schema(&document, "AddTicketType"), &ticket_type, "AddTicketType", false);
    let uri = format!("/concerts/{concert_id}/ticket-types");
    api.expect("POST", &uri, Some(&api.admin), Some(ticket_type), 201).await;
    let shown = api.expect("GET", &format!("/concerts/{concert_id}"), Some(&api.admin), None, 200).await;
    let concert_schema = response_schema("GET", "/concerts/{concertId}", "200");
    assert_matches(&document, &concert_schema, &shown, "GET /concerts/{concertId}", true);
    let ticket_type_schema = &resolve(&document, "#/components/schemas/Concert")["properties"]["ticketTypes"]["items"];
    assert_matches(&document, ticket_type_schema, &shown["ticketTypes"][0], "a ticket type", true);

    let events = api.expect("GET", "/events", Some(&api.admin), None, 200).await;
    let record = &events["items"][0];
    assert_matches(&document, schema(&document, "EventRecord"), record, "an event record", true);
    assert_matches(&document, schema(&document, "EventMetadata"), &record["metadata"], "an event's metadata", false);

    let invalid = json!({"name": "", "address": "x", "city": "y", "capacity": 0});
    let problem = api.send("POST", "/venues", Some(&api.admin), Some(invalid)).await;
    assert_eq!(problem.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", problem.body);
    assert_matches(&document, schema(&document, "Problem"), &problem.body, "a problem", false);
    assert_matches(&document, schema(&document, "FieldError"), &problem.body["errors"][0], "a field error", true);
}

/// The schema of the query parameter `name` of an operation.
fn query_parameter<'a>(operation: &'a Value, name: &str) -> &'a Value {
    let parameters = operation["parameters"].as_array().expect("the operation has parameters");
    let parameter = parameters.iter().find(|parameter| parameter["name"] == name && parameter["in"] == "query");
    &parameter.unwrap_or_else(|| panic!("no query parameter {name}: {operation}"))["schema"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn query_parameters_are_documented_with_the_types_and_bounds_the_routes_accept() {
    let api = open();
    let document = api.document().await;
    let operations = operations(&document);
    let get = |path: &str| &operations[&("GET".to_owned(), path.to_owned())];
    let paged = [
        "/venues",
        "/concerts",
        "/concerts/drafts",
        "/concerts/{concertId}/attendees",
        "/orders",
        "/aggregates/{aggregateId}/events",
    ];

    for path in paged {
        let limit = query_parameter(get(path), "limit");
        assert_eq!((&limit["type"], &limit["minimum"], &limit["maximum"]), (&json!("integer"), &json!(1), &json!(100)));
        assert_eq!(query_parameter(get(path), "cursor")["minLength"], 1, "{path}: an empty cursor is refused");
    }
    assert_eq!(query_parameter(get("/events"), "limit")["maximum"], 1000);
    for path in ["/events", "/events/live"] {
        let after = query_parameter(get(path), "after");
        assert_eq!((&after["type"], &after["minimum"]), (&json!("integer"), &json!(0)), "{path}");
        assert_eq!(
            after["maximum"].as_u64(),
            Some(i64::MAX.unsigned_abs()),
            "{path}: the largest position the log holds"
        );
    }
    for name in ["from", "to"] {
        let time = query_parameter(get("/concerts"), name);
        assert_eq!((&time["format"], &time["minLength"]), (&json!("date-time"), &json!(1)), "{name}");
    }
}
