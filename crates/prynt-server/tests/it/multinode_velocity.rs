//! Velocity counts shared through Redis (`--redis-url`): three nodes on one PostgreSQL database
//! and one Redis (a private one, which this test flushes, stops and restarts). One visitor's
//! identifications sent to the nodes in turn, without a pause, each count every earlier one at
//! once (the change feed would lag tens of milliseconds behind); an erasure leaves nothing of
//! the visitor in Redis; a flushed Redis is seeded again from the store; with Redis stopped
//! identify still answers, without velocity, and once it is back the counts are right again.
//!
//! Needs `PRYNT_TEST_DATABASE_URL` and `PRYNT_TEST_REDIS_BIN` (run through `scripts/test`, or
//! `eval "$(scripts/services start)"` first); fails without them. Named `multinode_*` so that
//! it runs once, in the SQLite pass, with the other multi-node tests.

use std::collections::HashSet;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::TestServer;
use crate::multinode::{run, Cluster};

/// How long counts may take to come back after Redis lost them.
const RESEED_WITHIN: Duration = Duration::from_secs(15);

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the multi-node velocity test needs PostgreSQL and redis-server; \
             run it through scripts/test, or `eval \"$(scripts/services start)\"` first"
        )
    })
}

/// A Redis server of this test alone, on a fixed port so that it can be stopped and started.
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

    /// Starts it again, empty (no persistence).
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
        while self.connection().is_none() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        let mut child = self.child.take().expect("running");
        let _ = child.kill();
        let _ = child.wait();
    }

    fn connection(&self) -> Option<redis::Connection> {
        let mut c = redis::Client::open(self.url())
            .ok()?
            .get_connection()
            .ok()?;
        redis::cmd("PING").query::<String>(&mut c).ok()?;
        Some(c)
    }

    /// The velocity keys held, by name.
    fn velocity_keys(&self) -> Vec<String> {
        let mut c = self.connection().expect("redis answers");
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS")
            .arg("prynt:vel:*")
            .query(&mut c)
            .expect("KEYS");
        keys.into_iter()
            .map(|k| String::from_utf8_lossy(&k).into_owned())
            .collect()
    }

    fn flush(&self) {
        let mut c = self.connection().expect("redis answers");
        redis::cmd("FLUSHALL")
            .query::<()>(&mut c)
            .expect("FLUSHALL");
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

/// Three nodes on a fresh database sharing `redis`, trusting loopback's forwarded addresses.
fn cluster(redis: &PrivateRedis) -> Cluster {
    let admin = required_env("PRYNT_TEST_DATABASE_URL");
    let database = format!("prynt_velocity_{}", prynt_core::ids::random_hex(10));
    let (a, n) = (admin.clone(), database.clone());
    let url = run(async move { prynt_store::postgres::admin::create_database(&a, &n).await })
        .expect("create the test database");
    let mut c = Cluster {
        nodes: Vec::new(),
        dirs: Vec::new(),
        url,
        redis: redis.url(),
        admin,
        database,
        webhook_key: prynt_core::ids::random_hex(64),
    };
    // Identifications are many here; no budget may refuse them.
    c.cli(&[
        "workspaces",
        "update",
        "default",
        "--plan",
        "enterprise",
        "--limits",
        "server=100000,mgmt=100000,burst=10000,identify=100000",
    ]);
    let url = redis.url();
    for _ in 0..3 {
        c.start_node_with(&["--redis-url", &url, "--trust-proxy", "127.0.0.1/32"]);
    }
    c
}

/// A counter or gauge of a node's `/metrics`, summed over its labels.
fn metric(s: &TestServer, name: &str) -> f64 {
    let text = crate::harness::client()
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

/// Polls `check` until it holds; panics after `within`.
fn wait_until(what: &str, within: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    started.elapsed()
}

/// One visitor (device `seed`) identified on several nodes, with the IPs of its events so far.
struct Visitor {
    seed: u32,
    id: String,
    ips: HashSet<String>,
}

impl Visitor {
    /// Identifies the visitor on `node` from `ip`; returns the stored event, whose visitor is
    /// asserted.
    fn identify(&mut self, node: &TestServer, ip: &str) -> Value {
        let ev = node.identify_event(self.seed, "mn_velocity", None, ip);
        assert_eq!(
            ev["visitorId"],
            self.id.as_str(),
            "the same visitor everywhere"
        );
        self.ips.insert(ip.to_owned());
        ev
    }

    /// What `distinctIp` must say for the next event: every IP of the earlier ones, all
    /// within five minutes (the next one's own among them if it was used before).
    fn expected(&self) -> usize {
        self.ips.len()
    }
}

/// The first event of a new visitor on node 0, once every node knows it.
fn new_visitor(c: &Cluster, seed: u32, ip: &str) -> Visitor {
    let applied = "prynt_sync_changes_applied_total{kind=\"identified\"}";
    let before: Vec<f64> = c.nodes[1..].iter().map(|n| metric(n, applied)).collect();
    let ev = c.nodes[0].identify_event(seed, "mn_velocity", None, ip);
    assert_eq!(ev["velocity"]["distinctIp"]["24h"], 0);
    for (node, seen) in c.nodes[1..].iter().zip(before) {
        wait_until(
            "the visitor known everywhere",
            Duration::from_secs(5),
            || metric(node, applied) > seen,
        );
    }
    Visitor {
        seed,
        id: ev["visitorId"].as_str().expect("visitorId").to_owned(),
        ips: HashSet::from([ip.to_owned()]),
    }
}

fn distinct_ip(ev: &Value) -> u64 {
    ev["velocity"]["distinctIp"]["5m"]
        .as_u64()
        .expect("distinctIp.5m")
}

#[test]
fn multinode_velocity_counts_are_shared_through_redis() {
    let mut redis = PrivateRedis::start();
    let c = cluster(&redis);
    // Every node checks the environments at start; one seeds each (empty: at once).
    wait_until("the environments seeded", Duration::from_secs(10), || {
        redis
            .velocity_keys()
            .iter()
            .filter(|k| k.ends_with(":seeded"))
            .count()
            >= 2
    });

    // One visitor, nodes 0, 1, 2, 0, … in turn with no pause, a new IP each time: each event
    // counts exactly every earlier one, whichever node made it.
    let mut v = new_visitor(&c, 31, "10.20.0.0");
    let started = Instant::now();
    for i in 1..=30usize {
        let node = &c.nodes[i % 3];
        let ip = format!("10.20.0.{i}");
        let ev = v.identify(node, &ip);
        assert_eq!(
            distinct_ip(&ev),
            i as u64,
            "event {i} on node {}: {}",
            i % 3,
            ev["velocity"]
        );
        assert_eq!(ev["velocity"]["visitorsPerIp"]["5m"], 0, "a new IP");
    }
    println!(
        "multinode velocity: 30 identifications in turn on three nodes, each counting every \
         earlier one, in {:.0} ms",
        started.elapsed().as_secs_f64() * 1e3
    );

    // Erased through node 1: nothing of the visitor is left in Redis (it was the only one).
    let r = c.nodes[1].delete(&format!("/v1/visitors/{}", v.id), &c.nodes[1].secret_key);
    assert_eq!(r.status(), 200);
    let left: Vec<String> = redis
        .velocity_keys()
        .into_iter()
        .filter(|k| !k.ends_with(":seeded") && !k.ends_with(":gen"))
        .collect();
    assert!(left.is_empty(), "keys left after the erasure: {left:?}");

    // Redis loses everything: the counts come back from the store.
    let mut w = new_visitor(&c, 32, "10.30.0.0");
    for i in 1..=3 {
        let ip = format!("10.30.0.{i}");
        let ev = w.identify(&c.nodes[i % 3], &ip);
        assert_eq!(distinct_ip(&ev), i as u64);
    }
    redis.flush();
    let mut polls = 0;
    let took = wait_until("the counts reseeded after FLUSHALL", RESEED_WITHIN, || {
        polls += 1;
        let ip = "10.30.1.1";
        let expected = w.expected() as u64;
        let ev = w.identify(&c.nodes[polls % 3], ip);
        distinct_ip(&ev) == expected
    });
    println!(
        "multinode velocity: counts right again {:.0} ms after FLUSHALL",
        took.as_secs_f64() * 1e3
    );

    // Redis stopped: identify answers, without velocity; the failure is counted.
    redis.stop();
    let failures = "prynt_velocity_redis_failures_total";
    let before = metric(&c.nodes[1], failures);
    for i in 0..3 {
        let ev = w.identify(&c.nodes[1], &format!("10.30.2.{i}"));
        let velocity = &ev["velocity"];
        for count in ["distinctIp", "distinctCountry", "visitorsPerIp"] {
            for window in ["5m", "1h", "24h"] {
                assert_eq!(velocity[count][window], 0, "{count} {window}: {velocity}");
            }
        }
        assert_eq!(velocity["newDeviceForAccount"], false);
        assert!(velocity["travelKmh"].is_null(), "{velocity}");
    }
    assert!(metric(&c.nodes[1], failures) > before);

    // Back, empty: the events made meanwhile are counted again once reseeded.
    redis.restart();
    let mut polls = 0;
    let took = wait_until(
        "the counts reseeded after the restart",
        RESEED_WITHIN,
        || {
            polls += 1;
            let ip = "10.30.3.1";
            let expected = w.expected() as u64;
            let ev = w.identify(&c.nodes[polls % 3], ip);
            distinct_ip(&ev) == expected
        },
    );
    println!(
        "multinode velocity: counts right again {:.0} ms after Redis restarted empty",
        took.as_secs_f64() * 1e3
    );
    assert!(w.ips.len() >= 9);
}
