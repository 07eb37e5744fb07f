//! Verifying the deliveries a webhook receives: `X-Prynt-Signature` is the bare lower-case hex
//! HMAC-SHA256 of the raw body under the webhook's secret; during a secret rotation
//! `X-Prynt-Signature-Previous` carries the same made with the old secret, so a receiver that
//! has not switched yet (or has switched already) keeps accepting deliveries.
//!
//! The key is the secret's whole text as UTF-8, `whsec_` prefix included. Always verify the
//! raw bytes as received: re-serialised JSON differs in spacing or key order and never matches.

use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The signature made with the webhook's current secret.
pub const SIGNATURE_HEADER: &str = "x-prynt-signature";
/// During a rotation, the signature made with the previous secret.
pub const PREVIOUS_SIGNATURE_HEADER: &str = "x-prynt-signature-previous";

/// Whether `secret` signed this delivery, through either signature header; compared in
/// constant time.
///
/// ```
/// use prynt_client::{signature::webhook_signature, verify_webhook_signature};
/// use reqwest::header::{HeaderMap, HeaderValue};
///
/// let body = br#"{"id":"evt_3f9a1c2b7d4e","event":"test","data":{}}"#;
/// let mut headers = HeaderMap::new();
/// let sig = webhook_signature("whsec_example", body);
/// headers.insert("x-prynt-signature", HeaderValue::from_str(&sig).unwrap());
/// assert!(verify_webhook_signature(body, &headers, "whsec_example"));
/// assert!(!verify_webhook_signature(body, &headers, "whsec_other"));
/// ```
pub fn verify_webhook_signature(raw_body: &[u8], headers: &HeaderMap, secret: &str) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    verify_signature(
        raw_body,
        text(SIGNATURE_HEADER),
        text(PREVIOUS_SIGNATURE_HEADER),
        secret,
    )
}

/// The same check from the header values, for frameworks with their own header types.
pub fn verify_signature(
    raw_body: &[u8],
    signature: Option<&str>,
    previous_signature: Option<&str>,
    secret: &str,
) -> bool {
    // An empty key is something anyone can sign with: refuse rather than accept everything
    // that was signed with it.
    if secret.is_empty() {
        return false;
    }
    let mut matched = false;
    // Both headers are checked, with no early return, so the time taken does not say which
    // (if either) matched.
    for value in [signature, previous_signature].into_iter().flatten() {
        matched |= matches(raw_body, value, secret);
    }
    matched
}

/// The `X-Prynt-Signature` value `secret` gives `raw_body`: for receivers' own tests.
pub fn webhook_signature(secret: &str, raw_body: &[u8]) -> String {
    let Some(mac) = mac(secret, raw_body) else {
        return String::new();
    };
    to_hex(&mac.finalize().into_bytes())
}

fn mac(secret: &str, body: &[u8]) -> Option<HmacSha256> {
    // HMAC takes keys of any length, so this cannot fail; `None` keeps it total without an
    // unwrap.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(body);
    Some(mac)
}

fn matches(body: &[u8], value: &str, secret: &str) -> bool {
    let Some(given) = from_hex(value.trim()) else {
        return false;
    };
    // `verify_slice` compares in constant time: a `==` on signatures lets an attacker find a
    // valid one byte by byte from response times.
    mac(secret, body).is_some_and(|m| m.verify_slice(&given).is_ok())
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// 32 bytes from 64 hex digits; anything else is not a signature.
fn from_hex(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        *byte = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    /// HMAC-SHA256 with key `secret` over `data`.
    const VECTOR: &str = "1b2c16b75bd2a870c114153ccda5bcfca63314bc722fa160d690de133ccbb9db";

    fn headers(current: Option<&str>, previous: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, v) in [
            (SIGNATURE_HEADER, current),
            (PREVIOUS_SIGNATURE_HEADER, previous),
        ] {
            if let Some(v) = v.and_then(|v| HeaderValue::from_str(v).ok()) {
                h.insert(name, v);
            }
        }
        h
    }

    #[test]
    fn the_known_vector_signs_and_verifies() {
        assert_eq!(webhook_signature("secret", b"data"), VECTOR);
        assert!(verify_webhook_signature(
            b"data",
            &headers(Some(VECTOR), None),
            "secret"
        ));
        // Hex digits in either case are the same digest.
        assert!(verify_webhook_signature(
            b"data",
            &headers(Some(&VECTOR.to_uppercase()), None),
            "secret"
        ));
    }

    #[test]
    fn during_a_rotation_either_secret_is_accepted() {
        let body = br#"{"event":"test"}"#;
        let (new, old) = ("whsec_new_secret_1234", "whsec_old_secret_1234");
        let h = headers(
            Some(&webhook_signature(new, body)),
            Some(&webhook_signature(old, body)),
        );
        assert!(verify_webhook_signature(body, &h, new));
        assert!(verify_webhook_signature(body, &h, old));
        assert!(!verify_webhook_signature(body, &h, "whsec_someone_else"));
    }

    #[test]
    fn tampering_and_malformed_headers_are_refused() {
        let good = webhook_signature("secret", b"data");
        for h in [headers(Some(&good), None), headers(None, Some(&good))] {
            assert!(
                !verify_webhook_signature(b"data!", &h, "secret"),
                "body changed"
            );
            assert!(verify_webhook_signature(b"data", &h, "secret"));
        }
        let truncated = &good[..62];
        let prefixed = format!("v1={good}");
        let not_hex = format!("{}zz", &good[..62]);
        for bad in ["", truncated, prefixed.as_str(), not_hex.as_str(), "é"] {
            assert!(
                !verify_signature(b"data", Some(bad), None, "secret"),
                "{bad:?}"
            );
        }
        assert!(!verify_webhook_signature(
            b"data",
            &HeaderMap::new(),
            "secret"
        ));
        let empty_key = webhook_signature("", b"data");
        assert!(!verify_signature(b"data", Some(&empty_key), None, ""));
    }
}
