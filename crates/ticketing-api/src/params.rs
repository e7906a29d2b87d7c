//! The query parameters of the read routes, checked in one place. Every parameter is read as text and parsed here,
//! not by the query extractor, so that whatever is wrong with it (not a number, negative, too large, empty, not a
//! time) is named in the `errors` of one 400 problem together with every other invalid parameter. The OpenAPI
//! document gives each parameter its real type and bounds (`value_type`, `minimum`, `maximum`).
//!
//! A parameter that is present must hold a value of its type: `?limit=`, `?after=`, `?from=` or `?cursor=` is a
//! 400, not "absent". Only the free-text filters of `GET /concerts` treat a blank value as no filter.

use chrono::{DateTime, Utc};
use es_core::Position;
use serde::Deserialize;
use ticketing_app::queries::PAGE_SIZE_MAX;
use utoipa::IntoParams;

use crate::limits::LOG_POSITION_MAX;
use crate::problem::{FieldError, Problem};

/// `?cursor=&limit=` of a paged list: every paged list takes these two and checks them with [`PageQuery::checked`].
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// The `nextCursor` of the previous page.
    #[param(min_length = 1)]
    cursor: Option<String>,
    /// Items per page (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    limit: Option<String>,
}

impl PageQuery {
    /// The cursor and page size, or a 400 naming what is wrong. A cursor's content is the read model's business: a
    /// forged one is refused there (400 too).
    pub(crate) fn checked(self) -> Result<(Option<String>, Option<u32>), Problem> {
        let mut params = Params::default();
        let limit = params.limit(self.limit, PAGE_SIZE_MAX);
        let cursor = params.cursor(self.cursor);
        params.check()?;
        Ok((cursor, limit))
    }
}

/// Invalid query parameters, collected so that one 400 names them all.
#[derive(Debug, Default)]
pub(crate) struct Params {
    errors: Vec<FieldError>,
}

impl Params {
    /// `limit` if absent or a whole number within `1..=max`; otherwise records why not.
    pub(crate) fn limit(&mut self, text: Option<String>, max: u32) -> Option<u32> {
        let text = text?;
        match text.parse::<u32>() {
            Ok(limit) if (1..=max).contains(&limit) => Some(limit),
            _ => {
                self.refuse("limit", format!("must be a whole number from 1 to {max}, not {}", quoted(&text)));
                None
            }
        }
    }

    /// A position in the log, `name`d, if absent or one the log can hold (`0..=`[`LOG_POSITION_MAX`]).
    pub(crate) fn position(&mut self, name: &str, text: Option<String>) -> Option<Position> {
        let text = text?;
        match text.parse::<u64>() {
            Ok(position) if position <= LOG_POSITION_MAX => Some(Position(position)),
            _ => {
                self.refuse(
                    name,
                    format!("must be a log position from 0 to {LOG_POSITION_MAX}, not {}", quoted(&text)),
                );
                None
            }
        }
    }

    /// An optional RFC 3339 time, in UTC.
    pub(crate) fn time(&mut self, name: &str, text: Option<String>) -> Option<DateTime<Utc>> {
        let text = text?;
        match DateTime::parse_from_rfc3339(text.trim()) {
            Ok(time) => Some(time.with_timezone(&Utc)),
            Err(error) => {
                self.refuse(name, format!("must be an RFC 3339 time, not {}: {error}", quoted(&text)));
                None
            }
        }
    }

    /// A page cursor if absent or not blank; its content is checked by whoever reads it.
    pub(crate) fn cursor(&mut self, text: Option<String>) -> Option<String> {
        let text = text?;
        let cursor = text.trim();
        if cursor.is_empty() {
            self.refuse("cursor", "must be the `nextCursor` of a previous page, not empty");
            return None;
        }
        Some(cursor.to_owned())
    }

    /// Records that `name` is invalid, and why.
    pub(crate) fn refuse(&mut self, name: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(name, message));
    }

    /// Ok when every parameter was valid; otherwise the 400 problem naming each invalid one.
    pub(crate) fn check(self) -> Result<(), Problem> {
        if self.errors.is_empty() {
            return Ok(());
        }
        Err(Problem::bad_request("The query string has invalid parameters.").with_errors(self.errors))
    }
}

/// A free-text filter, or `None` when absent or blank (`?q=` means no filter, not "names containing nothing").
pub(crate) fn text_filter(text: Option<String>) -> Option<String> {
    text.map(|text| text.trim().to_owned()).filter(|text| !text.is_empty())
}

/// A parameter's value as a message shows it.
fn quoted(text: &str) -> String {
    if text.is_empty() { "empty".to_owned() } else { format!("`{text}`") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(text: &str) -> Option<String> {
        Some(text.to_owned())
    }

    fn fields(params: Params) -> Vec<String> {
        params.errors.into_iter().map(|error| error.field).collect()
    }

    #[test]
    fn a_limit_is_a_whole_number_within_its_bounds() {
        let mut params = Params::default();
        assert_eq!(params.limit(None, 100), None);
        assert_eq!(params.limit(some("1"), 100), Some(1));
        assert_eq!(params.limit(some("100"), 100), Some(100));
        assert!(fields(params).is_empty());

        for bad in ["", "0", "101", "-1", "4294967296", "ten", "1.5", " 5"] {
            let mut params = Params::default();
            assert_eq!(params.limit(some(bad), 100), None, "{bad:?}");
            assert_eq!(fields(params), ["limit"], "{bad:?}");
        }
    }

    #[test]
    fn a_position_is_one_the_log_can_hold() {
        let mut params = Params::default();
        assert_eq!(params.position("after", some("0")), Some(Position::START));
        assert_eq!(params.position("after", some(&LOG_POSITION_MAX.to_string())), Some(Position(LOG_POSITION_MAX)));
        assert!(fields(params).is_empty());

        let beyond = (LOG_POSITION_MAX + 1).to_string();
        for bad in ["", "-1", &beyond, "18446744073709551616", "first"] {
            let mut params = Params::default();
            assert_eq!(params.position("after", some(bad)), None, "{bad:?}");
            assert_eq!(fields(params), ["after"], "{bad:?}");
        }
    }

    #[test]
    fn an_empty_time_or_cursor_is_invalid_but_a_blank_text_filter_is_no_filter() {
        let mut params = Params::default();
        assert_eq!(params.time("from", some("")), None);
        assert_eq!(params.time("to", some("2030-13-01T00:00:00Z")), None);
        assert_eq!(params.cursor(some(" ")), None);
        assert_eq!(fields(params), ["from", "to", "cursor"]);
        assert_eq!(text_filter(some("  ")), None);
        assert_eq!(text_filter(some(" crab ")).as_deref(), Some("crab"));
    }
}
