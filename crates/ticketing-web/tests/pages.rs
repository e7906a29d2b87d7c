//! The pages without a browser: the web router merged with the REST API's, as the local host composes them, over
//! a real SQLite log with its read models, driven with plain HTTP requests as a browser without script sends them
//! (GET links, form posts with the session cookie). The seed data goes in through the API too.

mod support;

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, COOKIE, ORIGIN, SET_COOKIE};
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use support::site;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_programme_lists_published_concerts_and_searches_by_city_without_script() {
    let site = site(true);
    site.published_concert("Night of the Crabs", "Amsterdam").await;
    site.published_concert("Strings at Dawn", "Utrecht").await;

    let everything = site.get("/", None).await;
    let utrecht = site.get("/?location=utrecht&q=", None).await;

    assert_eq!(everything.status, StatusCode::OK);
    assert!(everything.headers[CONTENT_TYPE].to_str().unwrap_or_default().starts_with("text/html"));
    assert!(everything.body.contains("Night of the Crabs") && everything.body.contains("Strings at Dawn"));
    assert!(utrecht.body.contains("Strings at Dawn"));
    assert!(!utrecht.body.contains("Night of the Crabs"));
    assert!(utrecht.body.contains(r#"value="utrecht""#), "the form shows the search");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_the_api_share_one_router_without_sharing_a_path() {
    let site = site(true);

    let api = site.get("/concerts", None).await;
    let page_not_found = site.get("/shop/nothing-here", None).await;
    let api_not_found = site.get("/nothing-here", None).await;
    let asset = site.get("/assets/app.css", None).await;

    assert_eq!(api.headers[CONTENT_TYPE], "application/json");
    assert_eq!(page_not_found.status, StatusCode::NOT_FOUND);
    assert!(page_not_found.body.contains("<html"), "a page's 404 is a page");
    assert_eq!(api_not_found.headers[CONTENT_TYPE], "application/problem+json");
    assert!(asset.headers[CONTENT_TYPE].to_str().unwrap_or_default().starts_with("text/css"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_development_sign_in_is_off_unless_the_composition_root_opts_in() {
    let site = site(false);

    let page = site.get("/shop/sign-in", None).await;
    let posted = site.post_form("/shop/sign-in", None, &[("name", "Mallory"), ("role", "organiser")]).await;

    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(!page.body.contains(r#"name="role""#), "no sign-in form: {}", page.body);
    assert_eq!(posted.status, StatusCode::NOT_FOUND);
    assert_eq!(posted.session_cookie(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_sets_an_http_only_same_site_strict_cookie_and_returns_to_the_page() {
    let site = site(true);

    let answer =
        site.post_form("/shop/sign-in", None, &[("name", "Ann"), ("role", "fan"), ("next", "/shop/cart")]).await;

    assert_eq!(answer.location(), "/shop/cart");
    let cookie = answer.headers[SET_COOKIE].to_str().expect("ASCII");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let elsewhere = site
        .post_form("/shop/sign-in", None, &[("name", "Ann"), ("role", "fan"), ("next", "https://evil.example/")])
        .await;
    assert_eq!(elsewhere.location(), "/", "only local paths are followed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_post_from_another_site_is_refused() {
    let site = site(true);
    let cookie = site.sign_in("Ann", "fan").await;
    let request = Request::builder()
        .method(Method::POST)
        .uri("/shop/cart/checkout")
        .header("host", "shop.test")
        .header(ORIGIN, "https://evil.example")
        .header(COOKIE, &cookie)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::empty())
        .expect("a request");

    let answer = site.send(request).await;

    assert_eq!(answer.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_buys_with_plain_forms_and_finds_the_tickets_as_qr_codes() {
    let site = site(true);
    let (concert_id, ticket_type_id) = site.published_concert("Night of the Crabs", "Amsterdam").await;
    let cookie = site.sign_in("Ann", "fan").await;

    let concert = site.get(&format!("/shop/concerts/{concert_id}"), Some(&cookie)).await;
    assert!(concert.body.contains("100 left") && concert.body.contains("€35.00"), "{}", concert.body);
    let form = [("concert_id", concert_id.as_str()), ("ticket_type_id", ticket_type_id.as_str()), ("quantity", "2")];
    let added = site.post_form("/shop/cart/items", Some(&cookie), &form).await;
    assert_eq!(added.location(), "/shop/cart?done=added");
    let cart = site.get("/shop/cart?done=added", Some(&cookie)).await;
    assert!(cart.body.contains("2 × Standing at €35.00") && cart.body.contains("€70.00"), "{}", cart.body);
    assert!(cart.body.contains("data-seconds-left="), "the countdown's seconds are rendered");
    let checked_out = site.post_form("/shop/cart/checkout", Some(&cookie), &[]).await;
    assert!(checked_out.location().starts_with("/shop/orders?placed="), "{}", checked_out.location());
    let orders = site.get(checked_out.location(), Some(&cookie)).await;

    assert_eq!(orders.body.matches(r#"<svg class="qr""#).count(), 2, "{}", orders.body);
    assert!(orders.body.contains("Your order is placed"));
    assert!(orders.body.contains("test provider: no money was taken"), "{}", orders.body);
    assert!(!orders.body.contains("Awaiting payment"), "{}", orders.body);
    let concert = site.get(&format!("/shop/concerts/{concert_id}"), Some(&cookie)).await;
    assert!(concert.body.contains("98 left"), "the sale shows in the availability");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apis_refusal_is_shown_as_a_sentence_never_as_json() {
    let site = site(true);
    let (concert_id, ticket_type_id) = site.published_concert("Night of the Crabs", "Amsterdam").await;
    let cookie = site.sign_in("Ann", "fan").await;

    let form = [("concert_id", concert_id.as_str()), ("ticket_type_id", ticket_type_id.as_str()), ("quantity", "11")];
    let refused = site.post_form("/shop/cart/items", Some(&cookie), &form).await;

    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("At most 10 tickets per purchase, not 11."), "{}", refused.body);
    assert!(!refused.body.contains(r#""status""#) && !refused.body.contains("about:blank"), "{}", refused.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_script_gets_a_token_only_for_a_session_and_never_from_a_cache() {
    let site = site(true);
    let cookie = site.sign_in("Olga", "organiser").await;

    let signed_out = site.get("/shop/session", None).await;
    let signed_in = site.get("/shop/session", Some(&cookie)).await;

    assert_eq!(signed_out.status, StatusCode::UNAUTHORIZED);
    assert_eq!(signed_in.headers["cache-control"], "no-store");
    let session: Value = serde_json::from_str(&signed_in.body).expect("JSON");
    assert_eq!(session["admin"], true);
    assert_eq!(Some(format!("cloudbash_session={}", session["token"].as_str().unwrap_or_default())), Some(cookie));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_organisers_pages_are_for_organisers_only() {
    let site = site(true);
    let fan = site.sign_in("Ann", "fan").await;
    let organiser = site.sign_in("Olga", "organiser").await;

    let anonymous = site.get("/organiser/venues", None).await;
    let as_fan = site.get("/organiser/venues", Some(&fan)).await;
    let as_organiser = site.get("/organiser/venues", Some(&organiser)).await;

    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.location(), "/shop/sign-in?next=%2Forganiser%2Fvenues");
    assert_eq!(as_fan.status, StatusCode::FORBIDDEN);
    assert!(as_fan.body.contains("This page is for organisers"));
    assert_eq!(as_organiser.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organiser_adds_a_venue_and_a_refused_form_keeps_what_was_typed() {
    let site = site(true);
    let cookie = site.sign_in("Olga", "organiser").await;

    let venue = [("name", "Melkweg"), ("address", "Lijnbaansgracht 234A"), ("city", "Amsterdam"), ("capacity", "1500")];
    let added = site.post_form("/organiser/venues", Some(&cookie), &venue).await;
    let refused = site
        .post_form(
            "/organiser/venues",
            Some(&cookie),
            &[("name", "Tiny"), ("address", "x"), ("city", "y"), ("capacity", "0")],
        )
        .await;

    assert_eq!(added.location(), "/organiser/venues?done=created");
    let list = site.get("/organiser/venues?done=created", Some(&cookie)).await;
    assert!(list.body.contains("Melkweg") && list.body.contains("The venue is added."));
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("Capacity"), "the invalid field is named: {}", refused.body);
    assert!(refused.body.contains(r#"value="Tiny""#), "the form keeps what was typed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organiser_finds_a_draft_again_on_the_concerts_page() {
    let site = site(true);
    let cookie = site.sign_in("Olga", "organiser").await;
    let (published, _) = site.published_concert("Out Already", "Utrecht").await;
    let venue = json!({"name": "Tivoli", "address": "Vredenburgkade 11", "city": "Utrecht", "capacity": 2000});
    let venue_id = site.api(Method::POST, "/venues", venue).await["id"].as_str().expect("an id").to_owned();
    let draft = json!({"name": "Still Planning", "venueId": venue_id});
    let draft_id = site.api(Method::POST, "/concerts", draft).await["id"].as_str().expect("an id").to_owned();

    let page = site.get("/organiser", Some(&cookie)).await;

    assert_eq!(page.status, StatusCode::OK);
    let drafts = page.body.split("<h2>Published</h2>").next().unwrap_or_default();
    assert!(drafts.contains(&format!(r#"href="/organiser/concerts/{draft_id}">Still Planning"#)), "{}", page.body);
    assert!(drafts.contains("Not scheduled") && drafts.contains("Tivoli, Utrecht"));
    assert!(!drafts.contains(&published), "the published concert is listed below, not among the drafts");
    assert!(page.body.contains(&format!(r#"href="/organiser/concerts/{published}">Out Already"#)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organiser_sets_an_age_limit_in_the_forms_and_fans_see_it() {
    let site = site(true);
    let organiser = site.sign_in("Olga", "organiser").await;
    let venue = json!({"name": "Shelter", "address": "Overhoeksplein 3", "city": "Amsterdam", "capacity": 700});
    let venue_id = site.api(Method::POST, "/venues", venue).await["id"].as_str().expect("an id").to_owned();

    let form = [("name", "Late Set"), ("venue_id", venue_id.as_str()), ("genre", "Techno"), ("age_limit", "18")];
    let created = site.post_form("/organiser/concerts", Some(&organiser), &form).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let page = site.get(created.location(), Some(&organiser)).await;
    assert!(page.body.contains(r#"name="age_limit" type="number" min="1" max="21" value="18""#), "{}", page.body);

    let concert = created.location().split('?').next().unwrap_or_default().to_owned();
    let details = [("name", "Late Set"), ("genre", "Techno"), ("age_limit", "16")];
    let changed = site.post_form(&format!("{concert}/details"), Some(&organiser), &details).await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
    let concert_id = concert.rsplit('/').next().unwrap_or_default();
    assert_eq!(site.api(Method::GET, &format!("/concerts/{concert_id}"), json!(null)).await["ageLimit"], json!(16));
    let refused = [("name", "Late Set"), ("age_limit", "30")];
    let refused = site.post_form(&format!("{concert}/details"), Some(&organiser), &refused).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("Age limit must be between 1 and 21, not 30."), "{}", refused.body);

    let (on_sale, _) = site.published_concert("Early Set", "Utrecht").await;
    site.api(Method::PATCH, &format!("/concerts/{on_sale}"), json!({"ageLimit": 21})).await;
    let shop = site.get(&format!("/shop/concerts/{on_sale}"), None).await;
    assert!(shop.body.contains("Ages 21+ only."), "{}", shop.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checking_in_a_ticket_of_another_concert_is_refused_at_this_concerts_door() {
    let site = site(true);
    let (crabs, crabs_standing) = site.published_concert("Night of the Crabs", "Amsterdam").await;
    let (strings, _) = site.published_concert("Strings at Dawn", "Utrecht").await;
    let fan = site.sign_in("Ann", "fan").await;
    let form = [("concert_id", crabs.as_str()), ("ticket_type_id", crabs_standing.as_str()), ("quantity", "1")];
    site.post_form("/shop/cart/items", Some(&fan), &form).await;
    site.post_form("/shop/cart/checkout", Some(&fan), &[]).await;
    let organiser = site.sign_in("Olga", "organiser").await;
    let attendees = site.get(&format!("/organiser/concerts/{crabs}/attendees"), Some(&organiser)).await;
    let code = attendees.body.split("<code>").nth(1).and_then(|rest| rest.split("</code>").next()).expect("a code");

    let wrong_door =
        site.post_form(&format!("/organiser/concerts/{strings}/check-in"), Some(&organiser), &[("code", code)]).await;
    let right_door = site
        .post_form(
            &format!("/organiser/concerts/{crabs}/check-in"),
            Some(&organiser),
            &[("code", &code.to_lowercase())],
        )
        .await;

    assert_eq!(wrong_door.status, StatusCode::NOT_FOUND);
    assert!(wrong_door.body.contains("is not a ticket for this concert"));
    assert_eq!(right_door.status, StatusCode::SEE_OTHER, "{}", right_door.body);
    let after = site.get(right_door.location(), Some(&organiser)).await;
    assert!(after.body.contains("is checked in") && after.body.contains("1 of 1 checked in"), "{}", after.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_concerts_refunds_show_on_the_fans_orders_and_in_the_sales_report() {
    let site = site(true);
    let (crabs, standing) = site.published_concert("Night of the Crabs", "Amsterdam").await;
    let fan = site.sign_in("Ann", "fan").await;
    let form = [("concert_id", crabs.as_str()), ("ticket_type_id", standing.as_str()), ("quantity", "2")];
    site.post_form("/shop/cart/items", Some(&fan), &form).await;
    site.post_form("/shop/cart/checkout", Some(&fan), &[]).await;
    let organiser = site.sign_in("Olga", "organiser").await;
    let cancelled =
        site.post_form(&format!("/organiser/concerts/{crabs}/cancel"), Some(&organiser), &[("confirm", "yes")]).await;
    assert_eq!(cancelled.status, StatusCode::SEE_OTHER, "{}", cancelled.body);

    let mut refunds = ticketing_app::CancellationRefunds::new();
    let mut after = es_core::Position::START;
    loop {
        let page = site.shop.log().read_all(after, 1_000).await.expect("the log");
        let Some(last) = page.last() else { break };
        after = last.position;
        for record in &page {
            refunds.observe(record).expect("readable");
        }
    }
    assert_eq!(refunds.refund(&site.shop, None).await.refunded, 1);

    let orders = site.get_until("/shop/orders", Some(&fan), |page| page.body.contains("paid back")).await.body;
    assert!(orders.contains("its tickets are void"), "{orders}");
    let sales_page = format!("/organiser/concerts/{crabs}/sales");
    let sales = site.get_until(&sales_page, Some(&organiser), |page| page.body.contains("paid back for 2")).await.body;
    assert!(sales.contains("€70.00"), "the amount paid back: {sales}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_takes_an_address_for_the_tickets_and_a_bad_one_is_said_on_the_cart() {
    let site = site(true);
    let (concert_id, ticket_type_id) = site.published_concert("Night of the Crabs", "Amsterdam").await;
    let cookie = site.sign_in("Ann", "fan").await;
    let form = [("concert_id", concert_id.as_str()), ("ticket_type_id", ticket_type_id.as_str()), ("quantity", "1")];
    site.post_form("/shop/cart/items", Some(&cookie), &form).await;
    let cart = site.get("/shop/cart", Some(&cookie)).await;
    assert!(cart.body.contains(r#"name="email""#), "the cart asks where the tickets go: {}", cart.body);

    let refused = site.post_form("/shop/cart/checkout", Some(&cookie), &[("email", "not an address")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("not an e-mail address"), "the cart says what was wrong: {}", refused.body);

    let placed = site.post_form("/shop/cart/checkout", Some(&cookie), &[("email", " ann@example.com ")]).await;
    let order_id = placed.location().split("placed=").nth(1).and_then(|rest| rest.split('&').next()).expect("an order");
    let order_id = ticketing::OrderId(order_id.parse().expect("a UUID"));
    let order = site.shop.orders().refresh(order_id.into()).await.expect("the order");
    let deliver_to = order.state.placed().and_then(|placed| placed.deliver_to.as_ref()).map(ToString::to_string);
    assert_eq!(deliver_to.as_deref(), Some("ann@example.com"));
}
