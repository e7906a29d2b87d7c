//! The shop as a user meets it: the real `cloudbash serve` binary on port 0
//! in a temporary data directory, driven over HTTP with tokens from
//! `cloudbash token`. Nothing here reaches inside the process.
//!
//! Every story runs twice: on the embedded backends, and on the AWS
//! configuration (DynamoDB log, Kinesis bus fed from the table's stream,
//! PostgreSQL and DynamoDB read models) against the local emulators and the
//! throwaway PostgreSQL server that `scripts/services.sh` starts, with
//! tables, stream and database of its own.

mod support;

use std::path::PathBuf;
use std::process::Command;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use support::{BINARY, Backend, Caller, Server, concert_on_sale, eventually, token, user};

struct Shop {
    dir: tempfile::TempDir,
    backend: Backend,
    server: Option<Server>,
    http: Client,
}

impl Shop {
    fn open(backend: Backend) -> Shop {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = Server::start(dir.path(), &backend);
        Shop { dir, backend, server: Some(server), http: Client::new() }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn caller(&self, admin: bool) -> Caller {
        let base = self.server.as_ref().expect("running").base.clone();
        Caller { http: self.http.clone(), base, token: Some(token(&self.data_dir(), &user(), admin)) }
    }

    fn anonymous(&self) -> Caller {
        let base = self.server.as_ref().expect("running").base.clone();
        Caller { http: self.http.clone(), base, token: None }
    }

    fn restart(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
        self.server = Some(Server::start(&self.data_dir(), &self.backend));
    }
}

fn ids(list: &Value) -> Vec<&str> {
    list["items"].as_array().expect("items").iter().map(|item| item["id"].as_str().expect("an id")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_story_from_venue_to_check_in_survives_a_restart() {
    the_whole_story(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_story_on_dynamodb_kinesis_and_postgresql() {
    the_whole_story(Backend::aws().await).await;
}

async fn the_whole_story(backend: Backend) {
    let mut shop = Shop::open(backend);
    let admin = shop.caller(true);
    let fan = shop.caller(false);
    let anyone = shop.anonymous();
    let (concert_id, ticket_type_id) = concert_on_sale(&admin, "Night of the Crabs", "Amsterdam", 100).await;

    // Found by name, by city and by date range; not by a range that misses it.
    for query in ["q=crabs", "location=amsterdam", "from=2031-06-01T00:00:00Z&to=2031-06-02T00:00:00Z"] {
        let found = anyone.expect(Method::GET, &format!("/concerts?{query}"), None, StatusCode::OK).await;
        assert_eq!(ids(&found), [concert_id.as_str()], "search {query}");
    }
    let missed = anyone.expect(Method::GET, "/concerts?to=2031-05-01T00:00:00Z", None, StatusCode::OK).await;
    assert!(ids(&missed).is_empty());

    let item = fan
        .expect(
            Method::POST,
            "/cart/items",
            Some(json!({"concertId": concert_id, "ticketTypeId": ticket_type_id, "quantity": 2})),
            StatusCode::CREATED,
        )
        .await;
    let cart = fan.expect(Method::GET, "/cart", None, StatusCode::OK).await;
    assert_eq!(cart["items"][0]["id"], item["id"]);
    assert_eq!(cart["total"], json!({"amount": 5000, "currency": "EUR"}));

    let order = fan.expect(Method::POST, "/cart/checkout", None, StatusCode::CREATED).await;
    let order_id = order["orderId"].as_str().expect("an order id").to_owned();
    let seen = fan.expect(Method::GET, &format!("/orders/{order_id}"), None, StatusCode::OK).await;
    let tickets = seen["tickets"].as_array().expect("tickets");
    assert_eq!(tickets.len(), 2);
    let code = tickets[0]["code"].as_str().expect("a code").to_owned();

    let attendees = admin.expect(Method::GET, &format!("/concerts/{concert_id}/attendees"), None, StatusCode::OK).await;
    assert_eq!(attendees["items"].as_array().expect("attendees").len(), 2);
    admin.expect(Method::POST, &format!("/concerts/{concert_id}/tickets/{code}/check-in"), None, StatusCode::OK).await;
    admin
        .expect(Method::POST, &format!("/concerts/{concert_id}/tickets/{code}/check-in"), None, StatusCode::CONFLICT)
        .await;
    let sales = admin.expect(Method::GET, &format!("/concerts/{concert_id}/sales"), None, StatusCode::OK).await;
    assert_eq!(sales["items"][0]["ticketsSold"], 2);
    assert_eq!(sales["items"][0]["revenue"], json!({"amount": 5000, "currency": "EUR"}));

    let before = admin.expect(Method::GET, &format!("/concerts/{concert_id}"), None, StatusCode::OK).await;
    shop.restart();
    let admin = Caller { base: shop.server.as_ref().expect("running").base.clone(), ..admin };
    let fan = Caller { base: admin.base.clone(), ..fan };
    let after = admin.expect(Method::GET, &format!("/concerts/{concert_id}"), None, StatusCode::OK).await;
    assert_eq!(before, after);
    assert_eq!(after["ticketTypes"][0]["available"], 98);
    let seen_again = fan.expect(Method::GET, &format!("/orders/{order_id}"), None, StatusCode::OK).await;
    assert_eq!(seen_again, seen);
    let attendees = admin.expect(Method::GET, &format!("/concerts/{concert_id}/attendees"), None, StatusCode::OK).await;
    let checked_in = attendees["items"].as_array().expect("attendees").iter().filter(|a| !a["checkedInAt"].is_null());
    assert_eq!(checked_in.count(), 1);
    admin
        .expect(Method::POST, &format!("/concerts/{concert_id}/tickets/{code}/check-in"), None, StatusCode::CONFLICT)
        .await;
    shop.server.take().expect("running").stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_fans_race_for_fifty_tickets_and_the_log_the_read_models_and_a_rebuild_agree() {
    race_for_fifty_tickets(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_fans_race_for_fifty_tickets_on_dynamodb_kinesis_and_postgresql() {
    race_for_fifty_tickets(Backend::aws().await).await;
}

async fn race_for_fifty_tickets(backend: Backend) {
    let mut shop = Shop::open(backend);
    let admin = shop.caller(true);
    let (concert_id, ticket_type_id) = concert_on_sale(&admin, "Sold Out Show", "Utrecht", 50).await;

    let fans: Vec<Caller> = (0..200).map(|_| shop.caller(false)).collect();
    let attempts = fans.into_iter().map(|fan| {
        let (concert_id, ticket_type_id) = (concert_id.clone(), ticket_type_id.clone());
        tokio::spawn(async move {
            let body = json!({"concertId": concert_id, "ticketTypeId": ticket_type_id, "quantity": 1});
            let (status, problem) = fan.send(Method::POST, "/cart/items", Some(body)).await;
            if status != StatusCode::CREATED {
                return (status, problem);
            }
            fan.send(Method::POST, "/cart/checkout", None).await
        })
    });
    let (mut orders, mut sold_out) = (0, 0);
    for attempt in attempts.collect::<Vec<_>>() {
        let (status, body) = attempt.await.expect("a fan's task");
        match status {
            StatusCode::CREATED => orders += 1,
            StatusCode::CONFLICT => sold_out += 1,
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((orders, sold_out), (50, 150));

    // The read side converges on the log (at once on the embedded backends; on
    // the AWS ones as fast as the loaded emulators let it).
    let concert_uri = format!("/concerts/{concert_id}");
    let concert = eventually("no ticket is left", || async {
        let concert = admin.expect(Method::GET, &concert_uri, None, StatusCode::OK).await;
        (concert["ticketTypes"][0]["available"] == 0).then_some(concert)
    })
    .await;
    // One page of the largest size holds all 50 of each.
    let attendees_uri = format!("/concerts/{concert_id}/attendees?limit=100");
    let fifty = |list: &Value, name: &str| list["items"].as_array().expect(name).len() == 50;
    let attendees = eventually("50 attendees", || async {
        let attendees = admin.expect(Method::GET, &attendees_uri, None, StatusCode::OK).await;
        fifty(&attendees, "attendees").then_some(attendees)
    })
    .await;
    let all_orders = eventually("50 orders", || async {
        let orders = admin.expect(Method::GET, "/orders?limit=100", None, StatusCode::OK).await;
        fifty(&orders, "orders").then_some(orders)
    })
    .await;

    // The log itself: 50 OrderPlaced events, once the log's order has them all.
    eventually("50 OrderPlaced events in the log", || async {
        let mut placed = 0;
        let mut after = 0;
        loop {
            let uri = format!("/events?after={after}&limit=1000");
            let page = admin.expect(Method::GET, &uri, None, StatusCode::OK).await;
            let items = page["items"].as_array().expect("events");
            let Some(last) = items.last() else { break };
            after = last["position"].as_u64().expect("a position");
            placed += items.iter().filter(|event| event["eventType"] == "OrderPlaced").count();
        }
        (placed == 50).then_some(())
    })
    .await;

    // A rebuild from the log yields the same read models.
    let before = (concert, attendees, all_orders);
    shop.server.take().expect("running").stop();
    let rebuilt = Command::new(BINARY)
        .args(["rebuild", "--data-dir"])
        .arg(shop.data_dir())
        .args(shop.backend.rebuild_flags())
        .output()
        .expect("runs");
    assert!(rebuilt.status.success(), "{}", String::from_utf8_lossy(&rebuilt.stderr));
    shop.server = Some(Server::start(&shop.data_dir(), &shop.backend));
    let admin = Caller { base: shop.server.as_ref().expect("running").base.clone(), ..admin };
    let after = (
        admin.expect(Method::GET, &format!("/concerts/{concert_id}"), None, StatusCode::OK).await,
        admin.expect(Method::GET, &attendees_uri, None, StatusCode::OK).await,
        admin.expect(Method::GET, "/orders?limit=100", None, StatusCode::OK).await,
    );
    assert_eq!(before, after);
    shop.restart();
}

/// Posts the development sign-in form as an organiser, without following the redirect.
async fn sign_in_as_organiser(base: &str) -> StatusCode {
    let http = Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
    let answer = http
        .post(format!("{base}/shop/sign-in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=Mallory&role=organiser&next=%2Forganiser")
        .send()
        .await
        .expect("the server answers");
    answer.status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_signs_in_as_an_organiser_unless_the_operator_offers_the_development_sign_in() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plain = Server::start(dir.path(), &Backend::Embedded);
    let page = Client::new().get(format!("{}/shop/sign-in", plain.base)).send().await.expect("the server answers");
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert_eq!(sign_in_as_organiser(&plain.base).await, StatusCode::NOT_FOUND);
    plain.stop();

    let offered = Server::start_with(dir.path(), &Backend::Embedded, &["--dev-sign-in"]);
    assert_eq!(sign_in_as_organiser(&offered.base).await, StatusCode::SEE_OTHER);
    offered.stop();
}
