//! Property tests of the webhook signature checks (`signing::verify`, `verify_standard`):
//! random secrets, bodies, delivery ids and timestamps, and random headers. They accept
//! exactly the correctly signed deliveries: the headers a delivery carries verify, any change to
//! the body, the secret, the id, the timestamp or a signature byte is refused (but for what
//! the format defines as the same signature: upper-case hex, surrounding spaces), and no
//! input panics.
//!
//! Cases per property: `PROPTEST_CASES` when set (the long run in docs/fuzzing.md), else a
//! few thousand.

use proptest::prelude::*;
use prynt_webhooks::signing::{delivery_headers, signature, verify, verify_standard};

fn config(default_cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = default_cases;
    }
    // Inputs a property skips (`prop_assume!`) stay a small share however long the run.
    c.max_global_rejects = c.max_global_rejects.max(c.cases / 20);
    c
}

/// Secrets as they come: generated (`whsec_` and base62), custom text, or anything.
fn secret() -> impl Strategy<Value = String> {
    prop_oneof![
        "whsec_[0-9A-Za-z]{32}",
        "whsec_[A-Za-z0-9+/]{0,40}={0,2}",
        "[ -~]{1,64}",
        any::<String>(),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        "\\{\"id\":\"evt_[0-9a-f]{12}\",\"event\":\"[a-z_]{4,16}\",\"data\":\\{[ -~]{0,200}\\}\\}"
            .prop_map(String::into_bytes),
    ]
}

fn header_of(h: &[(&'static str, String)], name: &str) -> String {
    h.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// `text` with its byte at `at` (taken modulo the length) replaced by `by`, when the result is
/// still text; `None` when nothing changed or it is not UTF-8.
fn flipped(text: &str, at: usize, by: u8) -> Option<String> {
    let mut bytes = text.as_bytes().to_vec();
    if bytes.is_empty() {
        return None;
    }
    let i = at % bytes.len();
    if bytes[i] == by {
        return None;
    }
    bytes[i] = by;
    String::from_utf8(bytes).ok()
}

proptest! {
    #![proptest_config(config(4_000))]

    #[test]
    fn a_delivery_verifies_with_its_own_headers(
        secret in secret(), previous in secret(), body in body(),
        id in "dlv_[0-9a-f]{12}", ts in 0i64..4_000_000_000,
    ) {
        let h = delivery_headers(&[&secret, &previous], &id, ts, &body);
        prop_assert!(verify(&header_of(&h, "X-Prynt-Signature"), &secret, &body));
        prop_assert!(verify(&header_of(&h, "X-Prynt-Signature-Previous"), &previous, &body));
        let standard = header_of(&h, "webhook-signature");
        prop_assert!(verify_standard(&standard, &secret, &id, ts, &body));
        prop_assert!(verify_standard(&standard, &previous, &id, ts, &body));
        prop_assert_eq!(header_of(&h, "webhook-id"), id);
        prop_assert_eq!(header_of(&h, "webhook-timestamp"), ts.to_string());
        // What the format defines as the same hex signature.
        let sig = signature(&secret, &body);
        prop_assert!(verify(&sig.to_uppercase(), &secret, &body));
        let padded = format!("  {sig}\t");
        prop_assert!(verify(&padded, &secret, &body));
    }

    #[test]
    fn any_changed_body_byte_is_refused(
        secret in secret(), body in body(), at in any::<usize>(), by in any::<u8>(),
        id in "dlv_[0-9a-f]{12}", ts in 0i64..4_000_000_000,
    ) {
        prop_assume!(!body.is_empty());
        let mut changed = body.clone();
        let i = at % changed.len();
        prop_assume!(changed[i] != by);
        changed[i] = by;
        let h = delivery_headers(&[&secret], &id, ts, &body);
        prop_assert!(!verify(&header_of(&h, "X-Prynt-Signature"), &secret, &changed));
        prop_assert!(!verify_standard(&header_of(&h, "webhook-signature"), &secret, &id, ts, &changed));
        // A byte added or taken away too.
        let mut longer = body.clone();
        longer.push(by);
        prop_assert!(!verify(&header_of(&h, "X-Prynt-Signature"), &secret, &longer));
        prop_assert!(!verify(&header_of(&h, "X-Prynt-Signature"), &secret, &body[..body.len() - 1]));
    }

    #[test]
    fn any_changed_signature_byte_is_refused_unless_it_only_changes_hex_case(
        secret in secret(), body in body(), at in any::<usize>(), by in any::<u8>(),
    ) {
        let sig = signature(&secret, &body);
        if let Some(forged) = flipped(&sig, at, by) {
            let same_value = forged.eq_ignore_ascii_case(&sig);
            prop_assert_eq!(verify(&forged, &secret, &body), same_value, "{}", forged);
        }
    }

    #[test]
    fn any_changed_standard_signature_byte_is_refused(
        secret in secret(), body in body(), at in any::<usize>(), by in any::<u8>(),
        id in "dlv_[0-9a-f]{12}", ts in 0i64..4_000_000_000,
    ) {
        let h = delivery_headers(&[&secret], &id, ts, &body);
        let standard = header_of(&h, "webhook-signature");
        if let Some(forged) = flipped(&standard, at, by) {
            prop_assert!(!verify_standard(&forged, &secret, &id, ts, &body), "{}", forged);
        }
    }

    #[test]
    fn another_secret_id_or_timestamp_is_refused(
        secret in secret(), other in secret(), body in body(),
        id in "dlv_[0-9a-f]{12}", other_id in "dlv_[0-9a-f]{12}",
        ts in 0i64..4_000_000_000, delta in 1i64..1_000_000,
    ) {
        let h = delivery_headers(&[&secret], &id, ts, &body);
        let hex = header_of(&h, "X-Prynt-Signature");
        let standard = header_of(&h, "webhook-signature");
        if other != secret {
            prop_assert!(!verify(&hex, &other, &body));
        }
        if other_id != id {
            prop_assert!(!verify_standard(&standard, &secret, &other_id, ts, &body));
        }
        prop_assert!(!verify_standard(&standard, &secret, &id, ts + delta, &body));
        prop_assert!(!verify_standard(&standard, &secret, &id, ts - delta, &body));
    }

    #[test]
    fn any_header_text_is_checked_without_panicking(
        header in prop_oneof![
            any::<String>(),
            "[0-9a-fA-F ]{0,80}",
            "(v[0-9],[A-Za-z0-9+/=]{0,50} ?){0,4}",
        ],
        secret in secret(), body in body(), id in any::<String>(), ts in any::<i64>(),
    ) {
        // Only the real signature verifies; a random header matching it is out of reach.
        prop_assert!(!verify(&header, &secret, &body) || header.trim().eq_ignore_ascii_case(&signature(&secret, &body)));
        let _ = verify_standard(&header, &secret, &id, ts, &body);
    }
}

/// Secrets whose `whsec_` remainder is valid base64 are keyed by its decoding for the Standard
/// Webhooks signature, others by their text; the two key spaces must not make a one-byte change
/// of a generated secret verify.
#[test]
fn a_generated_secret_and_its_one_byte_neighbours_sign_differently() {
    let secret = "whsec_5mV8qJ2xT0LwZbN4rC7yD1eK9gH3fA6s";
    let h = delivery_headers(&[secret], "dlv_1", 1_700_000_000, b"{}");
    let standard = header_of(&h, "webhook-signature");
    for i in 0..secret.len() {
        for by in [b'A', b'a', b'0', b'+', b'/', b'=', b'_'] {
            let Some(neighbour) = flipped(secret, i, by) else {
                continue;
            };
            assert!(
                !verify_standard(&standard, &neighbour, "dlv_1", 1_700_000_000, b"{}"),
                "{neighbour}"
            );
        }
    }
}
