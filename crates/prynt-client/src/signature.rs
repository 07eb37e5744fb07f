//! Verifying the deliveries a webhook receives.
//!
//! - `X-Prynt-Signature` is the bare lower-case hex HMAC-SHA256 of the raw body under the
//!   webhook's secret; during a secret rotation `X-Prynt-Signature-Previous` carries the same
//!   made with the old secret, so a receiver that has not switched yet (or has switched
//!   already) keeps accepting deliveries. The key is the secret's whole text as UTF-8, `whsec_`
//!   prefix included.
//! - Every delivery also carries the Standard Webhooks headers (`webhook-id`,
//!   `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC of "id.timestamp.body">`), whose
//!   signed timestamp is what replay protection ([`VerifyOptions::tolerance`]) checks.
//!
//! Always verify the raw bytes as received: re-serialised JSON differs in spacing or key order
//! and never matches. Every comparison is constant-time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The signature made with the webhook's current secret.
pub const SIGNATURE_HEADER: &str = "x-prynt-signature";
/// During a rotation, the signature made with the previous secret.
pub const PREVIOUS_SIGNATURE_HEADER: &str = "x-prynt-signature-previous";
/// Standard Webhooks: the delivery's id, the same on every retry.
pub const WEBHOOK_ID_HEADER: &str = "webhook-id";
/// Standard Webhooks: the attempt's Unix time in seconds, covered by the signature.
pub const WEBHOOK_TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// Standard Webhooks: `v1,<base64>` entries, one per live secret, separated by spaces.
pub const WEBHOOK_SIGNATURE_HEADER: &str = "webhook-signature";

/// How [`verify_webhook_signature_with`] judges a delivery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Replay protection: the largest age (or clock skew) of the delivery's
    /// `webhook-timestamp`. When set, only the Standard Webhooks signature counts (it is the
    /// one that signs the timestamp), and it must have been made within this of `now`.
    pub tolerance: Option<Duration>,
    /// The time to judge `tolerance` against; default the system clock.
    pub now: Option<SystemTime>,
}

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

/// The full check: any of `secrets` (the current and, while deploying a rotation, the previous
/// one), through `X-Prynt-Signature`, `X-Prynt-Signature-Previous` or the Standard Webhooks
/// signature; with [`VerifyOptions::tolerance`], through a fresh Standard Webhooks signature
/// only.
pub fn verify_webhook_signature_with(
    raw_body: &[u8],
    headers: &HeaderMap,
    secrets: &[&str],
    options: &VerifyOptions,
) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    // Every candidate is compared, with no early return, so the time taken does not tell which
    // header or secret matched.
    let mut matched = false;
    if options.tolerance.is_none() {
        for secret in &secrets {
            matched |= verify_signature(
                raw_body,
                text(SIGNATURE_HEADER),
                text(PREVIOUS_SIGNATURE_HEADER),
                secret,
            );
        }
    }
    if let (Some(id), Some(timestamp), Some(signatures)) = (
        text(WEBHOOK_ID_HEADER),
        text(WEBHOOK_TIMESTAMP_HEADER),
        text(WEBHOOK_SIGNATURE_HEADER),
    ) {
        let fresh = match (options.tolerance, parse_timestamp(timestamp)) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(tolerance), Some(ts)) => {
                let now = options.now.unwrap_or_else(SystemTime::now);
                let now_s = now
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| i128::from(d.as_secs()));
                (now_s - i128::from(ts)).unsigned_abs() <= u128::from(tolerance.as_secs())
            }
        };
        let mut signed = format!("{}.{}.", id.trim(), timestamp.trim()).into_bytes();
        signed.extend_from_slice(raw_body);
        // Entries are space-separated; a trailing comma comes from a proxy joining headers.
        let given: Vec<Vec<u8>> = signatures
            .split_whitespace()
            .filter_map(|e| e.trim_end_matches(',').strip_prefix("v1,"))
            .filter_map(|b| STANDARD.decode(b).ok())
            .collect();
        for secret in &secrets {
            let Some(mac) = keyed(&standard_key(secret), &signed) else {
                continue;
            };
            for g in &given {
                matched |= mac.clone().verify_slice(g).is_ok() && fresh;
            }
        }
    }
    matched
}

/// The HMAC key of the Standard Webhooks scheme, as the server derives it and that
/// ecosystem's libraries take it: the base64 decoding of what follows `whsec_`, or, for a
/// custom secret that is not base64, its whole UTF-8 text.
fn standard_key(secret: &str) -> Vec<u8> {
    let rest = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD
        .decode(rest)
        .unwrap_or_else(|_| secret.as_bytes().to_vec())
}

fn parse_timestamp(text: &str) -> Option<i64> {
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
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
    keyed(secret.as_bytes(), body)
}

fn keyed(key: &[u8], body: &[u8]) -> Option<HmacSha256> {
    // HMAC takes keys of any length, so this cannot fail; `None` keeps it total without an
    // unwrap.
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
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

    /// Standard Webhooks headers for `body`, signed with each of `secrets`.
    fn standard(secrets: &[&str], id: &str, ts: i64, body: &[u8]) -> HeaderMap {
        let mut signed = format!("{id}.{ts}.").into_bytes();
        signed.extend_from_slice(body);
        let entries: Vec<String> = secrets
            .iter()
            .filter_map(|s| keyed(&standard_key(s), &signed))
            .map(|m| format!("v1,{}", STANDARD.encode(m.finalize().into_bytes())))
            .collect();
        let mut h = HeaderMap::new();
        for (name, v) in [
            (WEBHOOK_ID_HEADER, id.to_owned()),
            (WEBHOOK_TIMESTAMP_HEADER, ts.to_string()),
            (WEBHOOK_SIGNATURE_HEADER, entries.join(" ")),
        ] {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(name, v);
            }
        }
        h
    }

    #[test]
    fn standard_webhooks_signatures_verify_and_tolerance_refuses_replays() {
        let body = br#"{"id":"evt_1","event":"test"}"#;
        // A generated secret decodes as base64; a custom one is keyed with its text.
        for secret in [
            "whsec_5mV8qJ2xT0LwZbN4rC7yD1eK9gH3fA6s",
            "my own secret, 26 chars!",
        ] {
            let sent = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
            let h = standard(&[secret], "dlv_00000000002a", 1_700_000_000, body);
            let plain = VerifyOptions::default();
            assert!(verify_webhook_signature_with(body, &h, &[secret], &plain));
            assert!(!verify_webhook_signature_with(
                body,
                &h,
                &["whsec_other"],
                &plain
            ));
            let within = VerifyOptions {
                tolerance: Some(Duration::from_secs(300)),
                now: Some(sent + Duration::from_secs(299)),
            };
            assert!(verify_webhook_signature_with(body, &h, &[secret], &within));
            let late = VerifyOptions {
                now: Some(sent + Duration::from_secs(301)),
                ..within
            };
            assert!(
                !verify_webhook_signature_with(body, &h, &[secret], &late),
                "a replay"
            );
            let early = VerifyOptions {
                now: Some(sent - Duration::from_secs(301)),
                ..within
            };
            assert!(
                !verify_webhook_signature_with(body, &h, &[secret], &early),
                "skew"
            );
            assert!(!verify_webhook_signature_with(
                b"{}",
                &h,
                &[secret],
                &within
            ));
        }
        // With a tolerance, the Prynt headers alone (which sign no time) are not enough.
        let h = headers(Some(VECTOR), None);
        assert!(verify_webhook_signature_with(
            b"data",
            &h,
            &["secret"],
            &VerifyOptions::default()
        ));
        let strict = VerifyOptions {
            tolerance: Some(Duration::from_secs(300)),
            now: None,
        };
        assert!(!verify_webhook_signature_with(
            b"data",
            &h,
            &["secret"],
            &strict
        ));
        // Either of several secrets, and no secrets at all.
        assert!(verify_webhook_signature_with(
            b"data",
            &h,
            &["old", "secret"],
            &VerifyOptions::default()
        ));
        assert!(!verify_webhook_signature_with(
            b"data",
            &h,
            &[],
            &VerifyOptions::default()
        ));
        assert!(!verify_webhook_signature_with(
            b"data",
            &h,
            &[""],
            &VerifyOptions::default()
        ));
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
