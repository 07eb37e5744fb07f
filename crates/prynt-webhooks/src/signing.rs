//! Payload signatures (docs/webhooks.md): the headers a delivery carries, their reference
//! checks and the format of new endpoint secrets.
//!
//! - `X-Prynt-Signature`: the bare lower-case hex HMAC-SHA256 of the raw body under the secret,
//!   so that a receiver comparing it with its own digest of the body (as the API reference
//!   says to) succeeds. The key is the secret's whole text as UTF-8 (`whsec_` prefix
//!   included): receivers copy the string they were shown and need no decoding step.
//! - `X-Prynt-Signature-Previous`: during a rotation, the same digest under the old secret, so a
//!   receiver that has not switched yet still verifies; the main header is always the new one.
//! - The Standard Webhooks headers `webhook-id`, `webhook-timestamp` and `webhook-signature`
//!   (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one entry per live secret separated by
//!   spaces), so receivers can use that ecosystem's libraries and its replay protection. Those
//!   libraries take the key as the base64 decoding of what follows `whsec_`; generated secrets
//!   (32 base62 characters) decode that way, and a custom secret that does not decode is used as
//!   its UTF-8 text.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Version tag of the Standard Webhooks signature scheme.
const STANDARD_SCHEME: &str = "v1,";

/// The bare hex HMAC-SHA256 of `body` under `secret`: the `X-Prynt-Signature` value.
pub fn signature(secret: &str, body: &[u8]) -> String {
    to_hex(&mac(secret.as_bytes(), body))
}

/// Every signature header of one delivery attempt, in sending order. `secrets` lists the live
/// secrets, the current one first and, during a rotation, the previous one second; `id` is the
/// delivery's identifier (the same on every retry) and `timestamp_s` the attempt's Unix time.
pub fn delivery_headers(
    secrets: &[&str],
    id: &str,
    timestamp_s: i64,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let mut out = Vec::with_capacity(5);
    if let Some(current) = secrets.first() {
        out.push(("X-Prynt-Signature", signature(current, body)));
    }
    if let Some(previous) = secrets.get(1) {
        out.push(("X-Prynt-Signature-Previous", signature(previous, body)));
    }
    out.push(("webhook-id", id.to_owned()));
    out.push(("webhook-timestamp", timestamp_s.to_string()));
    let signed = standard_content(id, timestamp_s, body);
    out.push((
        "webhook-signature",
        secrets
            .iter()
            .map(|s| {
                format!(
                    "{STANDARD_SCHEME}{}",
                    STANDARD.encode(mac(&standard_key(s), &signed))
                )
            })
            .collect::<Vec<_>>()
            .join(" "),
    ));
    out
}

/// Constant-time check of an `X-Prynt-Signature` (or `-Previous`) value against a secret; for
/// tests and the docs' reference implementation. Surrounding spaces and upper-case hex are
/// accepted; anything that is not 64 hex characters fails.
pub fn verify(header: &str, secret: &str, body: &[u8]) -> bool {
    let expected = mac(secret.as_bytes(), body);
    from_hex(header.trim()).is_some_and(|given| ct_eq(&expected, &given))
}

/// Constant-time check of a Standard Webhooks `webhook-signature` value (space-separated
/// `v1,<base64>` entries) against a secret. Entries of other schemes are skipped, so a header
/// that grows a new scheme still verifies on its `v1` entry.
pub fn verify_standard(
    header: &str,
    secret: &str,
    id: &str,
    timestamp_s: i64,
    body: &[u8],
) -> bool {
    let expected = mac(
        &standard_key(secret),
        &standard_content(id, timestamp_s, body),
    );
    let mut matched = false;
    for entry in header.split(' ') {
        let Some(given) = entry
            .strip_prefix(STANDARD_SCHEME)
            .and_then(|b| STANDARD.decode(b).ok())
        else {
            continue;
        };
        // Every entry is compared, with no early return, so the time taken says nothing about
        // which entry (if any) matched.
        matched |= ct_eq(&expected, &given);
    }
    matched
}

/// A new secret: `whsec_` + 32 random base62 characters (about 190 bits from the OS CSPRNG).
pub fn new_secret() -> String {
    format!("whsec_{}", prynt_core::ids::random_base62(32))
}

/// The HMAC key of the Standard Webhooks signature (see the module comment).
fn standard_key(secret: &str) -> Vec<u8> {
    let rest = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD
        .decode(rest)
        .unwrap_or_else(|_| secret.as_bytes().to_vec())
}

fn standard_content(id: &str, timestamp_s: i64, body: &[u8]) -> Vec<u8> {
    let mut out = format!("{id}.{timestamp_s}.").into_bytes();
    out.extend_from_slice(body);
    out
}

fn mac(key: &[u8], body: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail; the fallback keeps the function
    // total without an unwrap.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return [0; 32];
    };
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// Equality whose running time depends only on the lengths, never on where the bytes differ:
/// a `==` on signatures lets an attacker find a valid one byte by byte from response times.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Lower- or upper-case hex to bytes; `None` for odd lengths or non-hex characters.
pub(crate) fn from_hex(text: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1","timestamp":1700000000}"#;
    const NEW: &str = "whsec_5mV8qJ2xT0LwZbN4rC7yD1eK9gH3fA6s";
    const OLD: &str = "whsec_old";

    #[test]
    fn known_answer_vectors() {
        // Computed independently with Python's hmac module.
        assert_eq!(
            signature("secret", b"data"),
            "1b2c16b75bd2a870c114153ccda5bcfca63314bc722fa160d690de133ccbb9db"
        );
        assert_eq!(
            signature(NEW, BODY),
            "264d29ad09c79144dd5f46ed4cd637aaa1efe13773385102a3e3b2cc0e37b31d"
        );
        // Standard Webhooks: key = base64 decoding of what follows whsec_, content
        // "id.timestamp.body" (computed with Python's hmac and base64 modules).
        let h = delivery_headers(&[NEW], "dlv_1", 1_700_000_000, BODY);
        let get = |k: &str| h.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(
            get("webhook-signature"),
            Some("v1,g4wSGqlUk7rDaY/au4F4KY0qf+aqLlWXMnv0GyXBtXI=")
        );
        assert_eq!(get("webhook-id"), Some("dlv_1"));
        assert_eq!(get("webhook-timestamp"), Some("1700000000"));
        assert_eq!(get("X-Prynt-Signature-Previous"), None);
    }

    #[test]
    fn a_rotation_signs_with_the_new_secret_and_the_previous_one_beside_it() {
        let h = delivery_headers(&[NEW, OLD], "dlv_1", 1_700_000_000, BODY);
        let get = |k: &str| {
            h.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(get("X-Prynt-Signature"), signature(NEW, BODY));
        assert_eq!(get("X-Prynt-Signature-Previous"), signature(OLD, BODY));
        assert!(verify(&get("X-Prynt-Signature"), NEW, BODY));
        assert!(verify(&get("X-Prynt-Signature-Previous"), OLD, BODY));
        assert!(!verify(&get("X-Prynt-Signature"), OLD, BODY));
        let standard = get("webhook-signature");
        assert_eq!(standard.split(' ').count(), 2);
        for secret in [NEW, OLD] {
            assert!(verify_standard(
                &standard,
                secret,
                "dlv_1",
                1_700_000_000,
                BODY
            ));
        }
        assert!(!verify_standard(
            &standard,
            NEW,
            "dlv_2",
            1_700_000_000,
            BODY
        ));
        assert!(!verify_standard(
            &standard,
            NEW,
            "dlv_1",
            1_700_000_001,
            BODY
        ));
    }

    #[test]
    fn tampered_body_or_wrong_secret_fails() {
        let header = signature(NEW, BODY);
        let tampered = br#"{"id":"evt_1","timestamp":1700000001}"#;
        assert!(!verify(&header, NEW, tampered));
        assert!(!verify(&header, "whsec_other", BODY));
        // A re-serialised body (whitespace added) is a different body.
        assert!(!verify(
            &header,
            NEW,
            br#"{"id": "evt_1", "timestamp": 1700000000}"#
        ));
    }

    #[test]
    fn malformed_values_fail() {
        let good = signature(NEW, BODY);
        assert!(!verify("", NEW, BODY));
        assert!(!verify(&format!("v1={good}"), NEW, BODY));
        assert!(!verify(&good[..63], NEW, BODY));
        assert!(!verify(&good[..62], NEW, BODY), "a prefix");
        assert!(!verify("zz", NEW, BODY));
        assert!(verify(&good.to_uppercase(), NEW, BODY));
        assert!(verify(&format!(" {good} "), NEW, BODY));
        let h = delivery_headers(&[NEW], "dlv_1", 1, BODY);
        let standard = &h.iter().find(|(n, _)| *n == "webhook-signature").unwrap().1;
        assert!(verify_standard(
            &format!("v2,abc {standard}"),
            NEW,
            "dlv_1",
            1,
            BODY
        ));
        assert!(!verify_standard("v1,!!!", NEW, "dlv_1", 1, BODY));
        assert!(!verify_standard("", NEW, "dlv_1", 1, BODY));
    }

    #[test]
    fn a_custom_secret_that_is_not_base64_keys_the_standard_signature_with_its_text() {
        let custom = "my own secret!!!";
        assert_eq!(standard_key(custom), custom.as_bytes());
        let h = delivery_headers(&[custom], "dlv_1", 1, BODY);
        let standard = &h.iter().find(|(n, _)| *n == "webhook-signature").unwrap().1;
        assert!(verify_standard(standard, custom, "dlv_1", 1, BODY));
    }

    #[test]
    fn comparison_is_the_constant_time_one() {
        // `verify` decides through `ct_eq` (subtle's ConstantTimeEq), which must agree with `==`
        // on every case, including the ones a hand-rolled loop gets wrong.
        let a = mac(NEW.as_bytes(), BODY);
        let mut last = a;
        last[31] ^= 1;
        let mut first = a;
        first[0] ^= 0x80;
        assert!(ct_eq(&a, &a));
        assert!(!ct_eq(&a, &last));
        assert!(!ct_eq(&a, &first));
        assert!(!ct_eq(&a, &a[..31]), "a prefix is not equal");
        assert!(!ct_eq(&a, &[]));
        assert!(!ct_eq(&[], &a));
        // Flipping the last byte of the signature is caught by verify itself.
        assert!(!verify(&to_hex(&last), NEW, BODY));
    }

    #[test]
    fn new_secrets_have_the_documented_shape_and_differ() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        let rest = a.strip_prefix("whsec_").expect("prefix");
        assert_eq!(rest.len(), 32);
        assert!(rest.bytes().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn hex_round_trip() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(from_hex(&to_hex(&bytes)), Some(bytes));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("0g"), None);
    }
}
