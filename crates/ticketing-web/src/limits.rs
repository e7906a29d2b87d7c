//! Every bound the web pages enforce, in one place (see docs/style.md, rule 1).

use std::time::Duration;

/// The largest API answer a page reads. The API's biggest documents are pages of at most 100 concerts and a
/// concert's attendee list; anything larger is a bug, and reading it whole would cost memory per request.
pub const API_RESPONSE_BYTES_MAX: usize = 4 * 1024 * 1024;

/// The largest form a page accepts. The longest field is a concert's description (5 000 characters, up to four
/// bytes each, and more when percent-encoded).
pub const FORM_BYTES_MAX: usize = 64 * 1024;

/// Concerts per page of the programme: a phone scrolls through them quickly, and the next page is a link.
pub const PROGRAMME_PAGE_CONCERTS: u32 = 20;

/// Venues per page of the organiser's venue list, and offered in the venue picker of a new concert (the API's
/// largest page).
pub const VENUES_PAGE_MAX: u32 = 100;

/// Items per page when a page shows a whole paged list of the API (a customer's orders, a concert's attendees),
/// reading it page after page: the API's largest page.
pub const LIST_PAGE_ITEMS: u32 = 100;

/// Concerts whose names a cart or the order list looks up; a cart holds at most 20 items, and an order list with
/// more concerts than this shows the rest by id.
pub const CONCERT_LOOKUPS_MAX: usize = 50;

/// The longest name accepted at the development sign-in.
pub const SIGN_IN_NAME_CHARS_MAX: usize = 60;

/// How long a development sign-in lasts; the cookie expires with the token.
pub const SIGN_IN_LIFETIME: Duration = ticketing_api::limits::TOKEN_LIFETIME_DEFAULT;

/// How often a concert page asks the API for the tickets left, while the page is visible.
pub const AVAILABILITY_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// How often the payment page asks where its order stands while it awaits payment: often enough that a paid order
/// shows a moment after the provider's notification, on the read side, which costs no call to the provider.
pub const PAYMENT_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// How many events the live view of the log keeps on screen; older rows are dropped.
pub const LIVE_LOG_ROWS_MAX: u32 = 200;

/// The furthest a browser's time zone may be from UTC, in minutes (UTC-12:00 to UTC+14:00 are the extremes in
/// use); a cookie beyond it is ignored.
pub const TIME_ZONE_OFFSET_MINUTES_MAX: i32 = 14 * 60;

/// Bars of the sales chart: one per day with sales, the most recent ones.
pub const SALES_CHART_DAYS_MAX: usize = 60;
