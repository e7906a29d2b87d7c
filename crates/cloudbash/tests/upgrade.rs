//! A data directory written by an earlier release starts with this one and
//! answers as it did. The fixture is the directory the release of
//! 2026-12-07 (before the read models moved to a file of their own) left
//! behind after `serve --demo` and one purchase: three demo concerts, and a fan
//! who bought two Standing tickets for "Night of the Crabs". It holds only
//! the log's file, with the read models inside it as that release kept
//! them; this release builds them again in their own file from the log.

mod support;

use std::path::Path;

use reqwest::{Client, Method, StatusCode};
use serde_json::json;
use support::{Backend, Caller, Server, eventually, token};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/data-dir-2026-12-07");
const FAN: &str = "0190a000-0000-7000-8000-000000000001";
const CONCERT: &str = "01a25175-656c-7544-94c0-96e5012dc584";
const ORDER: &str = "01a25175-888b-7558-b5d0-32801af6b080";

fn copy_fixture(to: &Path) {
    for file in ["cloudbash.db", "jwt-secret"] {
        std::fs::copy(Path::new(FIXTURE).join(file), to.join(file)).expect("the fixture copies");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_of_the_previous_release_answers_as_it_did_and_sells_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_fixture(dir.path());
    let server = Server::start(dir.path(), &Backend::Embedded);
    let fan = Caller { http: Client::new(), base: server.base.clone(), token: Some(token(dir.path(), FAN, false)) };

    let order = eventually("the fan's order is shown again", || async {
        let (status, order) = fan.send(Method::GET, &format!("/orders/{ORDER}"), None).await;
        (status == StatusCode::OK).then_some(order)
    })
    .await;
    assert_eq!(order["tickets"].as_array().map(Vec::len), Some(2), "{order}");

    let concert = fan.expect(Method::GET, &format!("/concerts/{CONCERT}"), None, StatusCode::OK).await;
    assert_eq!(concert["name"], "Night of the Crabs");
    let standing = &concert["ticketTypes"][0];
    assert_eq!((standing["name"].as_str(), standing["available"].as_u64()), (Some("Standing"), Some(798)));

    // And it sells on, from where the log left off.
    let item = json!({"concertId": CONCERT, "ticketTypeId": standing["id"], "quantity": 1});
    fan.expect(Method::POST, "/cart/items", Some(item), StatusCode::CREATED).await;
    let concert = fan.expect(Method::GET, &format!("/concerts/{CONCERT}"), None, StatusCode::OK).await;
    assert_eq!(concert["ticketTypes"][0]["available"], 797);
    server.stop();
}
