//! Shared query handling of event listings: time filters, limits and opaque cursors.

use prynt_store::{EventQuery, EventRow};

use crate::error::ApiError;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// `limit` within 1..=100, 20 when absent.
pub fn limit(v: Option<u32>) -> Result<usize, ApiError> {
    match v.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n as usize),
        _ => Err(ApiError::validation(
            "limit",
            format!("'limit' must be between 1 and {MAX_LIMIT}."),
        )),
    }
}

/// An ISO 8601 / RFC 3339 timestamp parameter, as Unix milliseconds.
pub fn time(field: &str, v: Option<&str>) -> Result<Option<i64>, ApiError> {
    v.map(|s| {
        prynt_core::timefmt::parse_rfc3339_ms(s).ok_or_else(|| {
            ApiError::validation(
                field,
                format!("'{field}' must be an ISO 8601 timestamp such as 2026-02-14T11:45:22Z."),
            )
        })
    })
    .transpose()
}

/// `cur_` and 32 hex digits: the row's time (16), its request id's seconds (10) and suffix (6).
/// Every string of that shape is a position in the listing, so a client (or a fuzzer) can only
/// send a cursor that is well formed or one that is refused for its shape.
pub fn encode_cursor(row: &EventRow) -> String {
    let (secs, suffix) = row
        .request_id
        .strip_prefix("req_")
        .and_then(|r| r.split_once('_'))
        .and_then(|(s, x)| Some((s.parse::<u64>().ok()?, x)))
        .unwrap_or((0, "000000"));
    format!("cur_{:016x}{secs:010x}{suffix}", row.ts_ms as u64)
}

pub fn decode_cursor(v: Option<&str>) -> Result<Option<(i64, String)>, ApiError> {
    let Some(s) = v else { return Ok(None) };
    let hex = s
        .strip_prefix("cur_")
        .filter(|h| h.len() == 32 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .ok_or_else(|| {
            ApiError::validation("cursor", "'cursor' is not a cursor returned by this API.")
        })?;
    // Both parses succeed: the digits were checked above.
    let ts = u64::from_str_radix(&hex[..16], 16).unwrap_or(0) as i64;
    let secs = u64::from_str_radix(&hex[16..26], 16).unwrap_or(0);
    Ok(Some((ts, format!("req_{secs}_{}", &hex[26..]))))
}

/// Splits the extra row fetched to learn whether more exist, and makes the next cursor.
pub fn page(mut rows: Vec<EventRow>, q: &EventQuery) -> (Vec<EventRow>, bool, Option<String>) {
    let more = rows.len() > q.limit;
    rows.truncate(q.limit);
    let next = if more {
        rows.last().map(encode_cursor)
    } else {
        None
    };
    (rows, more, next)
}

/// How many rules or lists one listing returns at most: the reference says those listings
/// return them all, and a hard cap keeps one answer bounded (`hasMore` says when it bit).
pub const ALL_CAP: u32 = 1000;

/// `limit` and `offset` of the webhooks and deliveries listings: 20 by default, at most 100.
pub fn offset_page(limit_v: Option<u32>, offset: Option<u64>) -> Result<(usize, usize), ApiError> {
    with_offset(limit(limit_v)?, offset)
}

/// `limit` and `offset` of the rules and lists listings: all of them ([`ALL_CAP`]) by default,
/// a `limit` of 1 to [`ALL_CAP`] when given.
pub fn offset_page_all(
    limit_v: Option<u32>,
    offset: Option<u64>,
) -> Result<(usize, usize), ApiError> {
    let n = match limit_v.unwrap_or(ALL_CAP) {
        n @ 1..=ALL_CAP => n as usize,
        _ => {
            return Err(ApiError::validation(
                "limit",
                format!("'limit' must be between 1 and {ALL_CAP}."),
            ))
        }
    };
    with_offset(n, offset)
}

fn with_offset(n: usize, offset: Option<u64>) -> Result<(usize, usize), ApiError> {
    let offset = offset.unwrap_or(0);
    if offset > 1_000_000 {
        return Err(ApiError::validation(
            "offset",
            "'offset' must be between 0 and 1000000.",
        ));
    }
    Ok((n, offset as usize))
}

/// `{data, hasMore, total}` of an offset listing.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OffsetPage<T> {
    pub data: Vec<T>,
    pub has_more: bool,
    pub total: usize,
}

impl<T> OffsetPage<T> {
    pub fn new(data: Vec<T>, offset: usize, total: usize) -> Self {
        let has_more = offset + data.len() < total;
        OffsetPage {
            data,
            has_more,
            total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let row = EventRow {
            request_id: "req_1700000000_abcdef".into(),
            ts_ms: 1_700_000_000_123,
            body: serde_json::Value::Null,
        };
        let c = encode_cursor(&row);
        assert_eq!(
            decode_cursor(Some(&c)).unwrap(),
            Some((row.ts_ms, row.request_id))
        );
        for bad in [
            "",
            "cur_",
            "cur_!!!",
            "abc",
            "cur_MTIzNA",
            "cur_0000000000000000000000000000000G",
            "cur_0000000000000000000000000000000A",
            "cur_000000000000000000000000000000000",
        ] {
            assert!(decode_cursor(Some(bad)).is_err(), "{bad}");
        }
        assert!(limit(Some(0)).is_err() && limit(Some(101)).is_err());
        assert_eq!(limit(None).unwrap(), 20);
    }
}
