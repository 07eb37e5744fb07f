//! Rate budgets held in this node's memory: GCRA limiters from `governor`, one per key (or
//! workspace) and budget. Used alone without Redis, and as the fallback when Redis does not
//! answer and the failure mode is `open`.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use parking_lot::Mutex;
use prynt_core::PlanLimits;

use super::{Class, Figures, Refused, Status};

type Limiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

struct Budget {
    limits: PlanLimits,
    figures: Figures,
    window: Limiter,
    burst: Option<Limiter>,
    /// The window's remaining requests after the last check: whether a burst refusal may be
    /// the window's too.
    remaining: AtomicU32,
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN)
}

impl Budget {
    fn new(class: Class, limits: PlanLimits) -> Self {
        let figures = Figures::of(class, limits);
        let quota = if figures.period.as_secs() == 60 {
            Quota::per_minute(nz(figures.limit))
        } else {
            Quota::per_second(nz(figures.limit))
        };
        Budget {
            limits,
            figures,
            window: RateLimiter::direct(quota).with_middleware(),
            burst: figures
                .burst
                .map(|b| RateLimiter::direct(Quota::per_second(nz(b))).with_middleware()),
            remaining: AtomicU32::new(figures.limit),
        }
    }

    fn status(&self, remaining: u32) -> Status {
        // GCRA refills one request every period/limit: the window is full again after the
        // used part has refilled.
        let limit = self.figures.limit;
        let used = limit.saturating_sub(remaining) as f64;
        let refill = self.figures.period.as_secs_f64() * used / f64::from(limit.max(1));
        let now = prynt_core::timefmt::now_unix_ms() as f64 / 1000.0;
        Status {
            limit,
            remaining,
            reset: (now + refill).ceil() as u64,
        }
    }

    /// The headers of a burst refusal: the burst's figure, nothing left, and when it is full
    /// again (the next request's wait, then the rest of the burst refilling at one per 1/b s).
    fn burst_status(burst: u32, wait: Duration) -> Status {
        let refill = f64::from(burst.max(1) - 1) / f64::from(burst.max(1));
        let now = prynt_core::timefmt::now_unix_ms() as f64 / 1000.0;
        Status {
            limit: burst,
            remaining: 0,
            reset: (now + wait.as_secs_f64() + refill).ceil() as u64,
        }
    }

    fn check(&self) -> Result<Status, Refused> {
        // The burst first: a refusal there spends nothing of the window.
        if let (Some(burst), Some(figure)) = (&self.burst, self.figures.burst) {
            if let Err(not_until) = burst.check() {
                let wait = not_until.wait_time_from(burst.clock().now());
                if self.remaining.load(Ordering::Relaxed) == 0 {
                    // The window may be spent too: then the refusal is the window's when its
                    // wait is the longer. (If it has refilled meanwhile, this probe spends that
                    // cell.)
                    match self.window.check() {
                        Ok(snapshot) => self
                            .remaining
                            .store(snapshot.remaining_burst_capacity(), Ordering::Relaxed),
                        Err(w) => {
                            let window_wait = w.wait_time_from(self.window.clock().now());
                            if window_wait >= wait {
                                return Err(Refused {
                                    status: self.status(0),
                                    retry_after: window_wait,
                                });
                            }
                        }
                    }
                }
                // The headers describe the limit that refused: the burst.
                return Err(Refused {
                    status: Self::burst_status(figure, wait),
                    retry_after: wait,
                });
            }
        }
        match self.window.check() {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                self.remaining.store(remaining, Ordering::Relaxed);
                Ok(self.status(remaining))
            }
            Err(not_until) => Err(Refused {
                status: {
                    self.remaining.store(0, Ordering::Relaxed);
                    self.status(0)
                },
                retry_after: not_until.wait_time_from(self.window.clock().now()),
            }),
        }
    }
}

/// Every in-memory budget of this node.
#[derive(Default)]
pub struct LocalLimits {
    budgets: Mutex<HashMap<(String, Class), Arc<Budget>>>,
}

impl LocalLimits {
    /// Spends one request of `owner`'s budget of `class` under `limits`.
    pub fn check(&self, owner: &str, class: Class, limits: PlanLimits) -> Result<Status, Refused> {
        let budget = {
            let mut all = self.budgets.lock();
            let entry = all
                .entry((owner.to_owned(), class))
                .or_insert_with(|| Arc::new(Budget::new(class, limits)));
            if entry.limits != limits {
                // A plan change starts a fresh budget at the new figures.
                *entry = Arc::new(Budget::new(class, limits));
            }
            Arc::clone(entry)
        };
        budget.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prynt_core::Plan;
    use std::time::Duration;

    #[test]
    fn the_window_refuses_past_its_quota_and_keys_are_separate() {
        let limits = PlanLimits {
            burst_per_sec: 1_000,
            ..Plan::Starter.default_limits()
        };
        let l = LocalLimits::default();
        for i in 0..30 {
            let s = l
                .check("key_a", Class::Management, limits)
                .expect("within quota");
            assert_eq!((s.limit, s.remaining), (30, 29 - i));
        }
        let refused = l.check("key_a", Class::Management, limits).unwrap_err();
        assert_eq!(refused.status.remaining, 0);
        assert!(refused.retry_after > Duration::from_millis(1500));
        assert!(refused.retry_after <= Duration::from_secs(2));
        std::thread::sleep(refused.retry_after + Duration::from_millis(20));
        let again = l.check("key_a", Class::Management, limits);
        assert!(again.is_ok(), "after the wait: {again:?}");
        assert!(l.check("key_b", Class::Management, limits).is_ok());
        assert!(l.check("key_a", Class::Server, limits).is_ok());
    }

    #[test]
    fn the_burst_refuses_an_eleventh_request_in_a_second() {
        let limits = Plan::Starter.default_limits();
        let l = LocalLimits::default();
        for _ in 0..10 {
            l.check("k", Class::Server, limits).expect("burst");
        }
        let refused = l.check("k", Class::Server, limits).unwrap_err();
        assert!(refused.retry_after <= Duration::from_millis(100));
        // The headers describe the burst that refused, not the minute's window.
        assert_eq!((refused.status.limit, refused.status.remaining), (10, 0));
        let now = prynt_core::timefmt::now_unix_ms() as u64 / 1000;
        assert!(
            (now..=now + 2).contains(&refused.status.reset),
            "{refused:?}"
        );
        // A refusal by the window names the window.
        let tight = PlanLimits {
            server_per_min: 3,
            ..limits
        };
        for _ in 0..3 {
            l.check("w", Class::Server, tight)
                .expect("within the window");
        }
        let refused = l.check("w", Class::Server, tight).unwrap_err();
        assert_eq!((refused.status.limit, refused.status.remaining), (3, 0));
        assert!(refused.retry_after > Duration::from_secs(10), "{refused:?}");
    }
}
