//! Visitor tokens: `v1.<claims>.<mac>`, base64url, HMAC-SHA256 with the server's token key.
//!
//! The agent keeps the token in first-party storage and sends it back; a token is trusted only
//! when its signature is valid, it was issued for the same workspace and environment, it has not
//! expired, and the visit's fingerprint is consistent with the visitor (checked by the caller).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// How long a token stays valid.
pub const TOKEN_TTL_SECS: i64 = 400 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Workspace id.
    pub w: String,
    /// Environment, `test` or `live`.
    pub e: String,
    /// Visitor id.
    pub v: String,
    /// Issued at, Unix seconds.
    pub t: i64,
}

fn mac(key: &[u8], data: &[u8]) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    m.update(data);
    m
}

pub fn sign(key: &[u8], claims: &Claims) -> String {
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signed = format!("v1.{body}");
    let tag = URL_SAFE_NO_PAD.encode(mac(key, signed.as_bytes()).finalize().into_bytes());
    format!("{signed}.{tag}")
}

/// The claims of a well-signed, unexpired token; `None` for anything else.
pub fn verify(key: &[u8], token: &str, now: i64) -> Option<Claims> {
    let (signed, tag) = token.rsplit_once('.')?;
    let body = signed.strip_prefix("v1.")?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    mac(key, signed.as_bytes()).verify_slice(&tag).ok()?;
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()?;
    (claims.t <= now + 300 && now - claims.t <= TOKEN_TTL_SECS).then_some(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            w: "ws_1".into(),
            e: "test".into(),
            v: "pv_0123456789abc".into(),
            t: 1_000_000,
        }
    }

    #[test]
    fn tokens_verify_only_with_their_key_untouched_and_in_time() {
        let t = sign(b"key", &claims());
        assert_eq!(verify(b"key", &t, 1_000_100), Some(claims()));
        assert_eq!(verify(b"other", &t, 1_000_100), None);
        assert_eq!(
            verify(b"key", &t, 1_000_000 + TOKEN_TTL_SECS + 1),
            None,
            "expired"
        );
        let mut forged = t.clone();
        forged.replace_range(5..6, if &t[5..6] == "A" { "B" } else { "A" });
        assert_eq!(verify(b"key", &forged, 1_000_100), None);
        assert_eq!(verify(b"key", "garbage", 0), None);
        assert_eq!(verify(b"key", "v1..", 0), None);
    }
}
