//! When a failed delivery is tried again (docs/webhooks.md): a fixed ladder of growing delays with
//! jitter, a receiver's `Retry-After` honoured within bounds, and a hard limit after which the
//! delivery is marked failed (it can still be retried by hand).
//!
//! Jitter spreads the retries of many deliveries that failed together (a receiver's outage) so
//! they do not return as one burst the moment it recovers.

use std::time::Duration;

use rand::Rng;

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// The longest `Retry-After` honoured: a receiver may ask for a pause, not for the delivery to be
/// parked for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(6 * 3600);

/// The retry ladder and the age at which a delivery is given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Delay before the 2nd attempt, the 3rd, and so on; when they run out the delivery fails.
    pub delays: Vec<Duration>,
    /// Measured from the delivery's creation, not from its first attempt.
    pub give_up_after: Duration,
}

impl Default for Schedule {
    /// 10 s, 1 m, 5 m, 30 m, 1 h, 3 h, 6 h, 12 h; given up after 24 h.
    fn default() -> Self {
        Self {
            delays: vec![
                10 * SECOND,
                MINUTE,
                5 * MINUTE,
                30 * MINUTE,
                HOUR,
                3 * HOUR,
                6 * HOUR,
                12 * HOUR,
            ],
            give_up_after: 24 * HOUR,
        }
    }
}

impl Schedule {
    /// Parses "10s,1m,5m" (units ms, s, m, h; spaces around entries allowed); give_up_after
    /// stays 24 h unless [`Schedule::parse_with_limit`] is used.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        Self::parse_with_limit(text, 24 * HOUR)
    }

    /// As [`Schedule::parse`], with the age at which a delivery is given up.
    pub fn parse_with_limit(text: &str, give_up_after: Duration) -> Result<Schedule, String> {
        if give_up_after.is_zero() {
            return Err("the give-up limit must be longer than zero".into());
        }
        let delays = text
            .split(',')
            .map(|entry| parse_delay(entry.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Schedule {
            delays,
            give_up_after,
        })
    }

    /// When to try again after `attempts` failed attempts (1-based count of attempts made) of a
    /// delivery created at `created_ms`, at `now_ms`; `None` means give up: the delivery is past
    /// `give_up_after`, or the delays are exhausted. `attempts == 0` means nothing was tried yet,
    /// so the answer is `now_ms`.
    ///
    /// The delay is `delays[attempts - 1]` with jitter drawn uniformly between 50 % and 100 % of
    /// it. A receiver's `Retry-After` wins when it is longer than that, capped at 6 h. The next
    /// attempt is never later than the give-up time, so a delivery gets one last try there
    /// instead of being dropped on the strength of a long `Retry-After`.
    pub fn next_attempt_ms(
        &self,
        attempts: u32,
        created_ms: i64,
        now_ms: i64,
        retry_after: Option<Duration>,
    ) -> Option<i64> {
        let deadline = created_ms.saturating_add(millis(self.give_up_after));
        if now_ms >= deadline {
            return None;
        }
        let Some(index) = attempts.checked_sub(1) else {
            return Some(now_ms);
        };
        let base = millis(*self.delays.get(usize::try_from(index).ok()?)?);
        let jittered = if base > 0 {
            rand::rng().random_range((base + 1) / 2..=base)
        } else {
            0
        };
        let asked = retry_after.map_or(0, |d| millis(d.min(MAX_RETRY_AFTER)));
        let delay = jittered.max(asked);
        Some(now_ms.saturating_add(delay).min(deadline))
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn parse_delay(entry: &str) -> Result<Duration, String> {
    if entry.is_empty() {
        return Err("empty delay in the retry schedule (expected e.g. \"10s,1m,5m\")".into());
    }
    let split = entry
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("delay {entry:?} has no unit (ms, s, m or h)"))?;
    let (number, unit) = entry.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("delay {entry:?} does not start with a whole number"))?;
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => {
            return Err(format!(
                "delay {entry:?} has unknown unit {unit:?} (ms, s, m or h)"
            ))
        }
    };
    let ms = n
        .checked_mul(unit_ms)
        .ok_or_else(|| format!("delay {entry:?} is too long"))?;
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000_000;
    const S: i64 = 1_000;
    const H: i64 = 3_600_000;

    #[test]
    fn default_ladder() {
        let s = Schedule::default();
        let secs: Vec<u64> = s.delays.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [10, 60, 300, 1800, 3600, 10800, 21600, 43200]);
        assert_eq!(s.give_up_after, Duration::from_secs(86_400));
    }

    #[test]
    fn delays_stay_within_the_jitter_bounds_and_do_vary() {
        let s = Schedule::default();
        for (i, delay) in s.delays.iter().enumerate() {
            let attempts = u32::try_from(i + 1).expect("small");
            let base = millis(*delay);
            let mut seen = std::collections::HashSet::new();
            for _ in 0..200 {
                let now = T0 + 5 * S;
                let next = s.next_attempt_ms(attempts, T0, now, None).expect("retry");
                let wait = next - now;
                assert!(
                    wait >= base / 2 && wait <= base,
                    "attempt {attempts}: waited {wait} ms for a {base} ms delay"
                );
                seen.insert(wait);
            }
            assert!(seen.len() > 1, "attempt {attempts}: no jitter");
        }
    }

    #[test]
    fn retry_after_longer_than_the_delay_is_honoured_and_capped() {
        let s = Schedule::default();
        let now = T0 + 20 * S;
        // First retry is 5–10 s; the receiver asks for 2 minutes.
        assert_eq!(
            s.next_attempt_ms(1, T0, now, Some(Duration::from_secs(120))),
            Some(now + 120 * S)
        );
        // Shorter than the delay: the schedule's own delay stands.
        let next = s
            .next_attempt_ms(2, T0, now, Some(Duration::from_secs(1)))
            .expect("retry");
        assert!((30 * S..=60 * S).contains(&(next - now)), "{}", next - now);
        // Two days asked: six hours given.
        assert_eq!(
            s.next_attempt_ms(1, T0, now, Some(Duration::from_secs(2 * 86_400))),
            Some(now + 6 * H)
        );
        // Three hours left before giving up: the last try is at the give-up time.
        let late = T0 + 21 * H;
        assert_eq!(
            s.next_attempt_ms(1, T0, late, Some(Duration::from_secs(5 * 3600))),
            Some(T0 + 24 * H)
        );
    }

    #[test]
    fn gives_up_after_24_hours_and_after_the_last_delay() {
        let s = Schedule::default();
        assert_eq!(s.next_attempt_ms(3, T0, T0 + 24 * H, None), None);
        assert_eq!(s.next_attempt_ms(3, T0, T0 + 30 * H, None), None);
        assert!(s.next_attempt_ms(3, T0, T0 + 24 * H - 1, None).is_some());
        assert!(s.next_attempt_ms(8, T0, T0 + 2 * H, None).is_some());
        assert_eq!(s.next_attempt_ms(9, T0, T0 + 2 * H, None), None);
        assert_eq!(s.next_attempt_ms(u32::MAX, T0, T0, None), None);
        // The 12 h delay late in the day is cut to the give-up time.
        let next = s.next_attempt_ms(8, T0, T0 + 23 * H, None).expect("retry");
        assert_eq!(next, T0 + 24 * H);
    }

    #[test]
    fn nothing_tried_yet_means_now() {
        let s = Schedule::default();
        assert_eq!(s.next_attempt_ms(0, T0, T0 + S, None), Some(T0 + S));
    }

    #[test]
    fn parse_units_and_limit() {
        let s = Schedule::parse("10s, 1m,5m ,250ms,2h").expect("parses");
        assert_eq!(
            s.delays,
            [
                Duration::from_secs(10),
                Duration::from_secs(60),
                Duration::from_secs(300),
                Duration::from_millis(250),
                Duration::from_secs(7200),
            ]
        );
        assert_eq!(s.give_up_after, Duration::from_secs(86_400));
        let short = Schedule::parse_with_limit("1s,2s", Duration::from_secs(5)).expect("parses");
        assert_eq!(short.give_up_after, Duration::from_secs(5));
        assert_eq!(short.next_attempt_ms(1, T0, T0 + 5 * S, None), None);
    }

    #[test]
    fn parse_errors_name_the_entry() {
        for bad in [
            "",
            "10",
            "10x",
            "s",
            "1.5s",
            "-1s",
            "10s,,1m",
            "1m,",
            "99999999999999999999h",
        ] {
            let err = Schedule::parse(bad).expect_err(bad);
            assert!(!err.is_empty(), "{bad}");
        }
        assert!(Schedule::parse("10x")
            .expect_err("unit")
            .contains("\"10x\""));
        assert!(Schedule::parse_with_limit("1s", Duration::ZERO).is_err());
    }
}
