//! Failed authentications per client address (docs/reliability.md): an address may present
//! keys that fail (malformed, unknown, revoked) `per_minute` times a minute, all at once if it
//! likes, refilling evenly (GCRA, like the rate budgets). Past that, a failing key is answered
//! 429 with `Retry-After` instead of 401, while a valid key from the same address goes on
//! working: the limit is on failures, so it slows whoever probes for keys or keeps sending a
//! revoked one, and never the callers whose keys are good.
//!
//! Kept in this node's memory, per node; a bounded table, as addresses are whatever clients
//! send from.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::connections::AddressKey;
use crate::limits::Status;

/// Addresses remembered before the ones whose failures have all refilled are forgotten.
const MAX_ADDRESSES: usize = 100_000;

pub struct AuthFailures {
    per_minute: u32,
    started: Instant,
    /// Each address's theoretical arrival time (µs of `started`): its budget is spent while
    /// it is more than the tolerance ahead of now.
    table: Mutex<HashMap<AddressKey, u64>>,
}

impl AuthFailures {
    /// `per_minute` failures a minute per address; 0 turns the limit off.
    pub fn new(per_minute: u32) -> Self {
        AuthFailures {
            per_minute,
            started: Instant::now(),
            table: Mutex::new(HashMap::new()),
        }
    }

    fn interval_us(&self) -> u64 {
        60_000_000 / u64::from(self.per_minute.max(1))
    }

    /// Counts one failed authentication from `ip`. `Err` when the address had already failed
    /// as often as it may: how long until it may fail again, and the headers' state.
    pub fn failed(&self, ip: IpAddr) -> Result<(), (Duration, Status)> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let now = self.started.elapsed().as_micros() as u64;
        let interval = self.interval_us();
        let tolerance = interval * u64::from(self.per_minute - 1);
        let key = AddressKey::of(ip);
        let mut table = self.table.lock();
        if table.len() >= MAX_ADDRESSES && !table.contains_key(&key) {
            table.retain(|_, tat| *tat > now);
            if table.len() >= MAX_ADDRESSES {
                table.clear();
            }
        }
        let tat = table.get(&key).copied().unwrap_or(now).max(now);
        if tat > now + tolerance {
            // A refusal spends nothing: the wait it names stays true.
            let wait = tat - tolerance - now;
            let full_in = Duration::from_micros(tat - now);
            return Err((Duration::from_micros(wait), self.status(full_in)));
        }
        table.insert(key, tat + interval);
        Ok(())
    }

    /// The headers of a refusal: this limit, nothing left, full again in `full_in`.
    fn status(&self, full_in: Duration) -> Status {
        let now = prynt_core::timefmt::now_unix_ms() as f64 / 1000.0;
        Status {
            limit: self.per_minute,
            remaining: 0,
            reset: (now + full_in.as_secs_f64()).ceil() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_may_fail_its_budget_at_once_then_waits_and_others_are_apart() {
        let limiter = AuthFailures::new(5);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..5 {
            assert!(limiter.failed(a).is_ok());
        }
        let (wait, status) = limiter.failed(a).unwrap_err();
        // One failure refills every 12 s.
        assert!(
            wait > Duration::from_secs(11) && wait <= Duration::from_secs(12),
            "{wait:?}"
        );
        assert_eq!((status.limit, status.remaining), (5, 0));
        // Refused again without spending: the wait only shrinks.
        let (again, _) = limiter.failed(a).unwrap_err();
        assert!(again <= wait);
        assert!(limiter.failed("192.0.2.2".parse().unwrap()).is_ok());
        // An IPv6 client is its /64.
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        for _ in 0..5 {
            assert!(limiter.failed(v6).is_ok());
        }
        assert!(limiter.failed("2001:db8::ffff".parse().unwrap()).is_err());
        // Off.
        let off = AuthFailures::new(0);
        for _ in 0..100 {
            assert!(off.failed(a).is_ok());
        }
    }
}
