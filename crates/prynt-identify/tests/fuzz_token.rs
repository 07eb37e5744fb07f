//! Property tests of visitor tokens (`token::sign` / `token::verify`), the one value of an
//! identify payload that the server trusts when it checks out: any text is refused without a
//! panic, a token verifies with its key and within its lifetime and gives back its claims, and
//! any change to one of its bytes, or another key, is refused.
//!
//! Cases per property: `PROPTEST_CASES` when set (the long run in docs/fuzzing.md), else a
//! few thousand.

use proptest::prelude::*;
use prynt_identify::token::{sign, verify, Claims, TOKEN_TTL_SECS};

fn config(default_cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = default_cases;
    }
    // Inputs a property skips (`prop_assume!`) stay a small share however long the run.
    c.max_global_rejects = c.max_global_rejects.max(c.cases / 20);
    c
}

fn claims() -> impl Strategy<Value = Claims> {
    (
        prop_oneof!["ws_[0-9a-f]{16}", any::<String>()],
        prop_oneof![
            Just("test".to_owned()),
            Just("live".to_owned()),
            any::<String>()
        ],
        prop_oneof!["pv_[0-9A-Za-z]{13}", any::<String>()],
        1_000_000_000i64..3_000_000_000,
    )
        .prop_map(|(w, e, v, t)| Claims { w, e, v, t })
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..64)
}

proptest! {
    #![proptest_config(config(4_000))]

    #[test]
    fn a_token_gives_back_its_claims_with_its_key_and_in_time(
        key in key(), c in claims(), age in -300i64..=TOKEN_TTL_SECS,
    ) {
        let token = sign(&key, &c);
        prop_assert_eq!(verify(&key, &token, c.t + age), Some(c.clone()));
        // Outside its lifetime (or from too far in the future) it is refused.
        prop_assert_eq!(verify(&key, &token, c.t + TOKEN_TTL_SECS + 1), None);
        prop_assert_eq!(verify(&key, &token, c.t - 301), None);
    }

    #[test]
    fn any_changed_byte_or_another_key_is_refused(
        key in key(), other in key(), c in claims(), at in any::<proptest::sample::Index>(), by in any::<u8>(),
    ) {
        let token = sign(&key, &c);
        if other != key {
            prop_assert_eq!(verify(&other, &token, c.t), None);
        }
        let mut bytes = token.clone().into_bytes();
        let i = at.index(bytes.len());
        if bytes[i] != by {
            bytes[i] = by;
            if let Ok(forged) = String::from_utf8(bytes) {
                prop_assert_eq!(verify(&key, &forged, c.t), None, "{}", forged);
            }
        }
    }

    #[test]
    fn any_text_is_refused_without_panicking(
        key in key(),
        text in prop_oneof![
            any::<String>(),
            "v1\\.[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,50}",
            "[v1.A-Za-z0-9_=+/-]{0,120}",
        ],
        now in any::<i64>(),
    ) {
        // Random text is never a token of this key (a valid tag is out of reach).
        prop_assert_eq!(verify(&key, &text, now), None);
    }
}

/// A token only verifies as it was issued: base64 without padding and nothing appended.
#[test]
fn a_token_with_padding_or_trailing_text_is_refused() {
    let c = Claims {
        w: "ws_1".into(),
        e: "test".into(),
        v: "pv_0123456789abc".into(),
        t: 1_700_000_000,
    };
    let token = sign(b"key", &c);
    assert_eq!(verify(b"key", &token, c.t), Some(c.clone()));
    for forged in [
        format!("{token}="),
        format!("{token}.x"),
        format!(" {token}"),
        token.replacen("v1.", "v2.", 1),
    ] {
        assert_eq!(verify(b"key", &forged, c.t), None, "{forged}");
    }
}
