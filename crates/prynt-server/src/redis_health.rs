//! What a node's Redis-backed parts (shared rate limits, shared velocity counts) remember of
//! their Redis: after a failure Redis is left alone for [`RETRY_AFTER_FAILURE`] (calls fail at
//! once meanwhile, so an outage does not slow every request), a warning is logged at most once
//! per [`WARN_EVERY_MS`], and the first answer after a failure is reported once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// How long Redis is left alone after a failure; also the `Retry-After` of a closed refusal.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);
/// At most one warning per this long while Redis fails.
const WARN_EVERY_MS: u64 = 10_000;

#[derive(Debug, Default)]
pub struct RedisHealth {
    /// Unix ms before which Redis is not asked (after a failure).
    resting_until_ms: AtomicU64,
    last_warned_ms: AtomicU64,
    failing: AtomicBool,
}

impl RedisHealth {
    /// Whether Redis is being left alone after a failure.
    pub fn resting(&self) -> bool {
        now_ms() < self.resting_until_ms.load(Ordering::Relaxed)
    }

    /// Redis answered: `true` when it had been failing (the caller says it is back).
    pub fn answered(&self) -> bool {
        self.failing.swap(false, Ordering::Relaxed)
    }

    /// Redis failed: rests, and says whether this failure is the one to warn about.
    pub fn failed(&self) -> bool {
        let now = now_ms();
        self.resting_until_ms.store(
            now + RETRY_AFTER_FAILURE.as_millis() as u64,
            Ordering::Relaxed,
        );
        self.failing.store(true, Ordering::Relaxed);
        let last = self.last_warned_ms.load(Ordering::Relaxed);
        now.saturating_sub(last) >= WARN_EVERY_MS
            && self
                .last_warned_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Rests until `until_ms` (Unix ms; 0 ends the rest): tests stage an outage with it.
    #[cfg(test)]
    pub fn rest_until(&self, until_ms: u64) {
        self.resting_until_ms.store(until_ms, Ordering::Relaxed);
    }
}

pub fn now_ms() -> u64 {
    prynt_core::timefmt::now_unix_ms().max(0) as u64
}
