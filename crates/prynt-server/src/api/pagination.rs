//! Shared query handling of listings: time filters, limits, offsets, and the opaque, signed
//! cursors of event listings, each bound to its workspace, environment and listing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use prynt_core::Scope;
use prynt_store::{EventQuery, EventRow};
use sha2::Sha256;

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

/// Which cursor-paginated listing a cursor belongs to: a cursor of one is refused by another.
#[derive(Debug, Clone, Copy)]
pub enum Listing<'a> {
    /// `GET /v1/events`, whatever its filters.
    Events,
    /// `GET /v1/visitors/{visitorId}/events` of this visitor.
    VisitorEvents(&'a str),
}

/// Mints and reads the cursors of one listing in one workspace environment.
///
/// A cursor is `cur_` and 44 URL-safe base64 characters (no padding) holding 33 bytes: a format
/// version (1), the position (the last row's time in milliseconds, 8 bytes; its request id's
/// seconds, 5 bytes, and hex suffix, 3 bytes) and the first 16 bytes of an HMAC-SHA256 over the
/// position and what the cursor is for (workspace, environment, listing). A client can read the
/// position but can neither forge one nor carry a cursor to another workspace, environment or
/// listing: every such cursor, like every malformed one, is a 400 naming `cursor`.
///
/// The key is derived from the store's token key ([`prynt_store::Store::token_key`]) under a
/// label of its own, so every node of a store (and every restart) accepts the cursors any of
/// them minted, and no other use of the token key can produce a valid cursor tag.
pub struct Cursors {
    /// Keyed and already fed with what the cursor is for; cloned per cursor.
    mac: HmacSha256,
}

type HmacSha256 = Hmac<Sha256>;

/// Domain separation of the cursor key from the token key's other uses.
const KEY_LABEL: &[u8] = b"prynt pagination cursor key v1";
const VERSION: u8 = 1;
const POSITION_LEN: usize = 1 + 8 + 5 + 3;
const TAG_LEN: usize = 16;
const CURSOR_LEN: usize = POSITION_LEN + TAG_LEN;
/// Characters after `cur_`: 33 bytes are exactly 44 base64 characters, as the listings'
/// `cursor` parameters document (`^cur_[A-Za-z0-9_-]{44}$`).
pub const CURSOR_CHARS: usize = CURSOR_LEN / 3 * 4;

impl Cursors {
    pub fn new(token_key: &[u8], scope: &Scope, listing: Listing<'_>) -> Self {
        let key = keyed(token_key)
            .chain_update(KEY_LABEL)
            .finalize()
            .into_bytes();
        let mut mac = keyed(&key);
        // Each part length-prefixed, so no two different scopes feed the same bytes.
        let listing = match listing {
            Listing::Events => "events".to_owned(),
            Listing::VisitorEvents(v) => format!("visitors/{v}/events"),
        };
        for part in [
            scope.workspace_id.as_str(),
            scope.env.as_str(),
            listing.as_str(),
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        Cursors { mac }
    }

    /// The cursor that continues after `row`.
    pub fn encode(&self, row: &EventRow) -> String {
        let (secs, suffix) = row
            .request_id
            .strip_prefix("req_")
            .and_then(|r| r.split_once('_'))
            .and_then(|(s, x)| Some((s.parse::<u64>().ok()?, hex3(x)?)))
            .filter(|(secs, _)| *secs < 1 << 40)
            .unwrap_or((0, [0; 3]));
        let mut bytes = [0u8; CURSOR_LEN];
        bytes[0] = VERSION;
        bytes[1..9].copy_from_slice(&(row.ts_ms as u64).to_be_bytes());
        bytes[9..14].copy_from_slice(&secs.to_be_bytes()[3..]);
        bytes[14..17].copy_from_slice(&suffix);
        let tag = self
            .mac
            .clone()
            .chain_update(&bytes[..POSITION_LEN])
            .finalize();
        bytes[POSITION_LEN..].copy_from_slice(&tag.into_bytes()[..TAG_LEN]);
        format!("cur_{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The position a cursor of this listing points after; `None` without a cursor.
    pub fn decode(&self, v: Option<&str>) -> Result<Option<(i64, String)>, ApiError> {
        let Some(s) = v else { return Ok(None) };
        let refused = || {
            ApiError::validation(
                "cursor",
                "'cursor' is not a cursor returned by this listing: pass the `nextCursor` of \
                 the previous page, with the same key and on the same path.",
            )
        };
        let text = s
            .strip_prefix("cur_")
            .filter(|t| t.len() == CURSOR_CHARS)
            .ok_or_else(refused)?;
        let mut bytes = [0u8; CURSOR_LEN];
        match URL_SAFE_NO_PAD.decode_slice(text, &mut bytes) {
            Ok(CURSOR_LEN) => {}
            _ => return Err(refused()),
        }
        let (position, tag) = bytes.split_at(POSITION_LEN);
        // Constant-time comparison of the tag.
        self.mac
            .clone()
            .chain_update(position)
            .verify_truncated_left(tag)
            .map_err(|_| refused())?;
        if position[0] != VERSION {
            return Err(refused());
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&position[1..9]);
        let mut secs = [0u8; 8];
        secs[3..].copy_from_slice(&position[9..14]);
        let suffix = &position[14..17];
        Ok(Some((
            u64::from_be_bytes(ts) as i64,
            format!(
                "req_{}_{:02x}{:02x}{:02x}",
                u64::from_be_bytes(secs),
                suffix[0],
                suffix[1],
                suffix[2]
            ),
        )))
    }

    /// Splits the extra row fetched to learn whether more exist, and mints the next cursor.
    pub fn page(
        &self,
        mut rows: Vec<EventRow>,
        q: &EventQuery,
    ) -> (Vec<EventRow>, bool, Option<String>) {
        let more = rows.len() > q.limit;
        rows.truncate(q.limit);
        let next = if more {
            rows.last().map(|r| self.encode(r))
        } else {
            None
        };
        (rows, more, next)
    }
}

fn keyed(key: &[u8]) -> HmacSha256 {
    <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// Six lower-case hex digits as three bytes.
fn hex3(x: &str) -> Option<[u8; 3]> {
    if x.len() != 6 || !x.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let n = u32::from_str_radix(x, 16).ok()?;
    let b = n.to_be_bytes();
    Some([b[1], b[2], b[3]])
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
    use prynt_core::keys::Environment;

    fn scope(ws: &str, env: Environment) -> Scope {
        Scope {
            workspace_id: ws.into(),
            env,
        }
    }

    #[test]
    fn cursors_round_trip_within_their_listing_only() {
        let key = b"token key of the store";
        let row = EventRow {
            request_id: "req_1700000000_abcdef".into(),
            ts_ms: 1_700_000_000_123,
            body: serde_json::Value::Null,
        };
        let here = scope("ws_a", Environment::Test);
        let events = Cursors::new(key, &here, Listing::Events);
        let c = events.encode(&row);
        assert!(c.starts_with("cur_") && c.len() == 4 + CURSOR_CHARS, "{c}");
        assert!(c[4..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(
            events.decode(Some(&c)).unwrap(),
            Some((row.ts_ms, row.request_id.clone()))
        );
        // Another node of the same store reads it too.
        assert!(Cursors::new(key, &here, Listing::Events)
            .decode(Some(&c))
            .is_ok());
        for other in [
            Cursors::new(key, &scope("ws_b", Environment::Test), Listing::Events),
            Cursors::new(key, &scope("ws_a", Environment::Live), Listing::Events),
            Cursors::new(key, &here, Listing::VisitorEvents("pv_8kX2mNqR3jT7p")),
            Cursors::new(b"another store", &here, Listing::Events),
        ] {
            assert!(other.decode(Some(&c)).is_err());
        }
        // Any changed character is refused.
        for i in 4..c.len() {
            let mut t = c.clone().into_bytes();
            t[i] = if t[i] == b'A' { b'B' } else { b'A' };
            let t = String::from_utf8(t).unwrap();
            assert!(events.decode(Some(&t)).is_err(), "{t}");
        }
        for bad in [
            "",
            "cur_",
            "cur_!!!",
            "abc",
            "cur_0000018d9f4a6e3b00659c1a31a7f2c9",
            &c[..c.len() - 1],
            &format!("{c}A"),
        ] {
            assert!(events.decode(Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(events.decode(None).unwrap(), None);
        assert!(limit(Some(0)).is_err() && limit(Some(101)).is_err());
        assert_eq!(limit(None).unwrap(), 20);
    }
}
