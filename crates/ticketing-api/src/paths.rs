//! The path parameters of every route, in one place: the command and read
//! routes on one path (`/concerts/{concertId}`) share one type, so their
//! parameter names cannot drift apart and break the router's merge.

use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VenuePath {
    pub(crate) venue_id: Uuid,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConcertPath {
    pub(crate) concert_id: Uuid,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CustomerPath {
    /// The customer's id: the subject (`sub`) of their tokens.
    pub(crate) customer_id: Uuid,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TicketTypePath {
    pub(crate) concert_id: Uuid,
    pub(crate) ticket_type_id: Uuid,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CartItemPath {
    pub(crate) item_id: Uuid,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DoorTicketPath {
    /// The concert at whose door the ticket is scanned.
    pub(crate) concert_id: Uuid,
    /// The ticket's code: 20 characters of `A-Z` and `0-9`.
    #[param(pattern = "^[A-Z0-9]{20}$")]
    pub(crate) code: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OrderPath {
    pub(crate) order_id: Uuid,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AggregatePath {
    pub(crate) aggregate_id: Uuid,
}
