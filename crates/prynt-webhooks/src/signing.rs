//! Payload signatures (docs/webhooks.md): the `X-Prynt-Signature` header value, its reference check and
//! the format of new endpoint secrets.
//!
//! The header is `v1=<hex HMAC-SHA256(secret, raw body)>`, one entry per live secret joined by
//! commas. During a rotation the new secret comes first, so a receiver that has already switched
//! matches on the first entry, and one that has not yet switched still matches on the old one.
//! The key is the secret's whole text as UTF-8 (`whsec_` prefix included): receivers copy the
//! string they were shown and need no decoding step to get it right.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Version tag of the signature scheme; a future scheme gets a new tag beside this one.
const SCHEME: &str = "v1=";

/// `v1=<hex HMAC-SHA256(secret, body)>`, one per secret, comma-separated (during a rotation the
/// new secret first, then the old). No secrets give an empty string.
pub fn signature_header(secrets: &[&str], body: &[u8]) -> String {
    secrets
        .iter()
        .map(|secret| format!("{SCHEME}{}", to_hex(&mac(secret, body))))
        .collect::<Vec<_>>()
        .join(",")
}

/// Constant-time check of a header against a secret (any of its comma-separated `v1=` entries);
/// for tests and the docs' reference implementation.
///
/// Entries of other schemes, or that are not 64 hex characters, are skipped rather than treated
/// as an error, so a header that grows a new scheme still verifies on its `v1` entry.
pub fn verify(header: &str, secret: &str, body: &[u8]) -> bool {
    let expected = mac(secret, body);
    let mut matched = false;
    for entry in header.split(',') {
        let Some(hex) = entry.trim().strip_prefix(SCHEME) else {
            continue;
        };
        let Some(given) = from_hex(hex) else {
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

fn mac(secret: &str, body: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail; the fallback keeps the function
    // total without an unwrap.
    let Ok(mut mac) = HmacSha256::new_from_slice(secret.as_bytes()) else {
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
            signature_header(&["secret"], b"data"),
            "v1=1b2c16b75bd2a870c114153ccda5bcfca63314bc722fa160d690de133ccbb9db"
        );
        assert_eq!(
            signature_header(&[NEW], BODY),
            "v1=264d29ad09c79144dd5f46ed4cd637aaa1efe13773385102a3e3b2cc0e37b31d"
        );
    }

    #[test]
    fn rotation_header_lists_new_then_old_and_verifies_with_either() {
        let header = signature_header(&[NEW, OLD], BODY);
        assert_eq!(
            header,
            "v1=264d29ad09c79144dd5f46ed4cd637aaa1efe13773385102a3e3b2cc0e37b31d,\
             v1=dc8f763704224f1a36abf5a9085916db641c2eb8783f8903c5d3ae8286a0406d"
        );
        assert!(verify(&header, NEW, BODY));
        assert!(verify(&header, OLD, BODY));
        // Receivers may split on ", " too.
        assert!(verify(&header.replace(',', ", "), OLD, BODY));
    }

    #[test]
    fn tampered_body_or_wrong_secret_fails() {
        let header = signature_header(&[NEW], BODY);
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
    fn malformed_entries_are_skipped_not_trusted() {
        let good = signature_header(&[NEW], BODY);
        let hex = good.trim_start_matches("v1=");
        assert!(!verify("", NEW, BODY));
        assert!(!verify("v1=", NEW, BODY));
        assert!(!verify(hex, NEW, BODY), "an entry without its scheme tag");
        assert!(!verify(&format!("v2={hex}"), NEW, BODY));
        assert!(!verify(&format!("v1={}", &hex[..63]), NEW, BODY));
        assert!(
            !verify(&format!("v1={}", &hex[..62]), NEW, BODY),
            "a prefix"
        );
        assert!(!verify("v1=zz", NEW, BODY));
        assert!(verify(&format!("v2=abc,{good}"), NEW, BODY));
        assert!(verify(
            &good.to_uppercase().replace("V1=", "v1="),
            NEW,
            BODY
        ));
    }

    #[test]
    fn comparison_is_the_constant_time_one() {
        // `verify` decides through `ct_eq` (subtle's ConstantTimeEq), which must agree with `==`
        // on every case, including the ones a hand-rolled loop gets wrong.
        let a = mac(NEW, BODY);
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
        // Flipping the last byte of the header's signature is caught by verify itself.
        let header = format!("v1={}", to_hex(&last));
        assert!(!verify(&header, NEW, BODY));
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
