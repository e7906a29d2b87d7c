//! Every bound the ticket shop enforces, in one place, so that a reader sees
//! the limits of the product without hunting for magic numbers. Names carry
//! the qualifier last (`…_MAX`). Raising a limit is always safe for the log;
//! lowering one never makes old events unreadable, because events are decoded
//! without re-checking limits (they were decided under the limits of their
//! day).

/// Most tickets of one concert that one purchase may contain (story TS05),
/// counted over the live items of a cart and again over an order's lines.
pub const TICKETS_PER_CONCERT_PER_PURCHASE_MAX: u32 = 10;

/// Most tickets one customer may hold at once across all concerts: the
/// tickets of the live items of their cart, held but not yet bought. A hold
/// takes tickets away from every other buyer for up to [`HOLD_MINUTES`], so
/// without this bound one account (or a script behind it) could lock up
/// [`CART_ITEMS_MAX`] × [`TICKETS_PER_CONCERT_PER_PURCHASE_MAX`] tickets of
/// many concerts with no intention to buy. Twice the per-concert limit still
/// lets a customer buy the most one concert allows and some tickets of
/// another in one checkout; whoever needs more checks out first, which gives
/// the held tickets back to the shop as sold ones.
pub const TICKETS_HELD_PER_CUSTOMER_MAX: u32 = 2 * TICKETS_PER_CONCERT_PER_PURCHASE_MAX;

/// Most buckets one concert's tickets may be split into
/// ([`crate::Bucket`]). Publishing appends the concert, its venue and every
/// bucket at once, within the log's sixteen aggregates per append; eight
/// buckets let eight buyers of one concert commit at the same moment.
pub const BUCKETS_PER_CONCERT_MAX: u16 = 8;

/// How long tickets stay held for a cart before they may be released to
/// other buyers (story TS06). The edge computes `expires_at = now + this`;
/// the domain refuses holds that would last longer.
pub const HOLD_MINUTES: i64 = 15;

/// How long an order placed at checkout keeps its tickets held while the
/// buyer pays. The window starts at checkout, so a buyer who checks out in
/// the last minute of a cart's hold still has time to type a card number.
pub const PAYMENT_MINUTES: i64 = 10;

/// Longest name (of a venue, concert, ticket type, city), in characters.
pub const NAME_CHARS_MAX: usize = 200;

/// Longest street address of a venue, in characters.
pub const ADDRESS_CHARS_MAX: usize = 300;

/// Longest genre label of a concert, in characters.
pub const GENRE_CHARS_MAX: usize = 60;

/// Longest description (of a venue or concert), in characters.
pub const DESCRIPTION_CHARS_MAX: usize = 5_000;

/// Highest age limit a concert may set, in years.
pub const AGE_LIMIT_YEARS_MAX: u32 = 21;

/// Longest URL (a venue's website, a concert's image), in characters.
pub const URL_CHARS_MAX: usize = 2_000;

/// Most ticket types one concert may offer. Keeps the concert's state (and
/// every hold decision, which scans them) small.
pub const TICKET_TYPES_PER_CONCERT_MAX: usize = 20;

/// Most items one cart may hold, live or expired-but-not-yet-swept. Also
/// bounds the concerts and holds one checkout touches, which keeps a checkout
/// far below the kernel's `EVENTS_PER_APPEND_MAX`.
pub const CART_ITEMS_MAX: usize = 20;

/// Most lines one order may have: one per cart item at most.
pub const ORDER_LINES_MAX: usize = CART_ITEMS_MAX;

/// Largest venue capacity, and so the largest quantity of any ticket type.
pub const VENUE_CAPACITY_MAX: u32 = 250_000;

/// Largest ticket price in minor units (1 000 000.00 in a two-decimal
/// currency). With the purchase limits above, every cart or order total
/// stays many orders of magnitude below `u64::MAX`.
pub const TICKET_PRICE_MINOR_UNITS_MAX: u64 = 100_000_000;

/// Longest a concert may last (a festival), in days.
pub const CONCERT_DURATION_DAYS_MAX: i64 = 14;

/// Most concerts a venue remembers bookings for. A venue keeps one booking
/// per concert ever scheduled there (about 100 bytes each in a snapshot);
/// a venue that reaches this needs a command that forgets past bookings.
pub const BOOKINGS_PER_VENUE_MAX: usize = 10_000;

/// Shortest ticket code, in characters: 16 characters of `[A-Z0-9]` carry
/// about 82 bits, so codes drawn at random at the edge do not collide.
pub const TICKET_CODE_CHARS_MIN: usize = 16;

/// Longest ticket code, in characters.
pub const TICKET_CODE_CHARS_MAX: usize = 64;
