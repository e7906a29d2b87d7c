//! The fan's pages: the programme with its search, a concert with its ticket types, the cart with its holds, and
//! the orders with their tickets as QR codes. Every change is a form post that the server turns into an API
//! command and answers with a redirect (or the page again, with the API's refusal as a message), so buying works
//! without script; the script only adds the countdown, live availability and local times.
//!
//! One module per page: the programme ([`programme`]), a concert and putting its tickets in the cart ([`concert`]),
//! the cart and checkout ([`cart`]), paying by card ([`pay`]), and the orders ([`orders`]). What several of them show (a time, the concerts of
//! a cart or an order) is here.

mod cart;
mod concert;
mod orders;
mod pay;
mod programme;

use std::collections::HashMap;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

use self::cart::{cart_page, checkout, remove_from_cart};
use self::concert::{add_to_cart, concert_page};
use self::orders::orders_page;
use self::pay::{order_status, pay_page};
use self::programme::programme;
use crate::WebState;
use crate::dates::Zone;
use crate::limits::CONCERT_LOOKUPS_MAX;
use crate::model::Concert;
use crate::pages::{Ctx, PageError, not_found};

pub(super) fn routes() -> Router<WebState> {
    let shop = Router::new()
        .route("/concerts/{concert_id}", get(concert_page))
        .route("/cart", get(cart_page))
        .route("/cart/items", post(add_to_cart))
        .route("/cart/items/{item_id}/remove", post(remove_from_cart))
        .route("/cart/checkout", post(checkout))
        .route("/orders", get(orders_page))
        .route("/orders/{order_id}/pay", get(pay_page))
        .route("/orders/{order_id}/status", get(order_status))
        .fallback(not_found);
    Router::new().route("/", get(programme)).nest("/shop", shop)
}

/// A formatted time, with the instant it stands for (the script rewrites it into the browser's time zone).
#[derive(Debug, Clone)]
pub(crate) struct When {
    pub(crate) text: String,
    pub(crate) iso: String,
}

impl When {
    pub(crate) fn new(zone: Zone, instant: DateTime<Utc>) -> Self {
        Self { text: zone.when(instant), iso: instant.to_rfc3339_opts(SecondsFormat::Millis, true) }
    }
}

/// The concerts with these ids that the caller may see, by id (at most [`CONCERT_LOOKUPS_MAX`]); one that is gone
/// is left out, and its lines show without its name.
async fn lookup_concerts(ctx: &Ctx, mut wanted: Vec<Uuid>) -> Result<HashMap<Uuid, Concert>, PageError> {
    wanted.sort_unstable();
    wanted.dedup();
    let token = ctx.session.as_ref().map(|session| session.token.as_str());
    let mut concerts = HashMap::new();
    for id in wanted.into_iter().take(CONCERT_LOOKUPS_MAX) {
        match ctx.state.api().get::<Concert>(&format!("/concerts/{id}"), token).await {
            Ok(concert) => {
                concerts.insert(id, concert);
            }
            Err(error) if error.is_status(StatusCode::NOT_FOUND) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(concerts)
}
