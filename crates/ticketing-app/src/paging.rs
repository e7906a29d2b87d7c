//! How every list of the read side is paged, whichever backend answers:
//! keyset pages of at most [`PAGE_SIZE_MAX`] items, and opaque cursors
//! naming the sort key and id of the last item shown. A backend reads one
//! item more than the page to learn whether another page follows ([`page`]).
//!
//! Every backend hands out the same cursors, so a client never learns which
//! one answers. [`page_in_memory`] pages a list that a backend can only read
//! whole, with the same cursors and the same contract; the defaults of
//! [`Queries`](crate::queries::Queries) use it until a backend pages in its
//! store.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::queries::QueryError;

/// Items in a page when the caller does not say.
pub const PAGE_SIZE_DEFAULT: u32 = 20;

/// Most items in one page, whatever the caller asks for.
pub const PAGE_SIZE_MAX: u32 = 100;

/// Longest cursor a backend accepts, in bytes before hex encoding.
pub const CURSOR_BYTES_MAX: usize = 1_024;

/// One page of a list, and where the next one starts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Opaque; pass it back to get the next page. `None` on the last page.
    pub next_cursor: Option<String>,
}

/// The page size to use for a requested `limit`: the default when absent,
/// otherwise clamped to `1..=PAGE_SIZE_MAX`.
pub fn page_size(limit: Option<u32>) -> u32 {
    limit.unwrap_or(PAGE_SIZE_DEFAULT).clamp(1, PAGE_SIZE_MAX)
}

/// An opaque page cursor: the hex of `key|id`, the sort key and id of the
/// last item of a page.
pub fn encode_cursor(key: &str, id: uuid::Uuid) -> String {
    format!("{key}|{id}").bytes().map(|byte| format!("{byte:02x}")).collect()
}

/// The sort key and id in a cursor from [`encode_cursor`].
pub fn decode_cursor(cursor: &str) -> Result<(String, uuid::Uuid), QueryError> {
    if !cursor.len().is_multiple_of(2) || cursor.len() > 2 * CURSOR_BYTES_MAX {
        return Err(QueryError::InvalidCursor);
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|at| cursor.get(at..at + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .ok_or(QueryError::InvalidCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| QueryError::InvalidCursor)?;
    let (key, id) = text.rsplit_once('|').ok_or(QueryError::InvalidCursor)?;
    let id = uuid::Uuid::parse_str(id).map_err(|_| QueryError::InvalidCursor)?;
    Ok((key.to_owned(), id))
}

/// Keeps `limit` of `rows` (read with one extra) and the cursor after them.
pub fn page<T>(mut rows: Vec<T>, limit: u32, cursor_of: impl Fn(&T) -> String) -> Page<T> {
    let limit = limit as usize;
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(cursor_of)
    } else {
        None
    };
    Page { items: rows, next_cursor }
}

/// The direction of a list's sort key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortOrder {
    /// Smallest key first.
    Ascending,
    /// Largest key first (newest first, for times).
    Descending,
}

impl SortOrder {
    fn apply(self, ordering: Ordering) -> Ordering {
        match self {
            SortOrder::Ascending => ordering,
            SortOrder::Descending => ordering.reverse(),
        }
    }
}

/// A page of a whole list: `rows` sorted by `key_of` (sort key, then id) in
/// `order`, the items after `cursor` (a cursor of [`encode_cursor`]), at
/// most [`page_size`]`(limit)` of them. The list is read whole on every
/// page, so this is for lists a backend cannot page in its store yet.
pub fn page_in_memory<T>(
    rows: Vec<T>,
    cursor: Option<&str>,
    limit: Option<u32>,
    order: SortOrder,
    key_of: impl Fn(&T) -> (String, uuid::Uuid),
) -> Result<Page<T>, QueryError> {
    let after = cursor.map(decode_cursor).transpose()?;
    let limit = page_size(limit);
    let mut keyed: Vec<((String, uuid::Uuid), T)> = rows.into_iter().map(|row| (key_of(&row), row)).collect();
    keyed.sort_by(|(a, _), (b, _)| order.apply(a.cmp(b)));
    let rows = keyed
        .into_iter()
        .filter(|(key, _)| after.as_ref().is_none_or(|after| order.apply(key.cmp(after)) == Ordering::Greater))
        .take(limit as usize + 1)
        .map(|(_, row)| row)
        .collect();
    Ok(page(rows, limit, |row| {
        let (key, id) = key_of(row);
        encode_cursor(&key, id)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_default_and_are_clamped_to_the_named_bounds() {
        assert_eq!(page_size(None), PAGE_SIZE_DEFAULT);
        assert_eq!(page_size(Some(0)), 1);
        assert_eq!(page_size(Some(7)), 7);
        assert_eq!(page_size(Some(PAGE_SIZE_MAX + 1)), PAGE_SIZE_MAX);
    }

    #[test]
    fn cursors_round_trip_and_anything_else_is_refused() {
        let id = uuid::Uuid::from_u128(5);
        for key in ["2030-02-01T20:00:00.000Z", "a|b", "2031-06-01T20:00:00.000Z|with a bar"] {
            assert_eq!(decode_cursor(&encode_cursor(key, id)).ok(), Some((key.to_owned(), id)), "{key}");
        }
        let truncated = encode_cursor("x", id)[..10].to_owned();
        let without_id: String = "key".bytes().map(|byte| format!("{byte:02x}")).collect();
        let oversized = "00".repeat(CURSOR_BYTES_MAX + 1);
        // "|not-a-uuid"
        for bad in ["", "zz", "abc", &truncated, &without_id, &oversized, "7c6e6f742d612d75756964"] {
            assert!(matches!(decode_cursor(bad), Err(QueryError::InvalidCursor)), "{bad:?} was accepted");
        }
    }

    /// Every page of `rows` in turn, `limit` items at a time.
    fn walk(rows: &[(&str, u128)], limit: u32, order: SortOrder) -> Vec<Vec<(String, u128)>> {
        let key_of = |row: &(String, u128)| (row.0.clone(), uuid::Uuid::from_u128(row.1));
        let rows: Vec<(String, u128)> = rows.iter().map(|(key, id)| ((*key).to_owned(), *id)).collect();
        let (mut pages, mut cursor) = (Vec::new(), None::<String>);
        loop {
            let page = page_in_memory(rows.clone(), cursor.as_deref(), Some(limit), order, key_of)
                .unwrap_or_else(|error| panic!("a cursor of ours was refused: {error}"));
            pages.push(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return pages,
            }
        }
    }

    #[test]
    fn pages_in_memory_walk_the_list_once_in_key_then_id_order() {
        let rows = [("b", 1), ("a", 2), ("b", 0), ("c", 9), ("a", 1)];
        let owned = |pages: &[&[(&str, u128)]]| -> Vec<Vec<(String, u128)>> {
            pages.iter().map(|page| page.iter().map(|(key, id)| ((*key).to_owned(), *id)).collect()).collect()
        };

        assert_eq!(
            walk(&rows, 2, SortOrder::Ascending),
            owned(&[&[("a", 1), ("a", 2)], &[("b", 0), ("b", 1)], &[("c", 9)]])
        );
        assert_eq!(
            walk(&rows, 3, SortOrder::Descending),
            owned(&[&[("c", 9), ("b", 1), ("b", 0)], &[("a", 2), ("a", 1)]])
        );
        assert_eq!(walk(&[], 3, SortOrder::Ascending), owned(&[&[]]));
    }

    #[test]
    fn a_page_in_memory_refuses_a_cursor_it_did_not_hand_out() {
        let refused =
            page_in_memory(vec![1_u32], Some("zz"), None, SortOrder::Ascending, |_| (String::new(), uuid::Uuid::nil()));
        assert!(matches!(refused, Err(QueryError::InvalidCursor)));
    }
}
