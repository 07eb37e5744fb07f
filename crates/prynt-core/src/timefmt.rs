//! Timestamps as the API shows them: RFC 3339 in UTC with whole seconds (`2026-02-14T11:45:22Z`).

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Milliseconds since the Unix epoch, now.
pub fn now_unix_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// `2026-02-14T11:45:22Z` for a Unix time in seconds.
pub fn rfc3339(unix_seconds: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(unix_seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&fmt).unwrap_or_default()
}

/// `2026-02-14T11:45:22.123Z` for a Unix time in milliseconds, for sub-second ordering.
pub fn rfc3339_ms(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let base = rfc3339(secs);
    format!(
        "{}.{:03}Z",
        base.trim_end_matches('Z'),
        unix_ms.rem_euclid(1000)
    )
}

/// Parses an RFC 3339 timestamp with any offset into Unix milliseconds.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        assert_eq!(rfc3339(1_707_911_122), "2024-02-14T11:45:22Z");
        assert_eq!(rfc3339_ms(1_707_911_122_045), "2024-02-14T11:45:22.045Z");
        assert_eq!(
            parse_rfc3339_ms("2024-02-14T11:45:22Z"),
            Some(1_707_911_122_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-02-14T12:45:22+01:00"),
            Some(1_707_911_122_000)
        );
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
    }
}
