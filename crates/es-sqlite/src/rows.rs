//! Turning rows into [`RecordedEvent`]s and back. Ids are stored as their
//! canonical text and times as RFC 3339 with milliseconds, exactly as the
//! seed's DynamoDB table holds them, so a dump of either reads the same.
//!
//! Replay reads millions of rows, so the hot columns are parsed from
//! borrowed text without intermediate allocations, and `Created` in the form
//! this backend writes it takes a fixed-format fast path.

use chrono::{DateTime, NaiveDate, Utc};
use es_core::{AggregateId, EventId, Metadata, Position, RecordedEvent, StoreError, Version, parse_created};
use rusqlite::Row;
use rusqlite::types::ValueRef;

fn bytes<'row>(row: &'row Row<'_>, index: usize) -> rusqlite::Result<&'row [u8]> {
    match row.get_ref(index)? {
        ValueRef::Text(bytes) => Ok(bytes),
        other => Err(rusqlite::Error::InvalidColumnType(index, format!("column {index}"), other.data_type())),
    }
}

fn text<'row>(row: &'row Row<'_>, index: usize) -> rusqlite::Result<&'row str> {
    std::str::from_utf8(bytes(row, index)?)
        .map_err(|error| rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(error)))
}

/// UUID columns are ASCII; parsing the bytes checks them completely.
fn uuid(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<uuid::Uuid>> {
    Ok(uuid::Uuid::try_parse_ascii(bytes(row, index)?).ok())
}

/// Reads one row selected with [`crate::schema::EVENT_COLUMNS`].
pub(crate) fn event_from_row(row: &Row<'_>) -> rusqlite::Result<Result<RecordedEvent, StoreError>> {
    let position: i64 = row.get(0)?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("event at position {position}: {what}"));
    let aggregate_version: i64 = row.get(2)?;
    let schema_version: i64 = row.get(7)?;
    let metadata = match row.get_ref(8)? {
        ValueRef::Null => Ok(Metadata::default()),
        _ => serde_json::from_str(text(row, 8)?).map_err(|_| corrupt("Metadata is not valid JSON")),
    };
    let decoded = (|| {
        Ok(RecordedEvent {
            position: Position(u64::try_from(position).map_err(|_| corrupt("negative position"))?),
            aggregate_id: AggregateId(uuid(row, 1)?.ok_or_else(|| corrupt("AggregateId is not a UUID"))?),
            aggregate_version: Version(
                u64::try_from(aggregate_version).map_err(|_| corrupt("negative AggregateVersion"))?,
            ),
            created: parse_stored_created(bytes(row, 3)?).ok_or_else(|| corrupt("Created is not RFC 3339"))?,
            event_type: text(row, 4)?.to_owned(),
            data: text(row, 5)?.to_owned(),
            event_id: EventId(uuid(row, 6)?.ok_or_else(|| corrupt("EventId is not a UUID"))?),
            schema_version: u32::try_from(schema_version).map_err(|_| corrupt("SchemaVersion out of range"))?,
            metadata: metadata?,
        })
    })();
    match decoded {
        Ok(event) => Ok(Ok(event)),
        Err(RowError::Corrupt(error)) => Ok(Err(error)),
        Err(RowError::Sql(error)) => Err(error),
    }
}

/// Either failure of decoding a row, so one `?` serves both.
enum RowError {
    Sql(rusqlite::Error),
    Corrupt(StoreError),
}

impl From<rusqlite::Error> for RowError {
    fn from(error: rusqlite::Error) -> Self {
        RowError::Sql(error)
    }
}

impl From<StoreError> for RowError {
    fn from(error: StoreError) -> Self {
        RowError::Corrupt(error)
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS.mmmZ` directly, anything else as RFC 3339.
fn parse_stored_created(bytes: &[u8]) -> Option<DateTime<Utc>> {
    fast_created(bytes).or_else(|| parse_created(std::str::from_utf8(bytes).ok()?).ok())
}

fn fast_created(bytes: &[u8]) -> Option<DateTime<Utc>> {
    if bytes.len() != 24 || bytes[23] != b'Z' || bytes[19] != b'.' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        bytes[range]
            .iter()
            .try_fold(0_u32, |value, &byte| byte.is_ascii_digit().then(|| value * 10 + u32::from(byte - b'0')))
    };
    let separators_ok =
        bytes[4] == b'-' && bytes[7] == b'-' && bytes[10] == b'T' && bytes[13] == b':' && bytes[16] == b':';
    if !separators_ok {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(number(0..4)?).ok()?, number(5..7)?, number(8..10)?)?;
    let time = date.and_hms_milli_opt(number(11..13)?, number(14..16)?, number(17..19)?, number(20..23)?)?;
    Some(time.and_utc())
}

/// Converts a stored count to SQLite's integer type. Counts in the log stay
/// far below `i64::MAX`; anything else is a programmer error.
pub(crate) fn sql_int(value: u64) -> i64 {
    i64::try_from(value).expect("positions and versions stay below i64::MAX")
}

#[cfg(test)]
mod tests {
    use super::*;
    use es_core::format_created;

    #[test]
    fn the_fast_path_reads_what_the_writer_writes() {
        let time = es_core::truncate_to_millis(Utc::now());
        assert_eq!(fast_created(format_created(time).as_bytes()), Some(time));
    }

    #[test]
    fn other_rfc3339_forms_still_parse_and_nonsense_does_not() {
        assert_eq!(
            parse_stored_created(b"2026-11-27T10:00:00+01:00").map(format_created),
            Some("2026-11-27T09:00:00.000Z".to_owned())
        );
        assert_eq!(parse_stored_created(b"2026-13-27T10:00:00.000Z"), None);
        assert_eq!(parse_stored_created(b"yesterday"), None);
    }
}
