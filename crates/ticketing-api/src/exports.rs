//! What an organiser takes away: a concert's attendee list as CSV
//! (RFC 4180: a header row, CRLF line ends, fields quoted when they need
//! it), for the door staff's spreadsheet or a mailing.
//!
//! A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a
//! formula; ticket type names are typed by organisers and may be copied
//! from anywhere, so such a cell is written with a leading `'`, which
//! spreadsheets show as text.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use ticketing::ConcertId;
use ticketing_app::queries::{AttendeeQueries, CatalogueQueries};

use crate::auth::Admin;
use crate::json::ApiPath;
use crate::openapi::{Forbidden, InvalidPathOrQuery, Unauthorized};
use crate::paths::ConcertPath;
use crate::problem::Problem;

#[utoipa::path(
    get,
    path = "/concerts/{concertId}/attendees.csv",
    tag = "concerts",
    summary = "A concert's whole attendee list as CSV: ticket code, order, customer, ticket type and check-in.",
    params(ConcertPath),
    responses(
        (status = 200, description = "The attendees, one row per ticket, by ticket code.", content_type = "text/csv", body = String),
        (status = 400, response = InvalidPathOrQuery),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, description = "No concert has this id.", body = Problem, content_type = "application/problem+json")
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn attendees_csv(
    _admin: Admin,
    State(catalogue): State<Arc<dyn CatalogueQueries>>,
    State(attendees): State<Arc<dyn AttendeeQueries>>,
    ApiPath(path): ApiPath<ConcertPath>,
) -> Result<Response, Problem> {
    let concert_id = ConcertId(path.concert_id);
    let Some(concert) = catalogue.concert(concert_id, true).await? else {
        return Err(Problem::not_found("No concert has this id."));
    };
    let type_name = |id| concert.ticket_types.iter().find(|ticket_type| ticket_type.id == id).map(|t| t.name.clone());
    let mut csv = String::from("ticketCode,orderId,customerId,ticketTypeId,ticketType,checkedInAt\r\n");
    for attendee in attendees.attendees(concert_id).await? {
        let checked_in = attendee.checked_in_at.map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        let fields = [
            attendee.ticket_code,
            attendee.order_id.to_string(),
            attendee.customer_id.to_string(),
            attendee.ticket_type_id.to_string(),
            type_name(attendee.ticket_type_id).unwrap_or_default(),
            checked_in.unwrap_or_default(),
        ];
        let row: Vec<String> = fields.iter().map(|field| cell(field)).collect();
        let _ = write!(csv, "{}\r\n", row.join(","));
    }
    let disposition = format!("attachment; filename=\"attendees-{concert_id}.csv\"");
    Ok(([(CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (CONTENT_DISPOSITION, disposition)], csv)
        .into_response())
}

/// One CSV field: quoted when it holds a comma, a quote or a line break,
/// and kept from being read as a formula.
fn cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\r', '\n']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn a_cell_is_quoted_when_it_must_be_and_never_read_as_a_formula() {
        assert_eq!(cell("Standing"), "Standing");
        assert_eq!(cell("Front, left"), "\"Front, left\"");
        assert_eq!(cell("The \"VIP\" deck"), "\"The \"\"VIP\"\" deck\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell("@home"), "'@home");
        assert_eq!(cell(""), "");
    }
}
