//! Identifier formats (docs/api.md): `pv_` visitors, `req_` requests, `rul_`/`lst_`/`whk_`
//! resources, `ws_` workspaces and `key_` API keys.

use rand::Rng;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` characters drawn uniformly from the base62 alphabet with the OS-seeded CSPRNG.
pub fn random_base62(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| BASE62[rng.random_range(0..BASE62.len())] as char)
        .collect()
}

/// `n` lowercase hex characters from the CSPRNG.
pub fn random_hex(n: usize) -> String {
    const HEX: &[u8] = b"0123456789abcdef";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| HEX[rng.random_range(0..16)] as char)
        .collect()
}

/// `n` bytes from the CSPRNG, for keys.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut rng = rand::rng();
    (0..n).map(|_| rng.random::<u8>()).collect()
}

/// A prefixed identifier with 12 hex characters, the shape of rule, list, webhook, workspace and
/// key identifiers.
pub fn prefixed_hex_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_hex(12))
}

/// `req_<unix seconds>_<6 hex>`; also used as the `X-Request-Id` of every response.
///
/// Six random hex digits would collide within a second at a few thousand requests per second
/// (birthday bound), so the suffix walks a permutation of the 24-bit space from a random start:
/// one process never repeats a suffix within 16.7 million consecutive ids. Other nodes start
/// elsewhere; the store still refuses a duplicate and the caller retries with a fresh id.
pub fn request_id(unix_seconds: i64) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::OnceLock;
    static START: OnceLock<u32> = OnceLock::new();
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let start = *START.get_or_init(|| rand::rng().random::<u32>());
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    // Multiplying by an odd constant permutes the residues modulo 2^24.
    let suffix = start.wrapping_add(n).wrapping_mul(0x9E_3779) & 0xFF_FFFF;
    format!("req_{unix_seconds}_{suffix:06x}")
}

/// `pv_` followed by 13 base62 characters.
pub fn visitor_id() -> String {
    format!("pv_{}", random_base62(13))
}

fn is_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `s` has the shape of a request id (`req_<digits>_<6 hex>`).
pub fn is_request_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("req_") else {
        return false;
    };
    let Some((secs, suffix)) = rest.split_once('_') else {
        return false;
    };
    !secs.is_empty()
        && secs.len() <= 12
        && secs.bytes().all(|b| b.is_ascii_digit())
        && suffix.len() == 6
        && is_hex(suffix)
}

/// Whether `s` has the shape of a visitor id (`pv_` + 13 base62).
pub fn is_visitor_id(s: &str) -> bool {
    s.strip_prefix("pv_")
        .is_some_and(|r| r.len() == 13 && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Whether `s` is `prefix_` followed by 12 lowercase hex characters.
pub fn is_prefixed_hex_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('_'))
        .is_some_and(|r| r.len() == 12 && is_hex(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_their_documented_shape() {
        for _ in 0..100 {
            assert!(is_visitor_id(&visitor_id()));
            assert!(is_request_id(&request_id(1_707_832_921)));
            assert!(is_prefixed_hex_id(&prefixed_hex_id("rul"), "rul"));
        }
        assert!(is_request_id("req_1707832921_a7f2c9"));
        assert!(is_visitor_id("pv_8kX2mNqR3jT7p"));
    }

    #[test]
    fn request_ids_do_not_repeat_within_a_busy_second() {
        let ids: std::collections::HashSet<String> = (0..200_000).map(|_| request_id(1)).collect();
        assert_eq!(ids.len(), 200_000);
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in [
            "",
            "req_",
            "req_123",
            "req_12_zzzzzz",
            "req_x_a7f2c9",
            "evt_1_a7f2c9",
        ] {
            assert!(!is_request_id(bad), "{bad}");
        }
        for bad in [
            "pv_",
            "pv_short",
            "pv_8kX2mNqR3jT7p1",
            "pv_8kX2mNqR3jT7-",
            "xx_8kX2mNqR3jT7p",
        ] {
            assert!(!is_visitor_id(bad), "{bad}");
        }
        assert!(!is_prefixed_hex_id("rul_9A7F2C4E8B1D", "rul"));
        assert!(!is_prefixed_hex_id("lst_9a7f2c4e8b1d", "rul"));
    }
}
