//! `prynt-bench scale-out`: identify throughput and latency of one node on SQLite, one node on
//! PostgreSQL and two nodes on one PostgreSQL database, in one run, beside the bare endpoint;
//! then, on the two nodes, how long a rule change made through one node takes to apply on the
//! other, and how long a browser first seen on one node takes to be recognised token-less on the
//! other.
//!
//! The load is `prynt-bench identify`'s: the same load generator, the same 5,000 synthetic
//! browsers (80% of visits with their token), the same discarded warm-up, a closed loop for the
//! maximum rate and an open loop at 70% of it for latency. With two nodes the connections and
//! the paced rate are split evenly between them, as a balancer would, and the second node sends
//! the browsers in another order, so that a browser's visits land on either node.
//!
//! PostgreSQL is a server the caller names (`--database-url`, a role that may create
//! databases): each PostgreSQL configuration gets a fresh database, dropped afterwards. With
//! `--redis-url` the two nodes run once more sharing that Redis (rate limits and velocity
//! counts), as a deployment of several nodes does.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prynt_client::{
    Action, Client, Condition, NewRule, RuleStatus, RuleUpdate, Verdict as RuleVerdict,
};
use serde_json::{json, Value};

use crate::identify::{identify_target, visits};
use crate::load::{self, Stats, Target};
use crate::node::{Database, UNLIMITED};
use crate::server::{self, Server};
use crate::synth::{Device, Rng};
use crate::BenchError;

/// Connections of the paced phases, split between the nodes (as in `prynt-bench identify`).
const PACED_CLIENTS: usize = 256;

/// How long one propagation or recognition sample may take before the run fails.
const GIVE_UP: Duration = Duration::from_secs(5);

/// The event type of the rule-change probes.
const PROBE_TYPE: &str = "scale_out_probe";

/// The counter of another node's identifications a node has applied from the change feed.
const APPLIED_IDENTIFIED: &str = "prynt_sync_changes_applied_total{kind=\"identified\"}";

/// What a run is asked to do.
pub struct Options<'a> {
    pub prynt: &'a Path,
    /// A PostgreSQL server's URL with a role that may create and drop databases.
    pub database_url: Option<&'a str>,
    /// A Redis server for one more two-node configuration sharing it.
    pub redis_url: Option<&'a str>,
    pub seconds: u64,
    pub connections: usize,
    /// Propagation and recognition samples each.
    pub samples: usize,
    pub ip_data: &'a Path,
}

/// The nodes of one configuration, stopped before their database is dropped (field order).
struct Nodes {
    servers: Vec<Server>,
    _database: Option<Database>,
    with_ip_data: bool,
}

/// One node on SQLite in its data dir.
fn sqlite_node(o: &Options) -> Result<Nodes, BenchError> {
    let (server, with_ip_data) = server::start_with(o.prynt, o.ip_data, &[], &[UNLIMITED], &[])?;
    Ok(Nodes {
        servers: vec![server],
        _database: None,
        with_ip_data,
    })
}

/// `count` nodes on one fresh database of the caller's server; every node uses the keys the
/// first one made, and one webhook sealing key, as a deployment of several nodes must.
fn postgres_nodes(
    o: &Options,
    admin: &str,
    count: usize,
    redis: Option<&str>,
) -> Result<Nodes, BenchError> {
    let database = Database::create(admin, "scale_out")?;
    let store = ["--database-url", database.url.as_str()];
    let sealing = prynt_core::ids::random_hex(64);
    let mut extra = vec!["--webhook-secret-key", sealing.as_str()];
    if let Some(url) = redis {
        extra.extend(["--redis-url", url]);
    }
    let mut servers: Vec<Server> = Vec::new();
    let mut with_ip_data = false;
    for i in 0..count {
        let setup: &[&[&str]] = if i == 0 { &[UNLIMITED] } else { &[] };
        let (mut node, ip) = server::start_with(o.prynt, o.ip_data, &store, setup, &extra)?;
        if let Some(first) = servers.first() {
            node.public_key = first.public_key.clone();
            node.secret_key = first.secret_key.clone();
        } else if node.public_key.is_empty() || node.secret_key.is_empty() {
            return Err(BenchError::Runtime(
                "the first node on a fresh database printed no keys".into(),
            ));
        }
        with_ip_data = ip;
        servers.push(node);
    }
    Ok(Nodes {
        servers,
        _database: Some(database),
        with_ip_data,
    })
}

/// One configuration's load figures.
struct Measured {
    name: &'static str,
    nodes: usize,
    max: Stats,
    paced: Stats,
    rate: f64,
    bare: Option<Stats>,
}

/// `total` split into `parts` shares as even as can be.
fn shares(total: usize, parts: usize) -> Vec<usize> {
    (0..parts)
        .map(|i| total / parts + usize::from(i < total % parts))
        .collect()
}

/// Closed-loop load on every target at once, the connections split between them.
async fn closed(targets: &[Target], connections: usize, dur: Duration) -> Stats {
    let tasks: Vec<_> = targets
        .iter()
        .zip(shares(connections, targets.len()))
        .map(|(t, n)| {
            let t = t.clone();
            tokio::spawn(async move { load::closed_loop(&t, n.max(1), dur).await })
        })
        .collect();
    let mut parts = Vec::new();
    for t in tasks {
        parts.push(t.await.unwrap_or_default());
    }
    Stats::combined(parts)
}

/// Open-loop load at `rate` in all, on every target at once, clients and rate split evenly.
async fn paced(targets: &[Target], clients: usize, rate: f64, dur: Duration) -> Stats {
    let n = targets.len() as f64;
    let tasks: Vec<_> = targets
        .iter()
        .zip(shares(clients, targets.len()))
        .map(|(t, c)| {
            let t = t.clone();
            tokio::spawn(async move { load::open_loop(&t, c.max(1), rate / n, dur).await })
        })
        .collect();
    let mut parts = Vec::new();
    for t in tasks {
        parts.push(t.await.unwrap_or_default());
    }
    Stats::combined(parts)
}

/// The identify targets of the nodes: node `i` sends the same browsers from another point of
/// the cycle, so that each browser's visits land on every node, at different times.
fn targets(servers: &[Server], path: &str, bodies: &Arc<Vec<Bytes>>) -> Vec<Target> {
    servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut mine = bodies.as_ref().clone();
            mine.rotate_left(i * bodies.len() / servers.len());
            identify_target(s, path, &Arc::new(mine))
        })
        .collect()
}

/// Warm-up, (the bare endpoint,) maximum rate, then paced at 70% of it.
fn measure(
    rt: &tokio::runtime::Runtime,
    name: &'static str,
    nodes: &Nodes,
    o: &Options,
    with_bare: bool,
) -> Measured {
    let dur = Duration::from_secs(o.seconds);
    let servers = &nodes.servers;
    rt.block_on(async {
        let bodies = visits(&servers[0], o.connections).await;
        let ident = targets(servers, "/v1/identify", &bodies);
        closed(&ident, o.connections, dur).await;
        let bare = if with_bare {
            let t = targets(servers, "/bench/bare", &bodies);
            Some(closed(&t, o.connections, dur).await)
        } else {
            None
        };
        let max = closed(&ident, o.connections, dur).await;
        let rate = max.rps() * 0.7;
        let clients = o.connections.max(PACED_CLIENTS);
        let paced = paced(&ident, clients, rate, dur).await;
        Measured {
            name,
            nodes: servers.len(),
            max,
            paced,
            rate,
            bare,
        }
    })
}

/// Delays in milliseconds: p50, p99 (nearest rank) and the largest.
fn spread(delays: &mut [Duration]) -> (f64, f64, f64) {
    if delays.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    delays.sort();
    let at = |q: f64| {
        let i = ((delays.len() as f64 * q).ceil() as usize).clamp(1, delays.len()) - 1;
        delays[i].as_secs_f64() * 1e3
    };
    (at(0.5), at(0.99), at(1.0))
}

/// The API client of a node: the first node's keys, no retries (a retry would hide its delay
/// in the figures; a failed call is polled again or fails the run).
fn api(node: &Server) -> Result<Client, BenchError> {
    Client::builder(&node.secret_key)
        .public_key(&node.public_key)
        .base_url(format!("http://{}", node.addr))
        .max_retries(0)
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| BenchError::Runtime(format!("cannot build the API client: {e}")))
}

/// The verdict a node gives the probe device now: an identification, then its event.
async fn probe_verdict(api: &Client, probe: &Value) -> Option<RuleVerdict> {
    let id = api.identify(probe).await.ok()?;
    api.get_event(&id.request_id).await.ok()?.verdict
}

/// A counter of a node's `/metrics` (0 when the node has not counted any yet); `None` when the
/// node does not answer.
async fn metric(http: &prynt_client::reqwest::Client, addr: SocketAddr, name: &str) -> Option<f64> {
    let r = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .ok()?;
    let text = r.error_for_status().ok()?.text().await.ok()?;
    Some(
        text.lines()
            .filter_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
            .sum(),
    )
}

/// Propagation and recognition figures.
struct Across {
    rule: Vec<Duration>,
    observation: Vec<Duration>,
    recognition: Vec<Duration>,
    misses: usize,
}

/// A rule changed through `a` (its verdict flipped), polled on `b` with identifications of a
/// probe device until `b` gives the new verdict; then new browsers identified on `a`, and
/// identified token-less on `b` once `b` has applied `a`'s identification from the change feed
/// (asking `b` earlier would make it a visitor of its own, competing with `a`'s).
async fn across(a: &Server, b: &Server, samples: usize) -> Result<Across, BenchError> {
    let fail = |what: &str, e: prynt_client::Error| BenchError::Runtime(format!("{what}: {e}"));
    let (api_a, api_b) = (api(a)?, api(b)?);
    let mut rng = Rng::new(4_242);
    let probe = json!({"type": PROBE_TYPE, "components": Device::random(&mut rng).components()});
    let rule = api_a
        .create_rule(&NewRule {
            name: "scale-out probe".into(),
            conditions: Condition::all([Condition::equals("event.type", PROBE_TYPE)]),
            action: Action::new(RuleVerdict::Allow),
            priority: Some(0),
            status: Some(RuleStatus::Live),
        })
        .await
        .map_err(|e| fail("cannot create the probe rule", e))?;
    let mut out = Across {
        rule: Vec::new(),
        observation: Vec::new(),
        recognition: Vec::new(),
        misses: 0,
    };
    for round in 0..samples {
        let target = if round % 2 == 0 {
            RuleVerdict::Block
        } else {
            RuleVerdict::Allow
        };
        let change = RuleUpdate {
            action: Some(Action::new(target)),
            ..RuleUpdate::default()
        };
        api_a
            .patch_rule(&rule.id, &change)
            .await
            .map_err(|e| fail("cannot change the probe rule", e))?;
        let started = Instant::now();
        loop {
            if probe_verdict(&api_b, &probe).await == Some(target) {
                out.rule.push(started.elapsed());
                break;
            }
            if started.elapsed() > GIVE_UP {
                return Err(BenchError::Runtime(format!(
                    "a rule change made through one node did not apply on the other within {GIVE_UP:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // What one observation costs, on the node that made the change (it applies there at
        // once): a propagation figure includes up to one of these.
        let observed = Instant::now();
        if probe_verdict(&api_a, &probe).await != Some(target) {
            return Err(BenchError::Runtime(
                "the node that changed the rule does not apply it".into(),
            ));
        }
        out.observation.push(observed.elapsed());
    }
    // Let the probes' own identifications reach `b` before counting `a`'s new ones.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let http = prynt_client::reqwest::Client::new();
    for round in 0..samples {
        // A browser like no other: the synthetic population has look-alikes on purpose, which
        // the matcher declines to link without a token on any node (the node that saw it
        // first included), so each sample's canvas and audio are its own, and it is not an
        // iPhone (whose Safari shows every iPhone of a model alike).
        let device = loop {
            let d = Device::random(&mut rng).components();
            if !d.user_agent.as_deref().unwrap_or("").contains("iPhone") {
                break d;
            }
        };
        let mut components =
            serde_json::to_value(device).map_err(|e| BenchError::Runtime(e.to_string()))?;
        components["canvas"]["text"] = json!(format!("scale-out-canvas-{round}"));
        components["audio"]["hash"] = json!(format!("scale-out-audio-{round}"));
        let device = json!({"type": "login", "components": components});
        let before = metric(&http, b.addr, APPLIED_IDENTIFIED)
            .await
            .ok_or_else(|| {
                BenchError::Runtime("the second node's /metrics do not answer".into())
            })?;
        let first = api_a
            .identify(&device)
            .await
            .map_err(|e| fail("cannot identify on the first node", e))?;
        let started = Instant::now();
        while metric(&http, b.addr, APPLIED_IDENTIFIED)
            .await
            .unwrap_or(before)
            <= before
        {
            if started.elapsed() > GIVE_UP {
                return Err(BenchError::Runtime(format!(
                    "an identification made on one node did not reach the other within {GIVE_UP:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let again = api_b
            .identify(&device)
            .await
            .map_err(|e| fail("cannot identify on the second node", e))?;
        out.recognition.push(started.elapsed());
        if again.visitor_id != first.visitor_id {
            eprintln!(
                "not recognised: A {} (found {}, confidence {:.3}), B {} (found {}, confidence {:.3})",
                first.visitor_id,
                first.visitor_found,
                first.confidence,
                again.visitor_id,
                again.visitor_found,
                again.confidence
            );
            out.misses += 1;
        }
    }
    Ok(out)
}

fn ms(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn row(m: &Measured) -> Value {
    json!({
        "nodes": m.nodes,
        "rps": m.max.rps().round(),
        "p50Ms": ms(m.max.percentile_ms(0.5)),
        "p99Ms": ms(m.max.percentile_ms(0.99)),
        "pacedRate": m.rate.round(),
        "pacedRps": m.paced.rps().round(),
        "pacedP50Ms": ms(m.paced.percentile_ms(0.5)),
        "pacedP99Ms": ms(m.paced.percentile_ms(0.99)),
        "errors": m.max.errors + m.paced.errors,
    })
}

fn bare_row(s: &Stats) -> Value {
    json!({
        "rps": s.rps().round(),
        "p50Ms": ms(s.percentile_ms(0.5)),
        "p99Ms": ms(s.percentile_ms(0.99)),
        "errors": s.errors,
    })
}

/// Runs the benchmark.
pub fn run(o: &Options) -> Result<(), BenchError> {
    let admin = match o.database_url {
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => u,
        Some(_) => {
            return Err(BenchError::Usage(
                "--database-url must be a postgres://… URL".into(),
            ))
        }
        None => {
            return Err(BenchError::Usage(
                "scale-out needs --database-url postgres://… (a PostgreSQL server whose role \
                 may create databases; each PostgreSQL configuration gets a fresh one, dropped \
                 afterwards), e.g. the test server's PRYNT_TEST_DATABASE_URL"
                    .into(),
            ))
        }
    };
    if o.seconds == 0 || o.connections < 2 || o.samples == 0 {
        return Err(BenchError::Usage(
            "--seconds and --samples must be at least 1, --connections at least 2".into(),
        ));
    }
    // One client thread, as in `prynt-bench identify`.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| BenchError::Runtime(e.to_string()))?;

    let sqlite = sqlite_node(o)?;
    let with_ip_data = sqlite.with_ip_data;
    let one_sqlite = measure(&rt, "1 node, SQLite", &sqlite, o, true);
    drop(sqlite);
    let pg = postgres_nodes(o, admin, 1, None)?;
    let one_pg = measure(&rt, "1 node, PostgreSQL", &pg, o, false);
    drop(pg);
    let pg2 = postgres_nodes(o, admin, 2, None)?;
    let two_pg = measure(&rt, "2 nodes, PostgreSQL", &pg2, o, true);
    // The nodes apply each other's identifications of the load before the probes start.
    std::thread::sleep(Duration::from_secs(1));
    let cross = rt.block_on(across(&pg2.servers[0], &pg2.servers[1], o.samples));
    drop(pg2);
    let mut cross = cross?;
    let two_redis = match o.redis_url {
        Some(url) => {
            let nodes = postgres_nodes(o, admin, 2, Some(url))?;
            Some(measure(
                &rt,
                "2 nodes, PostgreSQL + Redis",
                &nodes,
                o,
                false,
            ))
        }
        None => None,
    };

    let mut configs = vec![&one_sqlite, &one_pg, &two_pg];
    configs.extend(two_redis.as_ref());
    for m in &configs {
        for (kind, n) in m.max.error_kinds.iter().chain(&m.paced.error_kinds) {
            eprintln!("{}: error x{n}: {kind}", m.name);
        }
    }
    let mut table = format!(
        "scale-out: identify, {} connections, {} s per phase, {} samples; signals {}\n\
         {:<32} {:>10} {:>8} {:>8} | {:>10} {:>8} {:>8} | {:>6}\n",
        o.connections,
        o.seconds,
        o.samples,
        if with_ip_data {
            "with the fetched IP data"
        } else {
            "without IP data (none in --ip-data)"
        },
        "configuration",
        "max req/s",
        "p50 ms",
        "p99 ms",
        "70% req/s",
        "p50 ms",
        "p99 ms",
        "errors",
    );
    let bare_line = |name: &str, s: &Stats| {
        format!(
            "{name:<32} {:>10.0} {:>8.2} {:>8.2} | {:>10} {:>8} {:>8} | {:>6}\n",
            s.rps(),
            s.percentile_ms(0.5),
            s.percentile_ms(0.99),
            "",
            "",
            "",
            s.errors
        )
    };
    if let Some(b) = &one_sqlite.bare {
        table.push_str(&bare_line("bare endpoint, 1 node", b));
    }
    for m in &configs {
        table.push_str(&format!(
            "{:<32} {:>10.0} {:>8.2} {:>8.2} | {:>10.0} {:>8.2} {:>8.2} | {:>6}\n",
            format!("identify, {}", m.name),
            m.max.rps(),
            m.max.percentile_ms(0.5),
            m.max.percentile_ms(0.99),
            m.paced.rps(),
            m.paced.percentile_ms(0.5),
            m.paced.percentile_ms(0.99),
            m.max.errors + m.paced.errors,
        ));
    }
    if let Some(b) = &two_pg.bare {
        table.push_str(&bare_line("bare endpoint, 2 nodes", b));
    }
    let (r50, r99, rmax) = spread(&mut cross.rule);
    let (o50, _, _) = spread(&mut cross.observation);
    let (c50, c99, cmax) = spread(&mut cross.recognition);
    table.push_str(&format!(
        "propagation, a rule change through node A applied on node B: p50 {r50:.1} ms, p99 \
         {r99:.1} ms, max {rmax:.1} ms (each includes up to one observation, an identify and \
         an event read: p50 {o50:.1} ms)\n\
         recognition, a new browser on A identified token-less on B: p50 {c50:.1} ms, p99 \
         {c99:.1} ms, max {cmax:.1} ms, {} of {} not recognised",
        cross.misses, o.samples
    ));
    super::emit(
        &table,
        json!({
            "seconds": o.seconds,
            "connections": o.connections,
            "ipData": with_ip_data,
            "bare": {
                "oneNode": one_sqlite.bare.as_ref().map(bare_row),
                "twoNodes": two_pg.bare.as_ref().map(bare_row),
            },
            "configurations": {
                "sqlite1": row(&one_sqlite),
                "postgres1": row(&one_pg),
                "postgres2": row(&two_pg),
                "postgres2Redis": two_redis.as_ref().map(row),
            },
            "propagation": {
                "samples": cross.rule.len(),
                "p50Ms": ms(r50),
                "p99Ms": ms(r99),
                "maxMs": ms(rmax),
                "observationP50Ms": ms(o50),
            },
            "recognition": {
                "samples": cross.recognition.len(),
                "p50Ms": ms(c50),
                "p99Ms": ms(c99),
                "maxMs": ms(cmax),
                "misses": cross.misses,
            },
        }),
    );
    Ok(())
}
