//! Rate limits shared through Redis (`--redis-url`): a starter key's management budget is one
//! budget across nodes (the next node continues it), the burst is enforced through Redis, the
//! headers and refusals are the same as in memory, and when Redis dies `open` falls back to the
//! node's own budgets while `closed` answers 503 with `Retry-After`, never a 500; when Redis
//! comes back, sharing resumes by itself. Needs the test Redis (PRYNT_TEST_REDIS_URL) and, for
//! the outage, its binary (PRYNT_TEST_REDIS_BIN) to run a private Redis it can kill.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::blocking::Response;
use serde_json::Value;

use crate::harness::{block_on, on_postgres, payload, prynt, DataDir, TestServer};

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the tests through scripts/test, or start the test services \
             with `eval \"$(scripts/services start)\"`"
        )
    })
}

fn header(r: &Response, name: &str) -> u64 {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} header in {:?}", r.headers()))
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A Redis server of this test alone, on a fixed port so that it can be killed and restarted.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl PrivateRedis {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut redis = PrivateRedis {
            port,
            child: None,
            dir: tempfile::tempdir().expect("tempdir"),
        };
        redis.restart();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new(required_env("PRYNT_TEST_REDIS_BIN"))
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while redis_connection(&self.url()).is_none() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        let _ = child.kill();
        let _ = child.wait();
    }

    fn key_count(&self) -> i64 {
        let mut c = redis_connection(&self.url()).expect("redis answers");
        redis::cmd("DBSIZE").query(&mut c).expect("DBSIZE")
    }

    fn has(&self, key: &str) -> bool {
        let mut c = redis_connection(&self.url()).expect("redis answers");
        redis::cmd("EXISTS")
            .arg(key)
            .query::<i64>(&mut c)
            .expect("EXISTS")
            == 1
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn redis_connection(url: &str) -> Option<redis::Connection> {
    let mut c = redis::Client::open(url).ok()?.get_connection().ok()?;
    redis::cmd("PING").query::<String>(&mut c).ok()?;
    Some(c)
}

/// A starter workspace with a secret test key; returns the key and the key's id.
fn starter_key(s: &TestServer, workspace: &str) -> (String, String) {
    let out = s.cli(&["workspaces", "create", workspace, "--plan", "starter"]);
    assert!(out.status.success(), "{out:?}");
    let key = s.create_key("test", "secret", workspace);
    let out = s.cli(&["keys", "list", "--workspace", workspace]);
    assert!(out.status.success(), "{out:?}");
    let listing = String::from_utf8(out.stdout).unwrap();
    let id = listing
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("the key's row")
        .to_owned();
    (key, id)
}

/// Calls `path` until `accepted` calls were answered 200 or one is refused by the window (at
/// most `max` calls), waiting out burst refusals; returns the answers, burst refusals left out.
fn spend(s: &TestServer, key: &str, path: &str, accepted: usize, max: usize) -> Vec<Response> {
    let mut out = Vec::new();
    let mut ok = 0;
    for _ in 0..max {
        let r = s.get(path, key);
        assert_ne!(r.status(), 500, "never a 500");
        let refused = r.status() == 429;
        if burst_refusal(&r) {
            std::thread::sleep(Duration::from_millis(120));
            continue;
        }
        ok += usize::from(r.status() == 200);
        out.push(r);
        if refused || ok == accepted {
            break;
        }
    }
    out
}

/// A starter key's burst: 10 calls a second.
const STARTER_BURST: u64 = 10;

/// Whether `r` was refused by a starter key's burst: its headers then describe the burst,
/// with nothing left of it.
fn burst_refusal(r: &Response) -> bool {
    let burst = r.status() == 429 && header(r, "x-ratelimit-limit") == STARTER_BURST;
    if burst {
        assert_eq!(header(r, "x-ratelimit-remaining"), 0);
    }
    burst
}

fn assert_headers(r: &Response, limit: u64) {
    assert_eq!(header(r, "x-ratelimit-limit"), limit);
    let reset = header(r, "x-ratelimit-reset");
    assert!(
        reset >= now_s().saturating_sub(1) && reset <= now_s() + 61,
        "{reset}"
    );
}

#[test]
fn a_starter_keys_thirty_management_calls_a_minute_are_one_budget_across_nodes() {
    let redis = required_env("PRYNT_TEST_REDIS_URL");
    let tmp = DataDir::new();
    let mut a = TestServer::start_in(tmp.path(), &["--redis-url", &redis]);
    let (key, _) = starter_key(&a, "shared");
    let started = Instant::now();

    // Twenty calls on the first node.
    let on_a = spend(&a, &key, "/v1/rules", 20, 100);
    assert!(on_a.iter().all(|r| r.status() == 200), "20 within budget");
    assert_eq!(on_a.len(), 20);
    for r in &on_a {
        assert_headers(r, 30);
    }
    let left_on_a = header(on_a.last().unwrap(), "x-ratelimit-remaining");
    assert!(left_on_a <= 12, "{left_on_a}");
    a.terminate();

    // The next node on the same store and Redis continues the same budget: its first answer
    // does not start from a fresh 29.
    let b = TestServer::start_in(tmp.path(), &["--redis-url", &redis]);
    let first_on_b = b.get("/v1/rules", &key);
    assert_eq!(first_on_b.status(), 200);
    assert_headers(&first_on_b, 30);
    let remaining = header(&first_on_b, "x-ratelimit-remaining");
    let refilled = (started.elapsed().as_secs_f64() / 2.0).ceil() as u64;
    assert!(
        remaining < left_on_a + refilled,
        "node B continues A's budget: {remaining} left, A left {left_on_a}, {refilled} refilled"
    );
    assert!(remaining < 29, "{remaining}: a fresh budget");

    // Spend the rest on B: thirty calls in all (plus what GCRA refilled meanwhile: one every
    // 2 s), then a 429 with the reference's body.
    let on_b = spend(&b, &key, "/v1/rules", usize::MAX, 200);
    let elapsed = started.elapsed().as_secs_f64();
    let accepted = 20 + 1 + on_b.iter().filter(|r| r.status() == 200).count();
    assert!(accepted >= 30, "{accepted}");
    assert!(
        accepted as f64 <= 30.0 + (elapsed / 2.0).ceil(),
        "{accepted} calls accepted in {elapsed:.1} s across both nodes"
    );
    let last = on_b.into_iter().last().unwrap();
    assert_eq!(last.status(), 429);
    assert_headers(&last, 30);
    assert_eq!(header(&last, "x-ratelimit-remaining"), 0);
    let retry = header(&last, "retry-after");
    assert!((1..=2).contains(&retry), "{retry}");
    let body: Value = last.json().unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(body["error"]["retryAfter"], retry);

    // Waiting as told is enough, and the server API is a separate budget.
    let r = b.get("/v1/events", &key);
    assert_eq!(r.status(), 200);
    assert_headers(&r, 100);
    std::thread::sleep(Duration::from_secs(retry));
    assert_eq!(b.get("/v1/rules", &key).status(), 200);
}

#[test]
fn the_burst_and_identify_are_limited_through_redis_with_keys_that_expire() {
    let redis_url = required_env("PRYNT_TEST_REDIS_URL");
    let tmp = DataDir::new();
    let s = TestServer::start_in(tmp.path(), &["--redis-url", &redis_url]);
    let (key, key_id) = starter_key(&s, "bursty");

    // Eleven calls at once: the burst (10 a second) refuses, with most of the window left.
    let mut codes = Vec::new();
    let mut refusal = None;
    // The window's remaining calls at the last call it took.
    let mut left = 0;
    for _ in 0..15 {
        let r = s.get("/v1/events", &key);
        codes.push(r.status().as_u16());
        if r.status() == 429 {
            refusal = Some(r);
            break;
        }
        assert_headers(&r, 100);
        left = header(&r, "x-ratelimit-remaining");
    }
    let refusal = refusal.unwrap_or_else(|| panic!("no burst refusal: {codes:?}"));
    assert!(left >= 85, "refused by the burst, not the window: {left}");
    // The headers describe the burst that refused.
    assert_headers(&refusal, STARTER_BURST);
    assert_eq!(header(&refusal, "x-ratelimit-remaining"), 0);
    assert_eq!(header(&refusal, "retry-after"), 1);
    let body: Value = refusal.json().unwrap();
    assert_eq!(body["error"]["retryAfter"], 1);
    assert!(
        codes.iter().filter(|c| **c == 200).count() >= 10,
        "{codes:?}"
    );
    // The refusal spent nothing of the window.
    std::thread::sleep(Duration::from_millis(150));
    let r = s.get("/v1/events", &key);
    assert_eq!(r.status(), 200);
    assert!(header(&r, "x-ratelimit-remaining") + 1 >= left);

    // The budget is in Redis, under the key's id, and expires once full again.
    let mut c = redis_connection(&redis_url).expect("the test Redis answers");
    let window = format!("prynt:rl:{{{key_id}}}:server:100/60s");
    let ttl: i64 = redis::cmd("PTTL").arg(&window).query(&mut c).unwrap();
    assert!((1..=60_000).contains(&ttl), "{window}: {ttl}");
    let burst = format!("{window}:burst10");
    let ttl: i64 = redis::cmd("PTTL").arg(&burst).query(&mut c).unwrap();
    assert!(ttl <= 1_000, "{burst}: {ttl}");

    // Identify: per workspace, 3 a second here, whichever key.
    let out = s.cli(&[
        "workspaces",
        "update",
        "bursty",
        "--plan",
        "enterprise",
        "--limits",
        "identify=3",
    ]);
    assert!(out.status.success(), "{out:?}");
    let public = s.create_key("test", "public", "bursty");
    let other_public = s.create_key("live", "public", "bursty");
    std::thread::sleep(Duration::from_millis(1100));
    let mut codes = Vec::new();
    for i in 0..10 {
        let key = if i % 2 == 0 { &public } else { &other_public };
        let r = s.identify(key, &payload(i));
        codes.push(r.status().as_u16());
        assert_eq!(header(&r, "x-ratelimit-limit"), 3);
        if r.status() == 429 {
            assert_eq!(header(&r, "retry-after"), 1);
        }
    }
    assert!(
        codes.iter().filter(|c| **c == 200).count() >= 3,
        "{codes:?}"
    );
    assert!(codes.contains(&429), "{codes:?}");
}

#[test]
fn when_redis_dies_open_falls_back_closed_answers_503_and_sharing_resumes() {
    let mut redis = PrivateRedis::start();
    let open_dir = DataDir::new();
    let closed_dir = DataDir::new();
    let open = TestServer::start_in(
        open_dir.path(),
        &[
            "--redis-url",
            &redis.url(),
            "--redis-limits-failure",
            "open",
        ],
    );
    let closed = TestServer::start_in(
        closed_dir.path(),
        &[
            "--redis-url",
            &redis.url(),
            "--redis-limits-failure",
            "closed",
        ],
    );
    let (open_key, open_key_id) = starter_key(&open, "shop");
    let (closed_key, _) = starter_key(&closed, "shop");
    assert_eq!(open.get("/v1/rules", &open_key).status(), 200);
    assert_eq!(closed.get("/v1/rules", &closed_key).status(), 200);
    assert!(redis.key_count() > 0, "the budgets are in Redis");

    redis.kill();

    // Open: requests go on, bounded by the node's own budget (a burst of 10 a second).
    let mut codes = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        let r = open.get("/v1/events", &open_key);
        assert!(started.elapsed() < Duration::from_secs(1), "no long wait");
        codes.push(r.status().as_u16());
        if r.status() == 200 {
            assert_headers(&r, 100);
        }
        if r.status() == 429 {
            break;
        }
    }
    assert!(
        codes.iter().filter(|c| **c == 200).count() >= 10,
        "{codes:?}"
    );
    assert_eq!(
        codes.last(),
        Some(&429),
        "the fallback still limits: {codes:?}"
    );
    let (res, _) = open.identify_ok(&open.public_key, &payload(1));
    assert!(res["visitorId"].is_string(), "identify goes on");

    // Closed: a 503 with the JSON error body and Retry-After, for every limited route.
    for _ in 0..3 {
        let r = closed.get("/v1/rules", &closed_key);
        assert_eq!(r.status(), 503);
        assert_eq!(header(&r, "retry-after"), 1);
        let body: Value = r.json().unwrap();
        assert_eq!(body["error"]["code"], "service_unavailable");
        assert_eq!(body["error"]["retryAfter"], 1);
        assert_eq!(body["error"]["docs"], "/docs/errors#service_unavailable");
    }
    let r = closed.identify(&closed.public_key, &payload(2));
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(
        closed.get("/healthz", "").status(),
        200,
        "unlimited routes are unaffected"
    );
    let metrics = closed.get("/metrics", "").text().unwrap();
    let failures: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("prynt_rate_limit_redis_failures_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no failure counter in {metrics}"));
    assert!(failures >= 4, "{failures}");

    // Redis comes back (empty): both nodes use it again without a restart.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = closed.get("/v1/rules", &closed_key);
        assert_ne!(r.status(), 500);
        if r.status() == 200 {
            assert_headers(&r, 30);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {} after Redis came back",
            r.status()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The open node's key spends from Redis again: its budget (empty in the new Redis) appears
    // there.
    let window = format!("prynt:rl:{{{open_key_id}}}:mgmt:30/60s");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !redis.has(&window) {
        assert!(
            Instant::now() < deadline,
            "the open node did not go back to Redis"
        );
        assert_ne!(open.get("/v1/rules", &open_key).status(), 500);
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A PostgreSQL database of this test alone, dropped at the end.
struct SharedDatabase {
    admin: String,
    name: String,
    url: String,
}

impl SharedDatabase {
    fn create() -> Self {
        let admin = required_env("PRYNT_TEST_DATABASE_URL");
        let name = format!("prynt_it_limits_{:x}", rand_suffix());
        let url = {
            let (admin, name) = (admin.clone(), name.clone());
            std::thread::spawn(move || {
                block_on(prynt_store::postgres::admin::create_database(&admin, &name))
            })
            .join()
            .expect("database setup thread")
            .expect("create a test database")
        };
        SharedDatabase { admin, name, url }
    }

    /// `serve` and CLI arguments of a data dir on this database. On a PostgreSQL test run the
    /// harness reads the database from the dir's marker file; on SQLite runs it is passed here.
    fn args_for(&self, dir: &std::path::Path) -> Vec<String> {
        std::fs::write(dir.join(".test-database-url"), &self.url).expect("marker");
        if on_postgres() {
            Vec::new()
        } else {
            vec!["--database-url".into(), self.url.clone()]
        }
    }
}

impl Drop for SharedDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            block_on(prynt_store::postgres::admin::drop_database(&admin, &name))
        })
        .join();
    }
}

fn rand_suffix() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    u64::from(nanos) ^ (u64::from(std::process::id()) << 32)
}

#[test]
fn two_nodes_on_one_database_spend_one_starter_budget_at_once() {
    let redis = required_env("PRYNT_TEST_REDIS_URL");
    let database = SharedDatabase::create();
    let (dir_a, dir_b) = (DataDir::new(), DataDir::new());
    let args_a = database.args_for(dir_a.path());
    let args_b = database.args_for(dir_b.path());
    let serve = |dir: &std::path::Path, store: &[String]| {
        let mut extra: Vec<&str> = store.iter().map(String::as_str).collect();
        // Nodes of one database share its sealing key (it seals the token key too).
        let sealing_key = "5e".repeat(32);
        extra.extend([
            "--redis-url",
            redis.as_str(),
            "--no-demo",
            "--webhook-secret-key",
            sealing_key.as_str(),
        ]);
        TestServer::start_in(dir, &extra)
    };
    let a = serve(dir_a.path(), &args_a);
    let b = serve(dir_b.path(), &args_b);
    let cli = |args: &[&str]| {
        let out = prynt()
            .args(args)
            .arg("--data-dir")
            .arg(dir_a.path())
            .args(&args_a)
            .args(crate::harness::store_args(dir_a.path()))
            .output()
            .expect("run prynt");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    cli(&["workspaces", "create", "both", "--plan", "starter"]);
    let key = cli(&[
        "keys",
        "create",
        "--env",
        "test",
        "--type",
        "secret",
        "--workspace",
        "both",
    ])
    .trim()
    .to_owned();

    // The nodes take turns; each answer's Remaining continues the other node's.
    let started = Instant::now();
    let mut accepted = 0;
    let mut last_remaining = None;
    // Answers whose Remaining did not go down from the other node's: only a refill (one every
    // 2 s) explains one when the budget is shared; two separate budgets would stall every other
    // answer.
    let mut stalls = 0;
    let mut refusal = None;
    for i in 0..200 {
        let node = if i % 2 == 0 { &a } else { &b };
        let r = node.get("/v1/rules", &key);
        assert_ne!(r.status(), 500);
        if burst_refusal(&r) {
            // The burst (10 a second, also shared): wait for it.
            std::thread::sleep(Duration::from_millis(120));
            continue;
        }
        assert_eq!(header(&r, "x-ratelimit-limit"), 30);
        let remaining = header(&r, "x-ratelimit-remaining");
        if r.status() == 429 {
            refusal = Some((i % 2, r));
            break;
        }
        assert_eq!(r.status(), 200);
        if last_remaining.is_some_and(|before| remaining >= before) {
            stalls += 1;
        }
        last_remaining = Some(remaining);
        accepted += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (refused_on, refusal) = refusal.expect("a refusal");
    assert!(accepted >= 30, "{accepted}");
    assert!(
        accepted as f64 <= 30.0 + (elapsed / 2.0).ceil(),
        "{accepted} calls accepted in {elapsed:.1} s by two nodes"
    );
    assert!(
        stalls as f64 <= (elapsed / 2.0).ceil(),
        "{stalls} answers did not count down in {elapsed:.1} s"
    );
    let retry = header(&refusal, "retry-after");
    assert!((1..=2).contains(&retry), "{retry}");
    // The other node refuses too: the budget is spent for both.
    let other = if refused_on == 0 { &b } else { &a };
    let r = other.get("/v1/rules", &key);
    assert_eq!(r.status(), 429, "the other node shares the spent budget");
    assert_eq!(header(&r, "x-ratelimit-remaining"), 0);
}
