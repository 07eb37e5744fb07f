//! Rate budgets shared by every node through Redis: the same GCRA as the in-memory limiters,
//! in one Lua script that Redis runs atomically, so a key's budget is one budget however many
//! nodes it calls. The script reads Redis's own clock (nodes with skewed clocks still agree),
//! checks the window and the burst together and spends from both only when both allow. Each
//! budget is one key holding its theoretical arrival time, with a TTL that ends when the budget
//! is full again, so idle keys leave nothing behind.
//!
//! Every call is bounded by [`CALL_TIMEOUT`]; after a failure Redis is left alone for
//! [`RETRY_AFTER_FAILURE`] (checks fail at once meanwhile) and then tried again, so a Redis
//! outage neither slows every request nor needs a restart to recover from.

use std::time::Duration;

use prynt_core::PlanLimits;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, ServerErrorKind};

use super::{Class, Figures, Refused, Status};

/// The longest a request waits for Redis before the failure mode applies.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(100);
use crate::redis_health::RedisHealth;
pub use crate::redis_health::RETRY_AFTER_FAILURE;

/// One GCRA check of a window and, when given, a burst; spends from both only when both allow.
///
/// KEYS[1]: the window's theoretical arrival time (TAT, Unix microseconds of Redis's clock);
/// KEYS[2]: the burst's, if any. ARGV: the window's emission interval and tolerance (interval
/// × (limit − 1)) in microseconds, then the burst's. A budget is spent while TAT − tolerance is
/// in the future; a missing key is a full budget. Returns {allowed (1 or 0), the remaining
/// requests, microseconds to wait (0 when allowed), the TAT (when the budget is full again),
/// which budget (0 the window, 1 the burst)}: of the window when allowed, else of the budget
/// that refused (the one with the longer wait).
const SCRIPT: &str = r#"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

local function tat_of(key)
  local stored = redis.call('GET', key)
  if stored then
    return math.max(tonumber(stored), now)
  end
  return now
end

local w_interval, w_tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local w_tat = tat_of(KEYS[1])
local w_wait = math.max(0, w_tat - w_tolerance - now)
local b_interval, b_tat, b_wait = 0, nil, 0
if #KEYS > 1 then
  b_interval = tonumber(ARGV[3])
  b_tat = tat_of(KEYS[2])
  b_wait = math.max(0, b_tat - tonumber(ARGV[4]) - now)
end

if w_wait > 0 or b_wait > 0 then
  if b_wait > w_wait then
    return {0, 0, b_wait, b_tat, 1}
  end
  return {0, 0, w_wait, w_tat, 0}
end

w_tat = w_tat + w_interval
redis.call('SET', KEYS[1], string.format('%.0f', w_tat), 'PX', math.ceil((w_tat - now) / 1000))
if b_tat then
  b_tat = b_tat + b_interval
  redis.call('SET', KEYS[2], string.format('%.0f', b_tat), 'PX', math.ceil((b_tat - now) / 1000))
end
return {1, math.floor((now + w_tolerance + w_interval - w_tat) / w_interval), 0, w_tat, 0}
"#;

/// Why Redis could not decide.
#[derive(Debug, thiserror::Error)]
pub enum RedisLimitsError {
    #[error("invalid Redis URL: {0}")]
    Url(redis::RedisError),
    #[error("Redis did not answer within {} ms", CALL_TIMEOUT.as_millis())]
    Timeout,
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("unexpected answer from the rate-limit script: {0:?}")]
    Reply(Vec<i64>),
    #[error("Redis failed less than a second ago")]
    Resting,
}

/// Whether `url` is a Redis URL the connection can be made from.
pub fn check_redis_url(url: &str) -> Result<(), RedisLimitsError> {
    redis::Client::open(url)
        .map(|_| ())
        .map_err(RedisLimitsError::Url)
}

/// The budgets in Redis and how Redis has been answering.
pub struct SharedLimits {
    connection: ConnectionManager,
    script: redis::Script,
    health: RedisHealth,
}

impl SharedLimits {
    /// Sets up the connection without making it: a node starts even while Redis is down.
    pub fn connect(url: &str) -> Result<Self, RedisLimitsError> {
        let client = redis::Client::open(url).map_err(RedisLimitsError::Url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(CALL_TIMEOUT))
            // Reconnection runs in the background of the request that found the connection
            // broken; a short series, as the next failure after a rest starts another.
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(RedisLimitsError::Url)?;
        Ok(SharedLimits {
            connection,
            script: redis::Script::new(SCRIPT),
            health: RedisHealth::default(),
        })
    }

    /// One PING, bounded like a check.
    pub async fn ping(&self) -> Result<(), RedisLimitsError> {
        let mut connection = self.connection.clone();
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut connection);
        let outcome = match tokio::time::timeout(Duration::from_secs(1), ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(RedisLimitsError::Timeout),
        };
        self.note(&outcome);
        outcome
    }

    /// Spends one request of `owner`'s budget of `class` in Redis; the outer error says Redis
    /// could not decide.
    pub async fn check(
        &self,
        owner: &str,
        class: Class,
        limits: PlanLimits,
    ) -> Result<Result<Status, Refused>, RedisLimitsError> {
        if self.health.resting() {
            return Err(RedisLimitsError::Resting);
        }
        let figures = Figures::of(class, limits);
        let outcome =
            match tokio::time::timeout(CALL_TIMEOUT, self.run(owner, class, figures)).await {
                Ok(Ok(reply)) => decide(figures, &reply),
                Ok(Err(e)) => Err(e.into()),
                Err(_) => Err(RedisLimitsError::Timeout),
            };
        self.note(&outcome);
        outcome
    }

    async fn run(
        &self,
        owner: &str,
        class: Class,
        figures: Figures,
    ) -> Result<Vec<i64>, redis::RedisError> {
        let (keys, args) = script_input(owner, class, figures);
        let mut connection = self.connection.clone();
        let mut evalsha = redis::cmd("EVALSHA");
        evalsha
            .arg(self.script.get_hash())
            .arg(keys.len())
            .arg(&keys)
            .arg(&args);
        match evalsha.query_async(&mut connection).await {
            // A restarted or flushed Redis has forgotten the script: EVAL sends it again
            // (and caches it for the next EVALSHA).
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                redis::cmd("EVAL")
                    .arg(SCRIPT)
                    .arg(keys.len())
                    .arg(&keys)
                    .arg(&args)
                    .query_async(&mut connection)
                    .await
            }
            other => other,
        }
    }

    /// Rests after a failure and says so (at most once in a while); says when Redis answers
    /// again.
    fn note<T>(&self, outcome: &Result<T, RedisLimitsError>) {
        match outcome {
            Ok(_) => {
                if self.health.answered() {
                    tracing::info!("Redis answers again: rate limits are shared again");
                }
            }
            Err(RedisLimitsError::Resting) => {}
            Err(e) => {
                tracing::debug!(error = %e, "rate-limit check without Redis");
                if self.health.failed() {
                    tracing::warn!(
                        error = %e,
                        "rate limits cannot reach Redis; the failure mode applies until it answers"
                    );
                }
            }
        }
    }
}

/// The keys and arguments of one check. Both keys carry the owner as their hash tag (so they
/// would sit in one slot of a cluster) and the figures (so a plan change starts fresh budgets,
/// as in memory, and the old keys expire).
fn script_input(owner: &str, class: Class, figures: Figures) -> (Vec<String>, Vec<u64>) {
    let class = match class {
        Class::Server => "server",
        Class::Management => "mgmt",
        Class::Identify => "identify",
    };
    let (interval, tolerance) = gcra(figures.period, figures.limit);
    let mut keys = vec![format!(
        "prynt:rl:{{{owner}}}:{class}:{}/{}s",
        figures.limit,
        figures.period.as_secs()
    )];
    let mut args = vec![interval, tolerance];
    if let Some(burst) = figures.burst {
        let (interval, tolerance) = gcra(Duration::from_secs(1), burst);
        keys.push(format!(
            "prynt:rl:{{{owner}}}:{class}:{}/{}s:burst{burst}",
            figures.limit,
            figures.period.as_secs()
        ));
        args.extend([interval, tolerance]);
    }
    (keys, args)
}

/// The emission interval (one request refills every interval) and the tolerance (a full
/// budget can be spent at once) of `limit` requests per `period`, in microseconds.
fn gcra(period: Duration, limit: u32) -> (u64, u64) {
    let limit = u64::from(limit.max(1));
    let interval = (period.as_micros() as u64 / limit).max(1);
    (interval, interval * (limit - 1))
}

/// Reads the script's answer.
fn decide(figures: Figures, reply: &[i64]) -> Result<Result<Status, Refused>, RedisLimitsError> {
    let &[allowed, remaining, wait_us, tat_us, which] = reply else {
        return Err(RedisLimitsError::Reply(reply.to_vec()));
    };
    // The headers describe the budget the answer is about: the burst's when it refused.
    let limit = match (which, figures.burst) {
        (1, Some(burst)) => burst,
        _ => figures.limit,
    };
    let status = Status {
        limit,
        remaining: remaining.clamp(0, i64::from(limit)) as u32,
        // The budget is full again at its TAT, by Redis's clock.
        reset: (tat_us.max(0) as u64).div_ceil(1_000_000),
    };
    Ok(match allowed {
        1 => Ok(status),
        _ => Err(Refused {
            status,
            retry_after: Duration::from_micros(wait_us.max(0) as u64),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redis_health::now_ms;
    use prynt_core::Plan;

    #[test]
    fn the_figures_become_gcra_intervals() {
        assert_eq!(gcra(Duration::from_secs(60), 30), (2_000_000, 58_000_000));
        assert_eq!(gcra(Duration::from_secs(1), 10), (100_000, 900_000));
        assert_eq!(gcra(Duration::from_secs(1), 1), (1_000_000, 0));
        // Past a million a second the interval stays one microsecond.
        assert_eq!(gcra(Duration::from_secs(1), 5_000_000).0, 1);
    }

    #[test]
    fn keys_name_the_owner_budget_and_figures() {
        let limits = Plan::Starter.default_limits();
        let (keys, args) = script_input(
            "key_a",
            Class::Management,
            Figures::of(Class::Management, limits),
        );
        assert_eq!(
            keys,
            [
                "prynt:rl:{key_a}:mgmt:30/60s",
                "prynt:rl:{key_a}:mgmt:30/60s:burst10"
            ]
        );
        assert_eq!(args, [2_000_000, 58_000_000, 100_000, 900_000]);
        let (keys, args) = script_input(
            "ws_a",
            Class::Identify,
            Figures::of(Class::Identify, limits),
        );
        assert_eq!(keys, ["prynt:rl:{ws_a}:identify:100/1s"]);
        assert_eq!(args.len(), 2);
    }

    #[test]
    fn answers_become_statuses_and_refusals() {
        let figures = Figures::of(Class::Management, Plan::Starter.default_limits());
        let ok = decide(figures, &[1, 29, 0, 1_700_000_002_000_001, 0]).unwrap();
        assert_eq!(
            ok,
            Ok(Status {
                limit: 30,
                remaining: 29,
                reset: 1_700_000_003
            })
        );
        let refused = decide(figures, &[0, 0, 1_500_000, 1_700_000_060_000_000, 0])
            .unwrap()
            .unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_millis(1500));
        assert_eq!((refused.status.limit, refused.status.remaining), (30, 0));
        let burst = decide(figures, &[0, 0, 50_000, 1_700_000_000_950_000, 1])
            .unwrap()
            .unwrap_err();
        assert_eq!(
            (
                burst.status.limit,
                burst.status.remaining,
                burst.status.reset
            ),
            (10, 0, 1_700_000_001)
        );
        assert!(decide(figures, &[1, 2]).is_err());
    }

    /// The throwaway Redis of the test run.
    fn redis_url() -> String {
        std::env::var("PRYNT_TEST_REDIS_URL").unwrap_or_else(|_| {
            panic!(
                "PRYNT_TEST_REDIS_URL is not set: run the tests through scripts/test, or start \
                 the test services with `eval \"$(scripts/services start)\"`"
            )
        })
    }

    /// An owner no other test uses.
    fn owner(name: &str) -> String {
        format!("test_{name}_{:x}", rand::random::<u64>())
    }

    async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
        redis::Client::open(url)
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_burst_refusal_spends_nothing_of_the_window() {
        let shared = SharedLimits::connect(&redis_url()).unwrap();
        let limits = Plan::Starter.default_limits();
        let who = owner("burst");
        for i in 0..10 {
            let s = shared
                .check(&who, Class::Management, limits)
                .await
                .unwrap()
                .expect("within the burst");
            assert_eq!((s.limit, s.remaining), (30, 29 - i));
        }
        let refused = shared
            .check(&who, Class::Management, limits)
            .await
            .unwrap()
            .unwrap_err();
        // The headers describe the burst that refused.
        assert_eq!((refused.status.limit, refused.status.remaining), (10, 0));
        assert!(refused.retry_after <= Duration::from_millis(100));
        assert!(refused.retry_after > Duration::ZERO);
        tokio::time::sleep(refused.retry_after + Duration::from_millis(5)).await;
        let s = shared
            .check(&who, Class::Management, limits)
            .await
            .unwrap()
            .expect("the burst has refilled one");
        // The window held 20 (and has refilled nothing yet: one per 2 s).
        assert_eq!(s.remaining, 19, "the refusal spent nothing");
    }

    #[tokio::test]
    async fn a_window_refusal_spends_nothing_of_the_burst_and_keys_expire() {
        let url = redis_url();
        let shared = SharedLimits::connect(&url).unwrap();
        let limits = PlanLimits {
            mgmt_per_min: 3,
            burst_per_sec: 100,
            ..Plan::Starter.default_limits()
        };
        let who = owner("window");
        for _ in 0..3 {
            shared
                .check(&who, Class::Management, limits)
                .await
                .unwrap()
                .expect("within the window");
        }
        let (keys, _) = script_input(
            &who,
            Class::Management,
            Figures::of(Class::Management, limits),
        );
        let mut conn = raw(&url).await;
        let burst_before: String = redis::cmd("GET")
            .arg(&keys[1])
            .query_async(&mut conn)
            .await
            .unwrap();
        let refused = shared
            .check(&who, Class::Management, limits)
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(refused.status.remaining, 0);
        // One call refills every 20 s; three were spent at once.
        assert!(refused.retry_after > Duration::from_secs(19), "{refused:?}");
        assert!(
            refused.retry_after <= Duration::from_secs(20),
            "{refused:?}"
        );
        let burst_after: String = redis::cmd("GET")
            .arg(&keys[1])
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            burst_before, burst_after,
            "the refusal spent nothing of the burst"
        );
        // Each key lives until its budget is full again: 60 s for the window, 30 ms for the
        // burst (three of a hundred a second).
        let window_ttl: i64 = redis::cmd("PTTL")
            .arg(&keys[0])
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!((59_000..=60_000).contains(&window_ttl), "{window_ttl}");
        let burst_ttl: i64 = redis::cmd("PTTL")
            .arg(&keys[1])
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!((-2..=30).contains(&burst_ttl), "{burst_ttl}");
        // The reset is when the window is full again: a minute from now.
        let now_s = now_ms() / 1000;
        assert!(
            (now_s + 58..=now_s + 62).contains(&refused.status.reset),
            "{refused:?}"
        );

        // Another plan starts a fresh budget.
        let raised = PlanLimits {
            mgmt_per_min: 4,
            ..limits
        };
        let s = shared
            .check(&who, Class::Management, raised)
            .await
            .unwrap()
            .expect("a fresh budget");
        assert_eq!((s.limit, s.remaining), (4, 3));
    }

    #[tokio::test]
    async fn a_forgotten_script_is_sent_again() {
        let url = redis_url();
        let shared = SharedLimits::connect(&url).unwrap();
        let limits = Plan::Starter.default_limits();
        let who = owner("noscript");
        shared
            .check(&who, Class::Identify, limits)
            .await
            .unwrap()
            .unwrap();
        let mut conn = raw(&url).await;
        let () = redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut conn)
            .await
            .unwrap();
        let s = shared
            .check(&who, Class::Identify, limits)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((s.limit, s.remaining), (100, 98));
    }

    #[tokio::test]
    async fn a_redis_that_never_answers_costs_a_request_at_most_the_call_timeout() {
        // Accepts connections and holds them open without a word, like a hung server.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                held.push(stream);
            }
        });
        let shared = SharedLimits::connect(&format!("redis://127.0.0.1:{port}")).unwrap();
        let limits = Plan::Starter.default_limits();
        let started = std::time::Instant::now();
        let first = shared.check("k", Class::Identify, limits).await;
        assert!(matches!(first, Err(RedisLimitsError::Timeout)), "{first:?}");
        assert!(started.elapsed() < CALL_TIMEOUT + Duration::from_millis(100));
        // Then it is left alone: the next checks do not wait at all.
        let started = std::time::Instant::now();
        assert!(matches!(
            shared.check("k", Class::Identify, limits).await,
            Err(RedisLimitsError::Resting)
        ));
        assert!(started.elapsed() < Duration::from_millis(5));
    }

    #[tokio::test]
    async fn an_unreachable_redis_fails_fast_and_then_rests() {
        // A port nothing listens on: connections are refused at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let shared = SharedLimits::connect(&format!("redis://127.0.0.1:{port}")).unwrap();
        let limits = Plan::Starter.default_limits();
        let started = std::time::Instant::now();
        let first = shared.check("k", Class::Server, limits).await;
        assert!(first.is_err(), "{first:?}");
        assert!(started.elapsed() <= CALL_TIMEOUT + Duration::from_millis(50));
        assert!(matches!(
            shared.check("k", Class::Server, limits).await,
            Err(RedisLimitsError::Resting)
        ));
    }
}
