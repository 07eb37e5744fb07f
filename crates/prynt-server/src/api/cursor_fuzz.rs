//! Property tests of the event listings' cursors (`pagination::Cursors`), with random rows,
//! keys, scopes and cursor text: any text is read as a position or refused as a 400 naming
//! `cursor`, never a panic; a minted cursor reads back to its row's position in its own listing
//! only; changing any one of its characters is refused.
//!
//! Cases per property: `PROPTEST_CASES` when set (the long run in docs/fuzzing.md), else a
//! few thousand.

use proptest::prelude::*;
use prynt_core::{Environment, Scope};
use prynt_store::EventRow;

use super::pagination::{Cursors, Listing, CURSOR_CHARS};
use crate::error::ApiError;

fn config(default_cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = default_cases;
    }
    // Inputs a property skips (`prop_assume!`) stay a small share however long the run.
    c.max_global_rejects = c.max_global_rejects.max(c.cases / 20);
    c
}

fn scope() -> impl Strategy<Value = Scope> {
    (
        "ws_[0-9a-f]{1,16}",
        prop_oneof![Just(Environment::Test), Just(Environment::Live)],
    )
        .prop_map(|(workspace_id, env)| Scope { workspace_id, env })
}

/// The listing and, for a visitor's events, the visitor.
fn listing() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("pv_[0-9A-Za-z]{13}")
}

fn cursors(key: &[u8], scope: &Scope, visitor: &Option<String>) -> Cursors {
    let listing = match visitor {
        Some(v) => Listing::VisitorEvents(v),
        None => Listing::Events,
    };
    Cursors::new(key, scope, listing)
}

/// A stored event's position as the store hands it out: request ids as the server makes them
/// (`req_<seconds>_<6 hex>`).
fn row() -> impl Strategy<Value = EventRow> {
    (0i64..=i64::MAX, 0u64..(1 << 40), "[0-9a-f]{6}").prop_map(|(ts_ms, secs, hex)| EventRow {
        request_id: format!("req_{secs}_{hex}"),
        ts_ms,
        body: serde_json::Value::Null,
    })
}

fn refused_as_cursor(r: Result<Option<(i64, String)>, ApiError>) -> Result<(), TestCaseError> {
    match r {
        Err(ApiError::Validation { field, .. }) => {
            prop_assert_eq!(field.as_deref(), Some("cursor"));
            Ok(())
        }
        other => Err(TestCaseError::fail(format!("not refused: {other:?}"))),
    }
}

proptest! {
    #![proptest_config(config(4_000))]

    #[test]
    fn a_cursor_reads_back_to_its_row_in_its_own_listing(
        key in proptest::collection::vec(any::<u8>(), 0..48), scope in scope(),
        visitor in listing(), row in row(),
    ) {
        let c = cursors(&key, &scope, &visitor);
        let text = c.encode(&row);
        prop_assert_eq!(text.len(), 4 + CURSOR_CHARS);
        prop_assert_eq!(c.decode(Some(&text)).ok(), Some(Some((row.ts_ms, row.request_id.clone()))));
        // Another node of the same store reads it as well.
        prop_assert!(cursors(&key, &scope, &visitor).decode(Some(&text)).is_ok());
    }

    #[test]
    fn a_cursor_is_refused_by_another_listing_scope_or_store(
        key in proptest::collection::vec(any::<u8>(), 1..48), scope in scope(), other in scope(),
        visitor in listing(), other_visitor in listing(), row in row(),
    ) {
        let text = cursors(&key, &scope, &visitor).encode(&row);
        if other != scope || other_visitor != visitor {
            refused_as_cursor(cursors(&key, &other, &other_visitor).decode(Some(&text)))?;
        }
        let mut other_key = key.clone();
        other_key[0] ^= 1;
        refused_as_cursor(cursors(&other_key, &scope, &visitor).decode(Some(&text)))?;
    }

    #[test]
    fn any_changed_character_is_refused(
        key in proptest::collection::vec(any::<u8>(), 0..48), scope in scope(), row in row(),
        at in any::<proptest::sample::Index>(), by in any::<char>(),
    ) {
        let c = cursors(&key, &scope, &None);
        let text = c.encode(&row);
        let mut chars: Vec<char> = text.chars().collect();
        let i = at.index(chars.len());
        prop_assume!(chars[i] != by);
        chars[i] = by;
        let forged: String = chars.into_iter().collect();
        refused_as_cursor(c.decode(Some(&forged)))?;
    }

    #[test]
    fn any_text_is_a_position_or_refused(
        key in proptest::collection::vec(any::<u8>(), 0..48), scope in scope(),
        text in prop_oneof![
            any::<String>(),
            "cur_[A-Za-z0-9_-]{0,50}",
            "cur_[A-Za-z0-9_=+/-]{44}",
            "cur_[0-9a-f]{32}",
        ],
    ) {
        match cursors(&key, &scope, &None).decode(Some(&text)) {
            Ok(Some(_)) => prop_assert!(false, "a random cursor was accepted: {}", text),
            Ok(None) => prop_assert!(false, "a cursor read as none"),
            Err(e) => refused_as_cursor(Err(e))?,
        }
    }
}
