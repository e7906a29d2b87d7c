//! What kind of "no" a refusal is. Every aggregate's error says which kind
//! each of its variants is, so that the HTTP layer maps all of them with one
//! `match` instead of one per variant, and a new variant cannot be forgotten
//! (each error's `kind` is an exhaustive `match`).

/// The class of a refused command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefusalKind {
    /// The command itself is wrong whatever the state: a limit broken, times
    /// in the wrong order, a wrong number of codes. HTTP 422.
    Invalid,
    /// The command is well formed but the aggregate's current state refuses
    /// it: wrong status, not enough tickets, already done. Retrying the same
    /// command later may succeed. HTTP 409.
    Conflict,
    /// The aggregate, or the thing inside it the command names (a ticket
    /// type, a hold, a ticket code), does not exist. HTTP 404.
    NotFound,
    /// Whoever sent the command may not, whatever the command: a customer
    /// an organiser disabled. HTTP 403.
    Forbidden,
}
