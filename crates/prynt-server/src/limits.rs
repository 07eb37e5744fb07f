//! Rate limits (docs/api.md, "Rate limits"): per key, a per-minute window for the server API (events,
//! visitors) or the management API (rules, lists, webhooks, analytics, workspace settings)
//! plus a per-second burst; per workspace, a per-second budget for identify. Both are GCRA;
//! the figures come from the workspace's plan (or its custom limits) and are re-read when the
//! plan changes. Budgets live in this node's memory ([`local`]), or in Redis ([`shared`]) so
//! that every node spends from the same budget; when Redis does not answer, the configured
//! [`FailureMode`] decides between this node's budgets and a 503.

mod local;
mod shared;

use std::time::Duration;

use prynt_core::PlanLimits;

pub use shared::{check_redis_url, RedisLimitsError};

/// Which budget a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Server,
    Management,
    Identify,
}

impl Class {
    /// The budget of a route, by its path; `None` for routes without one (the agent, health,
    /// documentation).
    pub fn of_path(path: &str) -> Option<Class> {
        let rest = path.strip_prefix("/v1/")?;
        let first = rest.split('/').next().unwrap_or("");
        match first {
            "events" | "visitors" => Some(Class::Server),
            "rules" | "lists" | "webhooks" | "analytics" | "workspace" => Some(Class::Management),
            "identify" => Some(Class::Identify),
            _ => None,
        }
    }
}

/// What the `X-RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds when the window is full again.
    pub reset: u64,
}

/// A refusal: the headers, and how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub status: Status,
    pub retry_after: Duration,
}

/// The figures of one budget under a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Figures {
    /// Requests per window.
    limit: u32,
    /// The window's length: a minute, or a second for identify.
    period: Duration,
    /// Requests per second on top of the window (none for identify).
    burst: Option<u32>,
}

impl Figures {
    fn of(class: Class, limits: PlanLimits) -> Self {
        let minute = Duration::from_secs(60);
        match class {
            Class::Server => Figures {
                limit: limits.server_per_min,
                period: minute,
                burst: Some(limits.burst_per_sec),
            },
            Class::Management => Figures {
                limit: limits.mgmt_per_min,
                period: minute,
                burst: Some(limits.burst_per_sec),
            },
            Class::Identify => Figures {
                limit: limits.identify_per_sec,
                period: Duration::from_secs(1),
                burst: None,
            },
        }
    }
}

/// What to do when Redis holds the budgets and does not answer in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureMode {
    /// Requests go on, limited by this node's own in-memory budgets until Redis answers again.
    #[default]
    Open,
    /// Requests that spend a budget are refused with 503 until Redis answers again.
    Closed,
}

/// Why a request may not spend its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The budget is spent: a 429.
    Spent(Refused),
    /// Redis does not answer and the failure mode is closed: a 503.
    Unavailable { retry_after: Duration },
}

/// Every budget of this node: in its memory, or shared through Redis with that memory as the
/// fallback.
#[derive(Default)]
pub struct RateLimits {
    local: local::LocalLimits,
    shared: Option<shared::SharedLimits>,
    failure: FailureMode,
    /// Counts the checks that Redis did not answer (`/metrics`).
    redis_failures: Option<prometheus::IntCounter>,
}

impl RateLimits {
    /// Budgets shared through the Redis server at `url` (not contacted yet: the connection is
    /// made by the first check and remade after a failure); `failures` counts the checks Redis
    /// did not answer.
    pub fn with_redis(
        url: &str,
        failure: FailureMode,
        failures: Option<prometheus::IntCounter>,
    ) -> Result<Self, RedisLimitsError> {
        Ok(RateLimits {
            local: Default::default(),
            shared: Some(shared::SharedLimits::connect(url)?),
            failure,
            redis_failures: failures,
        })
    }

    /// Asks Redis once, for the start-up log: `None` without Redis.
    pub async fn probe(&self) -> Option<Result<(), RedisLimitsError>> {
        Some(self.shared.as_ref()?.ping().await)
    }

    /// Spends one request of `owner`'s budget of `class` (a key id, or a workspace id for
    /// identify) under `limits`.
    pub async fn check(
        &self,
        owner: &str,
        class: Class,
        limits: PlanLimits,
    ) -> Result<Status, Refusal> {
        if let Some(shared) = &self.shared {
            match shared.check(owner, class, limits).await {
                Ok(outcome) => return outcome.map_err(Refusal::Spent),
                Err(_) => {
                    if let Some(counter) = &self.redis_failures {
                        counter.inc();
                    }
                    if self.failure == FailureMode::Closed {
                        return Err(Refusal::Unavailable {
                            retry_after: shared::RETRY_AFTER_FAILURE,
                        });
                    }
                    // Open: this node's own budget still bounds the caller.
                }
            }
        }
        self.local
            .check(owner, class, limits)
            .map_err(Refusal::Spent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_fall_in_their_budget() {
        assert_eq!(Class::of_path("/v1/events/req_1_a"), Some(Class::Server));
        assert_eq!(
            Class::of_path("/v1/visitors/pv_x/events"),
            Some(Class::Server)
        );
        assert_eq!(Class::of_path("/v1/rules"), Some(Class::Management));
        assert_eq!(
            Class::of_path("/v1/analytics/events"),
            Some(Class::Management)
        );
        assert_eq!(Class::of_path("/v1/identify"), Some(Class::Identify));
        assert_eq!(Class::of_path("/v1/agent.js"), None);
        assert_eq!(Class::of_path("/healthz"), None);
    }

    fn unreachable_redis() -> String {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        format!("redis://127.0.0.1:{port}")
    }

    #[tokio::test]
    async fn without_redis_open_falls_back_to_this_nodes_budgets_and_closed_refuses() {
        let limits = prynt_core::Plan::Starter.default_limits();
        let open = RateLimits::with_redis(&unreachable_redis(), FailureMode::Open, None).unwrap();
        for i in 0..10 {
            let s = open
                .check("k", Class::Server, limits)
                .await
                .expect("this node's budget");
            assert_eq!(s.remaining, 99 - i);
        }
        assert!(matches!(
            open.check("k", Class::Server, limits).await,
            Err(Refusal::Spent(_))
        ));
        let failures = prometheus::IntCounter::new("f", "f").unwrap();
        let closed = RateLimits::with_redis(
            &unreachable_redis(),
            FailureMode::Closed,
            Some(failures.clone()),
        )
        .unwrap();
        assert_eq!(
            closed.check("k", Class::Server, limits).await,
            Err(Refusal::Unavailable {
                retry_after: Duration::from_secs(1)
            })
        );
        assert_eq!(failures.get(), 1);
    }

    #[test]
    fn an_unusable_url_is_refused() {
        assert!(RateLimits::with_redis("http://localhost", FailureMode::Open, None).is_err());
    }
}
