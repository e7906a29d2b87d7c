//! The fan's pages: the programme with its search, a concert with its ticket types, the cart with its holds, and
//! the orders with their tickets as QR codes. Every change is a form post that the server turns into an API
//! command and answers with a redirect (or the page again, with the API's refusal as a message), so buying works
//! without script; the script only adds the countdown, live availability and local times.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use ticketing::limits::TICKETS_PER_CONCERT_PER_PURCHASE_MAX;
use uuid::Uuid;

use crate::WebState;
use crate::api::{ApiError, Command, with_query};
use crate::dates::{Shortcut, Zone, countdown, day_heading, parse_date, remaining};
use crate::limits::{AVAILABILITY_POLL_INTERVAL, CONCERT_LOOKUPS_MAX, PROGRAMME_PAGE_CONCERTS};
use crate::messages::Message;
use crate::model::{Cart, CheckedOut, Concert, ConcertListed, ConcertStatus, Order, Page};
use crate::money;
use crate::pages::{Ctx, Layout, PageError, Section, not_found, render, see_other};
use crate::qr::{self, TrustedSvg};

pub(super) fn routes() -> Router<WebState> {
    let shop = Router::new()
        .route("/concerts/{concert_id}", get(concert_page))
        .route("/cart", get(cart_page))
        .route("/cart/items", post(add_to_cart))
        .route("/cart/items/{item_id}/remove", post(remove_from_cart))
        .route("/cart/checkout", post(checkout))
        .route("/orders", get(orders_page))
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

// ----- The programme -----

/// The programme's query string: what the search form and the shortcut links send.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub(crate) struct ProgrammeQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    /// A shortcut (`today`, `week`, `weekend`); it replaces `from` and `to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    when: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
}

impl ProgrammeQuery {
    fn text(value: &Option<String>) -> Option<&str> {
        value.as_deref().map(str::trim).filter(|value| !value.is_empty())
    }

    fn shortcut(&self) -> Option<Shortcut> {
        Shortcut::ALL.into_iter().find(|shortcut| Self::text(&self.when) == Some(shortcut.key()))
    }
}

/// `GET /concerts`'s query, as the API names it.
#[derive(Debug, Serialize)]
struct ConcertSearch<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    q: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<&'a str>,
}

/// The range a query asks for, from a shortcut or the typed dates; without either, concerts from today on.
/// A date that is not one is reported, and the range is searched without it.
fn search_range(
    query: &ProgrammeQuery,
    zone: Zone,
    now: DateTime<Utc>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>, Vec<String>) {
    if let Some(shortcut) = query.shortcut() {
        let (from, to) = zone.range(shortcut, now);
        return (Some(from), Some(to), Vec::new());
    }
    let mut problems = Vec::new();
    let mut date = |name: &str, value: &Option<String>| -> Option<NaiveDate> {
        let text = ProgrammeQuery::text(value)?;
        let date = parse_date(text);
        if date.is_none() {
            problems.push(format!("{name}: write the date as YYYY-MM-DD, such as 2030-02-01."));
        }
        date
    };
    let from = date("From", &query.from);
    let to = date("To", &query.to);
    let from = Some(zone.start_of(from.unwrap_or_else(|| zone.date(now))));
    (from, to.map(|to| zone.end_of(to)), problems)
}

/// A concert in the programme.
#[derive(Debug)]
struct ConcertCard {
    href: String,
    name: String,
    genre: Option<String>,
    venue: String,
    city: String,
    time: String,
    when: When,
}

/// The concerts of one day.
#[derive(Debug)]
struct DayGroup {
    heading: String,
    concerts: Vec<ConcertCard>,
}

/// A link of the date shortcuts.
#[derive(Debug)]
struct ShortcutLink {
    href: String,
    label: &'static str,
    current: bool,
}

#[derive(Template)]
#[template(path = "programme.html")]
struct ProgrammePage {
    layout: Layout,
    q: String,
    location: String,
    from: String,
    to: String,
    /// The shortcut in use, kept by the search form.
    when: Option<&'static str>,
    shortcuts: Vec<ShortcutLink>,
    days: Vec<DayGroup>,
    next_page: Option<String>,
    searching: bool,
    heading: String,
}

async fn programme(ctx: Ctx, query: Result<Query<ProgrammeQuery>, QueryRejection>) -> Response {
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let page = programme_page(&ctx, query).await;
    ctx.finish(page)
}

async fn programme_page(ctx: &Ctx, query: ProgrammeQuery) -> Result<Response, PageError> {
    let now = Utc::now();
    let (from, to, problems) = search_range(&query, ctx.zone, now);
    let search = ConcertSearch {
        q: ProgrammeQuery::text(&query.q),
        location: ProgrammeQuery::text(&query.location),
        from: from.map(|from| from.to_rfc3339_opts(SecondsFormat::Millis, true)),
        to: to.map(|to| to.to_rfc3339_opts(SecondsFormat::Millis, true)),
        limit: PROGRAMME_PAGE_CONCERTS,
        cursor: ProgrammeQuery::text(&query.cursor),
    };
    let mut layout = ctx.layout("Programme", Section::Programme);
    let token = ctx.session.as_ref().map(|session| session.token.as_str());
    let (concerts, next_cursor) =
        match ctx.state.api().get::<Page<ConcertListed>>(&with_query("/concerts", &search), token).await {
            Ok(page) => (page.items, page.next_cursor),
            // A search the API cannot run (a forged cursor, a range it refuses) is shown as a message on the
            // programme, with the form to correct it.
            Err(ApiError::Problem(problem)) if problem.status == 400 => {
                layout.error = Some(Message::from_problem(&problem));
                (Vec::new(), None)
            }
            Err(error) => return Err(error.into()),
        };
    if !problems.is_empty() {
        layout.error = Some(Message { headline: "Please check the dates.".to_owned(), details: problems });
    }
    let shortcut = query.shortcut();
    let keep = ProgrammeQuery { q: query.q.clone(), location: query.location.clone(), ..ProgrammeQuery::default() };
    let mut shortcuts: Vec<ShortcutLink> = Shortcut::ALL
        .into_iter()
        .map(|link| ShortcutLink {
            href: with_query("/", &ProgrammeQuery { when: Some(link.key().to_owned()), ..keep.clone() }),
            label: link.label(),
            current: shortcut == Some(link),
        })
        .collect();
    let any_day = ProgrammeQuery::text(&query.from).is_none() && ProgrammeQuery::text(&query.to).is_none();
    shortcuts.push(ShortcutLink {
        href: with_query("/", &keep),
        label: "Any day",
        current: shortcut.is_none() && any_day,
    });
    let next_page =
        next_cursor.map(|cursor| with_query("/", &ProgrammeQuery { cursor: Some(cursor), ..query.clone() }));
    let searching = [&query.q, &query.location, &query.from, &query.to, &query.when]
        .iter()
        .any(|value| ProgrammeQuery::text(value).is_some());
    let heading = match shortcut {
        Some(shortcut) => format!("Concerts {}", shortcut.label().to_lowercase()),
        None if searching => "Search results".to_owned(),
        None => "Coming up".to_owned(),
    };
    let page = ProgrammePage {
        layout,
        q: query.q.clone().unwrap_or_default(),
        location: query.location.clone().unwrap_or_default(),
        from: query.from.clone().unwrap_or_default(),
        to: query.to.clone().unwrap_or_default(),
        when: shortcut.map(Shortcut::key),
        shortcuts,
        days: group_by_day(concerts, ctx.zone),
        next_page,
        searching,
        heading,
    };
    render(&page, StatusCode::OK)
}

/// The concerts under a heading per local day, in the API's order (by start).
fn group_by_day(concerts: Vec<ConcertListed>, zone: Zone) -> Vec<DayGroup> {
    let mut days: Vec<DayGroup> = Vec::new();
    let mut current: Option<NaiveDate> = None;
    for concert in concerts {
        let day = zone.date(concert.starts_at);
        let card = ConcertCard {
            href: format!("/shop/concerts/{}", concert.id),
            name: concert.name,
            genre: concert.genre,
            venue: concert.venue.name,
            city: concert.venue.city,
            time: zone.time(concert.starts_at),
            when: When::new(zone, concert.starts_at),
        };
        match days.last_mut() {
            Some(group) if current == Some(day) => group.concerts.push(card),
            _ => {
                days.push(DayGroup { heading: day_heading(day), concerts: vec![card] });
                current = Some(day);
            }
        }
    }
    days
}

// ----- A concert -----

/// A ticket type on the concert's page.
#[derive(Debug)]
struct TicketTypeRow {
    id: Uuid,
    name: String,
    price: String,
    available: u32,
    /// The most one purchase may take: what is left, and the domain's limit per purchase.
    max_quantity: u32,
    /// The `Idempotency-Key` of this row's form.
    key: Uuid,
}

#[derive(Template)]
#[template(path = "concert.html")]
struct ConcertPage {
    layout: Layout,
    id: Uuid,
    name: String,
    genre: Option<String>,
    description: Option<String>,
    image_url: Option<String>,
    venue: String,
    city: String,
    starts: Option<When>,
    ends: Option<String>,
    status: ConcertStatus,
    ticket_types: Vec<TicketTypeRow>,
    signed_in: bool,
    poll_seconds: u64,
    /// The most tickets of this concert one purchase may hold (the domain's limit).
    purchase_max: u32,
}

async fn concert_page(ctx: Ctx, Path(concert_id): Path<String>) -> Response {
    let page = match Uuid::try_parse(&concert_id) {
        Ok(concert_id) => show_concert(&ctx, concert_id, None, StatusCode::OK).await,
        Err(_) => Err(PageError::NotFound),
    };
    ctx.finish(page)
}

async fn show_concert(
    ctx: &Ctx,
    concert_id: Uuid,
    error: Option<Message>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let token = ctx.session.as_ref().map(|session| session.token.as_str());
    let concert: Concert = ctx.state.api().get(&format!("/concerts/{concert_id}"), token).await?;
    let mut layout = ctx.layout(&concert.name, Section::Programme);
    layout.error = error;
    let zone = ctx.zone;
    let ticket_types = concert
        .ticket_types
        .iter()
        .map(|ticket_type| TicketTypeRow {
            id: ticket_type.id,
            name: ticket_type.name.clone(),
            price: money::format(&ticket_type.price),
            available: ticket_type.available,
            max_quantity: ticket_type.available.min(TICKETS_PER_CONCERT_PER_PURCHASE_MAX),
            key: Uuid::new_v4(),
        })
        .collect();
    let page = ConcertPage {
        layout,
        id: concert.id,
        name: concert.name,
        genre: concert.genre,
        description: concert.description,
        image_url: concert.image_url,
        venue: concert.venue.name,
        city: concert.venue.city,
        starts: concert.starts_at.map(|starts| When::new(zone, starts)),
        ends: concert.ends_at.map(|ends| zone.time(ends)),
        status: concert.status,
        ticket_types,
        signed_in: ctx.session.is_some(),
        poll_seconds: AVAILABILITY_POLL_INTERVAL.as_secs(),
        purchase_max: TICKETS_PER_CONCERT_PER_PURCHASE_MAX,
    };
    render(&page, status)
}

// ----- Buying -----

#[derive(Debug, Deserialize)]
struct AddToCartForm {
    concert_id: Uuid,
    ticket_type_id: Uuid,
    quantity: String,
    key: Option<Uuid>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AddCartItem {
    concert_id: Uuid,
    ticket_type_id: Uuid,
    quantity: u32,
}

async fn add_to_cart(ctx: Ctx, form: Result<Form<AddToCartForm>, FormRejection>) -> Response {
    let Ok(Form(form)) = form else {
        return ctx.finish(Err(PageError::Form("Choose a ticket type and how many tickets you want.".to_owned())));
    };
    let back = format!("/shop/concerts/{}", form.concert_id);
    let Some(session) = ctx.session.as_ref() else {
        return ctx.finish(Err(PageError::SignIn { next: back }));
    };
    let quantity = match form.quantity.trim().parse::<u32>() {
        Ok(quantity) if quantity > 0 => quantity,
        _ => {
            let message = Message::new("Enter how many tickets you want, as a whole number from 1.");
            let page = show_concert(&ctx, form.concert_id, Some(message), StatusCode::UNPROCESSABLE_ENTITY).await;
            return ctx.finish(page);
        }
    };
    let body = AddCartItem { concert_id: form.concert_id, ticket_type_id: form.ticket_type_id, quantity };
    let command = Command {
        method: Method::POST,
        path: "/cart/items".to_owned(),
        token: &session.token,
        body: Some(&body),
        key: form.key,
    };
    match ctx.state.api().command(command).await {
        Ok(_) => see_other("/shop/cart?done=added"),
        Err(ApiError::Problem(problem)) if problem.status != 401 => {
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST);
            let page = show_concert(&ctx, form.concert_id, Some(Message::from_problem(&problem)), status).await;
            ctx.finish(page)
        }
        Err(error) => ctx.finish(Err(error.into())),
    }
}

// ----- The cart -----

/// What the cart page confirms after a redirect; a fixed set, so the query string cannot put words on the page.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum CartDone {
    Added,
    Removed,
}

#[derive(Debug, Deserialize)]
struct CartQuery {
    done: Option<CartDone>,
}

/// A line of the cart.
#[derive(Debug)]
struct CartLine {
    id: Uuid,
    concert: String,
    concert_href: String,
    starts: Option<When>,
    ticket_type: String,
    quantity: u32,
    unit_price: String,
    line_total: String,
    /// Seconds until the hold runs out, for the script's countdown.
    seconds_left: u64,
    /// The countdown as rendered: "14:59".
    countdown: String,
}

#[derive(Template)]
#[template(path = "cart.html")]
struct CartPage {
    layout: Layout,
    lines: Vec<CartLine>,
    total: Option<String>,
    /// The `Idempotency-Key` of the checkout form.
    key: Uuid,
}

async fn cart_page(ctx: Ctx, query: Result<Query<CartQuery>, QueryRejection>) -> Response {
    let done = query.ok().and_then(|Query(query)| query.done);
    let notice = done.map(|done| match done {
        CartDone::Added => "Added to your cart. The tickets are held for you for 15 minutes.",
        CartDone::Removed => "Removed from your cart; the tickets are released.",
    });
    let page = show_cart(&ctx, notice.map(str::to_owned), None, StatusCode::OK).await;
    ctx.finish(page)
}

async fn show_cart(
    ctx: &Ctx,
    notice: Option<String>,
    error: Option<Message>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let session = ctx.session()?;
    let cart: Cart = ctx.state.api().get("/cart", Some(&session.token)).await?;
    let concerts = lookup_concerts(ctx, cart.items.iter().map(|item| item.concert_id).collect()).await?;
    let now = Utc::now();
    let lines = cart
        .items
        .iter()
        .map(|item| {
            let concert = concerts.get(&item.concert_id);
            let left = remaining(now, item.expires_at);
            CartLine {
                id: item.id,
                concert: concert.map_or_else(|| "A concert".to_owned(), |concert| concert.name.clone()),
                concert_href: format!("/shop/concerts/{}", item.concert_id),
                starts: concert.and_then(|concert| concert.starts_at).map(|starts| When::new(ctx.zone, starts)),
                ticket_type: concert
                    .and_then(|concert| concert.ticket_type(item.ticket_type_id))
                    .map_or_else(|| "Tickets".to_owned(), |ticket_type| ticket_type.name.clone()),
                quantity: item.quantity,
                unit_price: money::format(&item.unit_price),
                line_total: money::times(&item.unit_price, item.quantity)
                    .map_or_else(|| "—".to_owned(), |total| money::format(&total)),
                seconds_left: left.as_secs(),
                countdown: countdown(left),
            }
        })
        .collect();
    let mut layout = ctx.layout("Your cart", Section::Cart);
    layout.notice = notice;
    layout.error = error;
    let page = CartPage { layout, lines, total: cart.total.as_ref().map(money::format), key: Uuid::new_v4() };
    render(&page, status)
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

async fn remove_from_cart(ctx: Ctx, Path(item_id): Path<Uuid>) -> Response {
    let Some(session) = ctx.session.as_ref() else {
        return ctx.finish(Err(PageError::SignIn { next: "/shop/cart".to_owned() }));
    };
    let command = Command::<()> {
        method: Method::DELETE,
        path: format!("/cart/items/{item_id}"),
        token: &session.token,
        body: None,
        key: None,
    };
    match ctx.state.api().command(command).await {
        Ok(_) => see_other("/shop/cart?done=removed"),
        Err(error) => cart_refusal(&ctx, error).await,
    }
}

#[derive(Debug, Deserialize)]
struct CheckoutForm {
    key: Option<Uuid>,
}

async fn checkout(ctx: Ctx, form: Result<Form<CheckoutForm>, FormRejection>) -> Response {
    let Some(session) = ctx.session.as_ref() else {
        return ctx.finish(Err(PageError::SignIn { next: "/shop/cart".to_owned() }));
    };
    let key = form.ok().and_then(|Form(form)| form.key);
    let command = Command::<()> {
        method: Method::POST,
        path: "/cart/checkout".to_owned(),
        token: &session.token,
        body: None,
        key,
    };
    match ctx.state.api().command_json::<(), CheckedOut>(command).await {
        Ok(checked_out) => {
            see_other(&format!("/shop/orders?placed={}#order-{}", checked_out.order_id, checked_out.order_id))
        }
        Err(error) => cart_refusal(&ctx, error).await,
    }
}

/// The cart again, with the API's refusal as its message.
async fn cart_refusal(ctx: &Ctx, error: ApiError) -> Response {
    match error {
        ApiError::Problem(problem) if problem.status != 401 => {
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST);
            let page = show_cart(ctx, None, Some(Message::from_problem(&problem)), status).await;
            ctx.finish(page)
        }
        error => ctx.finish(Err(error.into())),
    }
}

// ----- Orders -----

#[derive(Debug, Deserialize)]
struct OrdersQuery {
    placed: Option<Uuid>,
}

/// A ticket of an order, with its QR code.
#[derive(Debug)]
struct TicketCard {
    code: String,
    qr: Option<TrustedSvg>,
    concert: String,
    concert_href: String,
    starts: Option<When>,
    venue: Option<String>,
    ticket_type: String,
}

/// An order with its tickets.
#[derive(Debug)]
struct OrderCard {
    id: Uuid,
    placed: When,
    total: String,
    tickets: Vec<TicketCard>,
    just_placed: bool,
}

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage {
    layout: Layout,
    orders: Vec<OrderCard>,
}

async fn orders_page(ctx: Ctx, query: Result<Query<OrdersQuery>, QueryRejection>) -> Response {
    let placed = query.ok().and_then(|Query(query)| query.placed);
    let page = show_orders(&ctx, placed).await;
    ctx.finish(page)
}

async fn show_orders(ctx: &Ctx, placed: Option<Uuid>) -> Result<Response, PageError> {
    let session = ctx.session()?;
    let orders: Vec<Order> = ctx.state.api().get_all("/orders", Some(&session.token)).await?;
    let concert_ids = orders.iter().flat_map(|order| order.tickets.iter().map(|ticket| ticket.concert_id));
    let concerts = lookup_concerts(ctx, concert_ids.collect()).await?;
    let orders = orders
        .into_iter()
        .map(|order| OrderCard {
            id: order.id,
            placed: When::new(ctx.zone, order.placed_at),
            total: money::format(&order.total),
            just_placed: placed == Some(order.id),
            tickets: order
                .tickets
                .into_iter()
                .map(|ticket| {
                    let concert = concerts.get(&ticket.concert_id);
                    let qr = qr::ticket_svg(&ticket.code)
                        .inspect_err(|error| tracing::warn!(%error, "a ticket code could not be drawn"))
                        .ok();
                    TicketCard {
                        qr,
                        concert: concert.map_or_else(|| "A concert".to_owned(), |concert| concert.name.clone()),
                        concert_href: format!("/shop/concerts/{}", ticket.concert_id),
                        starts: concert.and_then(|concert| concert.starts_at).map(|starts| When::new(ctx.zone, starts)),
                        venue: concert.map(|concert| format!("{}, {}", concert.venue.name, concert.venue.city)),
                        ticket_type: concert
                            .and_then(|concert| concert.ticket_type(ticket.ticket_type_id))
                            .map_or_else(|| "Ticket".to_owned(), |ticket_type| ticket_type.name.clone()),
                        code: ticket.code,
                    }
                })
                .collect(),
        })
        .collect();
    let mut layout = ctx.layout("My orders", Section::Orders);
    if placed.is_some() {
        layout.notice = Some("Thank you! Your order is placed. Show a ticket's QR code at the door.".to_owned());
    }
    render(&OrdersPage { layout, orders }, StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(hour: u32, day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 2, day, hour, 0, 0).single().expect("a valid time")
    }

    fn query(pairs: &str) -> ProgrammeQuery {
        serde_urlencoded::from_str(pairs).expect("a query string")
    }

    #[test]
    fn a_shortcut_decides_the_range_over_typed_dates() {
        let (from, to, problems) = search_range(&query("when=today&from=2031-01-01"), Zone::UTC, at(12, 6));

        assert_eq!(from, Some(at(0, 6)));
        assert_eq!(to.map(|to| to.to_rfc3339()), Some("2030-02-06T23:59:59.999+00:00".to_owned()));
        assert!(problems.is_empty());
    }

    #[test]
    fn without_dates_the_programme_starts_today() {
        let (from, to, _) = search_range(&query(""), Zone::UTC, at(12, 6));

        assert_eq!(from, Some(at(0, 6)));
        assert_eq!(to, None);
    }

    #[test]
    fn typed_dates_cover_whole_days() {
        let (from, to, _) = search_range(&query("from=2030-02-10&to=2030-02-11"), Zone::UTC, at(12, 6));

        assert_eq!(from, Some(at(0, 10)));
        assert_eq!(to.map(|to| to.to_rfc3339()), Some("2030-02-11T23:59:59.999+00:00".to_owned()));
    }

    #[test]
    fn a_date_that_is_not_one_is_reported() {
        let (from, _, problems) = search_range(&query("from=next+friday"), Zone::UTC, at(12, 6));

        assert_eq!(from, Some(at(0, 6)));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("From:"), "{problems:?}");
    }

    #[test]
    fn an_unknown_shortcut_is_no_shortcut() {
        assert_eq!(query("when=someday").shortcut(), None);
        assert_eq!(query("when=weekend").shortcut(), Some(Shortcut::ThisWeekend));
    }

    #[test]
    fn concerts_are_grouped_under_their_local_day() {
        let concert = |id: u128, starts_at: DateTime<Utc>| ConcertListed {
            id: Uuid::from_u128(id),
            name: format!("Concert {id}"),
            genre: None,
            starts_at,
            venue: crate::model::VenueSummary { name: "Paradiso".to_owned(), city: "Amsterdam".to_owned() },
        };
        let concerts = vec![concert(1, at(18, 1)), concert(2, at(23, 1)), concert(3, at(20, 2))];

        let utc = group_by_day(concerts.clone(), Zone::UTC);
        let amsterdam = group_by_day(concerts, Zone::from_minutes(60).expect("an offset"));

        assert_eq!(utc.iter().map(|day| day.concerts.len()).collect::<Vec<_>>(), [2, 1]);
        // 23:00 UTC is midnight in Amsterdam: the second concert belongs to the next day there.
        assert_eq!(amsterdam.iter().map(|day| day.concerts.len()).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(amsterdam[0].heading, "Friday 1 February 2030");
    }
}
