//! Several `prynt serve` nodes on one PostgreSQL database (and one Redis), on loopback: what one
//! node writes reaches the caches of the others through the store's change feed. Measured and
//! printed: how long a rule change, a list entry and a new visitor take to apply on the other
//! nodes (p50 and p99, asserted under one second), a revoked key, analytics over every node's
//! events, a node started later, and a node whose notifications were cut off.
//!
//! Needs `PRYNT_TEST_DATABASE_URL` and `PRYNT_TEST_REDIS_URL` (run through `scripts/test`, or
//! `eval "$(scripts/services start)"` first); fails without them.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{client, on_postgres, payload, prynt, TestServer};

/// How long a change may take to apply on another node.
const WITHIN: Duration = Duration::from_secs(1);
/// Changes measured per kind.
const ROUNDS: usize = 20;

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the multi-node test needs a PostgreSQL and a Redis server; run it \
             through scripts/test, or `eval \"$(scripts/services start)\"` first"
        )
    })
}

/// Runs a future on a runtime of its own thread (the test is synchronous).
pub(crate) fn run<T: Send + 'static>(
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f)
    })
    .join()
    .expect("runtime thread")
}

/// Three (later four) nodes on one fresh database, dropped at the end.
pub(crate) struct Cluster {
    pub(crate) nodes: Vec<TestServer>,
    pub(crate) dirs: Vec<tempfile::TempDir>,
    pub(crate) url: String,
    pub(crate) redis: String,
    pub(crate) admin: String,
    pub(crate) database: String,
    /// Every node seals webhook secrets with the same key.
    pub(crate) webhook_key: String,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.kill_hard();
        }
        let (admin, name) = (self.admin.clone(), self.database.clone());
        let _ =
            run(async move { prynt_store::postgres::admin::drop_database(&admin, &name).await });
    }
}

impl Cluster {
    fn new() -> Cluster {
        let admin = required_env("PRYNT_TEST_DATABASE_URL");
        let redis = required_env("PRYNT_TEST_REDIS_URL");
        let database = format!("prynt_multinode_{}", prynt_core::ids::random_hex(10));
        let (a, n) = (admin.clone(), database.clone());
        let url = run(async move { prynt_store::postgres::admin::create_database(&a, &n).await })
            .expect("create the test database");
        Cluster {
            nodes: Vec::new(),
            dirs: Vec::new(),
            url,
            redis,
            admin,
            database,
            webhook_key: prynt_core::ids::random_hex(64),
        }
    }

    /// A data dir naming the cluster's database, so the harness (and `prynt` commands run on
    /// it) use that database whatever `PRYNT_TEST_STORE` says.
    pub(crate) fn new_dir(&mut self) -> std::path::PathBuf {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(".test-database-url"), &self.url).expect("name the db");
        let path = dir.path().to_path_buf();
        self.dirs.push(dir);
        path
    }

    /// `prynt ARGS` on the cluster's database.
    pub(crate) fn cli(&mut self, args: &[&str]) -> String {
        let dir = self.new_dir();
        let out = prynt()
            .args(args)
            .arg("--data-dir")
            .arg(&dir)
            .args(["--database-url", &self.url])
            .output()
            .expect("run prynt");
        assert!(
            out.status.success(),
            "prynt {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8")
    }

    /// Starts a node sharing Redis and trusting loopback's forwarded addresses.
    fn start_node(&mut self) -> usize {
        let redis = self.redis.clone();
        self.start_node_with(&["--redis-url", &redis, "--trust-proxy", "127.0.0.1/32"])
    }

    /// Starts a node with `extra` arguments besides the database and the shared webhook
    /// secret key; every node uses the first node's first-start keys.
    pub(crate) fn start_node_with(&mut self, extra: &[&str]) -> usize {
        let dir = self.new_dir();
        let mut args: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        args.extend(["--webhook-secret-key".to_owned(), self.webhook_key.clone()]);
        // On PostgreSQL runs the harness adds the URL the data dir names itself.
        if !on_postgres() {
            args.extend(["--database-url".to_owned(), self.url.clone()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut node = TestServer::start_in(&dir, &args);
        if let Some(first) = self.nodes.first() {
            node.public_key = first.public_key.clone();
            node.secret_key = first.secret_key.clone();
        }
        assert!(
            !node.secret_key.is_empty(),
            "the first node printed its keys"
        );
        self.nodes.push(node);
        self.nodes.len() - 1
    }
}

fn send(s: &TestServer, method: reqwest::Method, path: &str, body: &Value) -> Value {
    let r = s
        .req(method, path, &s.secret_key)
        .json(body)
        .send()
        .expect("request");
    let status = r.status().as_u16();
    let v: Value = r.json().unwrap_or(Value::Null);
    assert_eq!(status, 200, "{path}: {v}");
    v
}

pub(crate) fn leaf(field: &str, op: &str, value: Value) -> Value {
    json!({"field": field, "operator": op, "value": value})
}

/// The verdict node `s` gives device `seed` with event type `kind` from `ip`.
fn verdict(s: &TestServer, seed: u32, kind: &str, ip: &str) -> Option<String> {
    s.identify_event(seed, kind, None, ip)["verdict"]
        .as_str()
        .map(str::to_owned)
}

/// Polls `check` until it holds and returns how long that took; panics after 5 s.
fn time_until(started: Instant, mut check: impl FnMut() -> bool) -> Duration {
    loop {
        if check() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the change never arrived"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How long `check` took to hold on each node, all polled at once from now.
fn on_each(nodes: &[TestServer], check: impl Fn(&TestServer) -> bool + Sync) -> Vec<Duration> {
    let started = Instant::now();
    std::thread::scope(|scope| {
        let polls: Vec<_> = nodes
            .iter()
            .map(|node| scope.spawn(|| time_until(started, || check(node))))
            .collect();
        polls.into_iter().map(|p| p.join().expect("poll")).collect()
    })
}

/// p50 and p99 of the delays, printed under `what`, with p99 asserted within [`WITHIN`].
fn report(what: &str, delays: &mut [Duration]) {
    delays.sort();
    let at =
        |q: f64| delays[((delays.len() as f64 * q).ceil() as usize).clamp(1, delays.len()) - 1];
    let (p50, p99) = (at(0.50), at(0.99));
    println!(
        "multinode: {what}: n={} p50={:.1} ms p99={:.1} ms max={:.1} ms",
        delays.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        delays[delays.len() - 1].as_secs_f64() * 1e3
    );
    assert!(p99 < WITHIN, "{what}: p99 {p99:?} is not within {WITHIN:?}");
}

/// A counter of a node's `/metrics`, summed over its labels.
fn metric(s: &TestServer, name: &str) -> f64 {
    let text = client()
        .get(s.url("/metrics"))
        .send()
        .expect("metrics")
        .text()
        .expect("text");
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn rule_changes_apply_everywhere(c: &Cluster) {
    let (a, others) = (&c.nodes[0], &c.nodes[1..3]);
    let rule = send(
        a,
        reqwest::Method::POST,
        "/v1/rules",
        &json!({"name": "probe", "status": "live", "priority": 5,
            "conditions": {"operator": "AND", "rules": [leaf("event.type", "equals", json!("mn_probe"))]},
            "action": {"verdict": "allow"}}),
    );
    let path = format!("/v1/rules/{}", rule["id"].as_str().expect("id"));
    let mut delays = Vec::new();
    let mut observing = Vec::new();
    for round in 0..ROUNDS {
        let target = if round.is_multiple_of(2) {
            "block"
        } else {
            "allow"
        };
        send(
            a,
            reqwest::Method::PATCH,
            &path,
            &json!({"action": {"verdict": target}}),
        );
        delays.extend(on_each(others, |node| {
            verdict(node, 7, "mn_probe", "198.51.100.200").as_deref() == Some(target)
        }));
        let observed = Instant::now();
        assert_eq!(
            verdict(a, 7, "mn_probe", "198.51.100.200").as_deref(),
            Some(target),
            "at once on the node that made the change"
        );
        observing.push(observed.elapsed());
    }
    report("rule change applied on another node", &mut delays);
    observing.sort();
    println!(
        "multinode: (one observation, an identify and a read of its event, takes {:.1} ms at p50)",
        observing[observing.len() / 2].as_secs_f64() * 1e3
    );
}

fn list_entries_apply_everywhere(c: &Cluster) {
    let (a, others) = (&c.nodes[0], &c.nodes[1..3]);
    let list = send(
        a,
        reqwest::Method::POST,
        "/v1/lists",
        &json!({"name": "mn_ips", "type": "ip"}),
    );
    let entries = format!("/v1/lists/{}/entries", list["id"].as_str().expect("id"));
    send(
        a,
        reqwest::Method::POST,
        "/v1/rules",
        &json!({"name": "listed", "status": "live", "priority": 1,
            "conditions": {"operator": "AND", "rules": [
                leaf("event.type", "equals", json!("mn_list")),
                leaf("ip.address", "in", json!("mn_ips"))]},
            "action": {"verdict": "block"}}),
    );
    let mut delays = Vec::new();
    for round in 0..ROUNDS {
        let ip = format!("198.51.100.{}", 10 + round);
        send(
            a,
            reqwest::Method::POST,
            &entries,
            &json!({"add": [ip.as_str()]}),
        );
        delays.extend(on_each(others, |node| {
            verdict(node, 8, "mn_list", &ip).as_deref() == Some("block")
        }));
        assert_eq!(verdict(a, 8, "mn_list", &ip).as_deref(), Some("block"));
    }
    report("list entry applied on another node", &mut delays);
}

/// A browser first seen on A is recognised on B without a token. B is asked once, after its
/// metrics say it has applied A's identification, so that a miss would not create a visitor
/// of its own that competes with A's.
fn visitors_are_recognised_everywhere(c: &Cluster) {
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let applied = "prynt_sync_changes_applied_total{kind=\"identified\"}";
    // The earlier checks' identifications may still be on their way to B: each count below
    // must be A's alone, so first wait until B's count stands still.
    let mut last = metric(b, applied);
    let mut still_since = Instant::now();
    while still_since.elapsed() < Duration::from_millis(400) {
        std::thread::sleep(Duration::from_millis(50));
        let now = metric(b, applied);
        if now != last {
            (last, still_since) = (now, Instant::now());
        }
    }
    let mut delays = Vec::new();
    for round in 0..ROUNDS as u32 {
        let device = payload(5_000 + round * 37);
        let before = metric(b, applied);
        let (first, _) = a.identify_ok(&a.public_key, &device);
        let started = Instant::now();
        let delay = time_until(started, || metric(b, applied) > before);
        let (again, _) = b.identify_ok(&b.public_key, &device);
        assert_eq!(
            again["visitorId"], first["visitorId"],
            "recognised on another node, without a token"
        );
        assert_eq!(again["visitorFound"], true);
        delays.push(delay);
    }
    report("visitor known on another node", &mut delays);
}

/// A visitor erased through A is forgotten by B: the same browser is a new visitor there.
fn erased_visitors_are_forgotten_everywhere(c: &Cluster) {
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let device = payload(6_543);
    let identified = "prynt_sync_changes_applied_total{kind=\"identified\"}";
    let seen = metric(b, identified);
    let (first, _) = a.identify_ok(&a.public_key, &device);
    let visitor = first["visitorId"].as_str().expect("visitorId").to_owned();
    // Asked before it has applied A's identification, B would make a visitor of its own.
    time_until(Instant::now(), || metric(b, identified) > seen);
    let (known, _) = b.identify_ok(&b.public_key, &device);
    assert_eq!(known["visitorId"], visitor.as_str());
    let erased = "prynt_sync_changes_applied_total{kind=\"visitor_deleted\"}";
    let before = metric(b, erased);
    let r = a.delete(&format!("/v1/visitors/{visitor}"), &a.secret_key);
    assert_eq!(r.status(), 200);
    let delay = time_until(Instant::now(), || metric(b, erased) > before);
    let (after, _) = b.identify_ok(&b.public_key, &device);
    assert_ne!(
        after["visitorId"],
        visitor.as_str(),
        "B forgot the erased visitor"
    );
    println!(
        "multinode: an erased visitor was forgotten on another node after {:.1} ms",
        delay.as_secs_f64() * 1e3
    );
    assert!(delay < WITHIN);
}

/// A webhook created through A receives B's identifications: B's subscriptions follow.
fn webhooks_reach_every_node(c: &Cluster) {
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let hook = send(
        a,
        reqwest::Method::POST,
        "/v1/webhooks",
        &json!({"url": "https://hooks.example.invalid/prynt", "events": ["identification"]}),
    );
    let hook = hook["id"].as_str().expect("id").to_owned();
    let started = Instant::now();
    let delay = time_until(started, || {
        let (res, _) = b.identify_ok(&b.public_key, &payload(4_321));
        let request = res["requestId"].as_str().expect("requestId").to_owned();
        let (url, hook) = (c.url.clone(), hook.clone());
        let queued = run(async move {
            prynt_store::postgres::admin::query_text(
                &url,
                &format!(
                    "SELECT (SELECT count(*) FROM fanout
                             WHERE request_id = '{request}' AND '{hook}' = ANY(webhook_ids))
                          + (SELECT count(*) FROM deliveries
                             WHERE request_id = '{request}' AND webhook_id = '{hook}')"
                ),
            )
            .await
        })
        .expect("query the outbox");
        queued[0][0].as_deref() == Some("1")
    });
    println!(
        "multinode: a webhook created on A got B's identifications after {:.1} ms",
        delay.as_secs_f64() * 1e3
    );
    assert!(delay < WITHIN);
}

/// Settings changed through A (addresses masked, then not) apply on B.
fn settings_apply_everywhere(c: &Cluster) {
    let (a, others) = (&c.nodes[0], &c.nodes[1..3]);
    let address = |node: &TestServer| {
        node.identify_event(11, "mn_mask", None, "198.51.100.203")["ip"]["address"]
            .as_str()
            .map(str::to_owned)
    };
    let mut delays = Vec::new();
    for mask in [true, false] {
        send(
            a,
            reqwest::Method::PATCH,
            "/v1/workspace",
            &json!({"maskIp": mask}),
        );
        delays.extend(on_each(others, |node| {
            (address(node).as_deref() == Some("198.51.100.203")) != mask
        }));
    }
    report("settings applied on another node", &mut delays);
}

fn analytics_see_every_nodes_events(c: &Cluster) {
    let (a, b, node_c) = (&c.nodes[0], &c.nodes[1], &c.nodes[2]);
    // From a whole second on, after every earlier event of the test.
    std::thread::sleep(Duration::from_millis(1_000));
    let from = (prynt_core::timefmt::now_unix_ms() / 1000 + 1) * 1000;
    std::thread::sleep(Duration::from_millis(
        (from - prynt_core::timefmt::now_unix_ms()).max(0) as u64 + 5,
    ));
    let range = format!(
        "from={}&to={}",
        prynt_core::timefmt::rfc3339(from / 1000),
        prynt_core::timefmt::rfc3339(from / 1000 + 3_600)
    );
    let total = |s: &TestServer| {
        let (status, v) = s.json(
            &format!("/v1/analytics/events?{range}&groupBy=verdict"),
            &s.secret_key,
        );
        assert_eq!(status, 200, "{v}");
        v["total"].as_u64().expect("total")
    };
    // C's event table is loaded now; what follows reaches it through the feed only.
    let start = total(node_c);
    for i in 0..6u32 {
        let node = if i % 2 == 0 { a } else { b };
        let mut body = payload(9_000 + i);
        body["type"] = json!("mn_count");
        node.identify_ok(&node.public_key, &body);
    }
    let started = Instant::now();
    let delay = time_until(started, || total(node_c) == start + 6);
    println!(
        "multinode: analytics on C counted A's and B's 6 events after {:.1} ms",
        delay.as_secs_f64() * 1e3
    );
    assert!(delay < WITHIN);
}

fn revoked_keys_are_refused_everywhere(c: &mut Cluster) {
    let key = c
        .cli(&[
            "keys",
            "create",
            "--env",
            "test",
            "--type",
            "secret",
            "--workspace",
            "default",
        ])
        .trim()
        .to_owned();
    let prefix = prynt_core::keys::display_prefix(&key);
    let listed = c.cli(&["keys", "list"]);
    let id = listed
        .lines()
        .find(|l| l.contains(&prefix))
        .and_then(|l| l.split_whitespace().next())
        .expect("the new key is listed")
        .to_owned();
    let status = |s: &TestServer| s.get("/v1/rules", &key).status().as_u16();
    for node in &c.nodes[..3] {
        assert_eq!(
            status(node),
            200,
            "the key works (and is cached) on every node"
        );
    }
    c.cli(&["keys", "revoke", &id]);
    let started = Instant::now();
    let mut delays = Vec::new();
    for node in &c.nodes[..3] {
        delays.push(time_until(started, || status(node) == 401));
    }
    report("revoked key refused on every node", &mut delays);
}

/// A node's notifications cut off (its LISTEN connection terminated): it still learns every
/// change, from the feed, within the poll interval, and listens again.
fn a_lost_notification_loses_nothing(c: &Cluster) {
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let (url, name) = (c.url.clone(), c.database.clone());
    let cut = run(async move {
        prynt_store::postgres::admin::query_text(
            &url,
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = '{name}' AND query LIKE 'LISTEN%'"
            ),
        )
        .await
    })
    .expect("terminate the listening connections");
    assert!(!cut.is_empty(), "the nodes listen");
    let rule = send(
        a,
        reqwest::Method::POST,
        "/v1/rules",
        &json!({"name": "after the cut", "status": "live", "priority": 0,
            "conditions": {"operator": "AND", "rules": [leaf("event.type", "equals", json!("mn_cut"))]},
            "action": {"verdict": "challenge"}}),
    );
    assert!(rule["id"].is_string());
    let started = Instant::now();
    let delay = time_until(started, || {
        verdict(b, 9, "mn_cut", "198.51.100.201").as_deref() == Some("challenge")
    });
    println!(
        "multinode: a change made while the listening connections were cut arrived after {:.1} ms",
        delay.as_secs_f64() * 1e3
    );
    assert!(delay < WITHIN + Duration::from_secs(1));
}

/// The verdict, or `None` while the node answers something else than 200 (a 503 while its
/// pooled connections to a restarted database are replaced).
pub(crate) fn verdict_if_up(s: &TestServer, seed: u32, kind: &str, ip: &str) -> Option<String> {
    let mut body = payload(seed);
    body["type"] = json!(kind);
    let r = client()
        .post(s.url("/v1/identify"))
        .bearer_auth(&s.public_key)
        .header("x-forwarded-for", ip)
        .json(&body)
        .send()
        .ok()?;
    if r.status() != 200 {
        return None;
    }
    let id = r.json::<Value>().ok()?["requestId"].as_str()?.to_owned();
    let (status, ev) = s.json(&format!("/v1/events/{id}"), &s.secret_key);
    (status == 200).then(|| ev["verdict"].as_str().map(str::to_owned))?
}

/// Every connection of the nodes to the database broken at once (as a database restart does):
/// a change made right after reaches the other nodes once they have connected again, read from
/// their cursors.
fn nodes_whose_connections_break_catch_up(c: &Cluster) {
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let (url, name) = (c.url.clone(), c.database.clone());
    let cut = run(async move {
        prynt_store::postgres::admin::query_text(
            &url,
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            ),
        )
        .await
    })
    .expect("terminate the nodes' connections");
    assert!(
        cut.len() >= 6,
        "every node's pool, lock and LISTEN connections"
    );
    let started = Instant::now();
    // A's first calls may meet a broken pooled connection and answer 503.
    challenge_rule_once_reachable(a, "mn_restart", started);
    let delay = time_until(started, || {
        verdict_if_up(b, 10, "mn_restart", "198.51.100.202").as_deref() == Some("challenge")
    });
    println!(
        "multinode: with every database connection broken, a change reached another node after {:.1} ms",
        delay.as_secs_f64() * 1e3
    );
    assert!(
        delay < Duration::from_secs(3),
        "caught up after reconnecting"
    );
}

/// Makes a live rule through `node` that challenges events of `event_type`, asking again while
/// the node answers a clean 503 (its store still out of reach), for at most 5 s from `started`.
pub(crate) fn challenge_rule_once_reachable(node: &TestServer, event_type: &str, started: Instant) {
    let body = json!({"name": format!("{event_type} after the restart"), "status": "live",
        "priority": 0,
        "conditions": {"operator": "AND", "rules": [leaf("event.type", "equals", json!(event_type))]},
        "action": {"verdict": "challenge"}});
    loop {
        let r = node
            .req(reqwest::Method::POST, "/v1/rules", &node.secret_key)
            .json(&body)
            .send()
            .expect("create a rule");
        if r.status() == 200 {
            return;
        }
        assert_eq!(r.status(), 503, "only a clean 503 may come before the rule");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "rule refused for 5 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A node started after all of the above knows it at once.
fn a_late_node_catches_up(c: &mut Cluster) {
    let a = &c.nodes[0];
    let device = payload(7_777);
    let (first, _) = a.identify_ok(&a.public_key, &device);
    let late = c.start_node();
    let late = &c.nodes[late];
    let (seen, _) = late.identify_ok(&late.public_key, &device);
    assert_eq!(seen["visitorId"], first["visitorId"], "recognised at once");
    assert_eq!(
        verdict(late, 7, "mn_probe", "198.51.100.200").as_deref(),
        Some(if ROUNDS.is_multiple_of(2) {
            "allow"
        } else {
            "block"
        }),
        "the rule as last changed"
    );
    let last_ip = format!("198.51.100.{}", 10 + ROUNDS - 1);
    assert_eq!(
        verdict(late, 8, "mn_list", &last_ip).as_deref(),
        Some("block"),
        "the list with its last entry"
    );
    assert_eq!(
        verdict(late, 9, "mn_cut", "198.51.100.201").as_deref(),
        Some("challenge")
    );
    assert_eq!(
        verdict(late, 10, "mn_restart", "198.51.100.202").as_deref(),
        Some("challenge")
    );
}

#[test]
fn multinode_nodes_on_one_database_share_rules_lists_visitors_events_and_keys() {
    let mut c = Cluster::new();
    // Management calls are many here: the workspace gets limits that never get in the way.
    c.cli(&[
        "workspaces",
        "update",
        "default",
        "--plan",
        "enterprise",
        "--limits",
        "server=100000,mgmt=100000,burst=10000,identify=100000",
    ]);
    for _ in 0..3 {
        c.start_node();
    }
    let lag = metric(&c.nodes[1], "prynt_sync_lag_seconds");
    assert!(lag < 5.0, "a fresh node follows the feed: lag {lag}");

    rule_changes_apply_everywhere(&c);
    list_entries_apply_everywhere(&c);
    visitors_are_recognised_everywhere(&c);
    erased_visitors_are_forgotten_everywhere(&c);
    webhooks_reach_every_node(&c);
    settings_apply_everywhere(&c);
    analytics_see_every_nodes_events(&c);
    revoked_keys_are_refused_everywhere(&mut c);
    a_lost_notification_loses_nothing(&c);
    nodes_whose_connections_break_catch_up(&c);
    a_late_node_catches_up(&mut c);
}
