//! Several `prynt serve` nodes on one PostgreSQL database under faults, on loopback: the shared
//! webhook outbox delivers each event exactly once whichever node claims it; a node killed with
//! SIGKILL under load loses no acknowledged identification and no delivery; PostgreSQL stopped
//! and started again under load makes the nodes answer a clean 503 meanwhile (never a 500, never
//! a hang) and recover by themselves. Each test prints what it measured. (Redis going away is
//! `shared_limits.rs`'s.)
//!
//! Needs `PRYNT_TEST_DATABASE_URL`, and for the restart `PRYNT_TEST_PG_BIN` (and
//! `PRYNT_TEST_PG_USER` when running as root): the restart runs on a PostgreSQL server of its
//! own, never on the shared one. Fails without them.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{payload, TestServer};
use crate::multinode::{challenge_rule_once_reachable, run, verdict_if_up, Cluster};

/// Longest a client waits for one answer: longer means the server hangs.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

fn required_env(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!(
            "{name} is not set: the multi-node fault tests need PostgreSQL (and its binaries, to \
             run a private server they may restart); run them through scripts/test, or \
             `eval \"$(scripts/services start)\"` first"
        )
        })
}

fn http() -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .build()
        .expect("client")
}

/// A fresh database on the PostgreSQL server of `admin`, dropped with the cluster.
fn cluster_on(admin: &str) -> Cluster {
    let database = format!("prynt_faults_{}", prynt_core::ids::random_hex(10));
    let (a, n) = (admin.to_owned(), database.clone());
    let url = run(async move { prynt_store::postgres::admin::create_database(&a, &n).await })
        .expect("create the test database");
    let mut c = Cluster {
        nodes: Vec::new(),
        dirs: Vec::new(),
        url,
        redis: String::new(),
        admin: admin.to_owned(),
        database,
        webhook_key: prynt_core::ids::random_hex(64),
    };
    // Identifications are many here; no budget may refuse them (each node counts alone).
    c.cli(&[
        "workspaces",
        "update",
        "default",
        "--plan",
        "enterprise",
        "--limits",
        "server=100000,mgmt=100000,burst=10000,identify=100000",
    ]);
    c
}

/// Starts a node of `c` that may deliver to loopback receivers; every node shares the webhook
/// secret key and uses the first node's first-start keys.
fn start_node(c: &mut Cluster) -> usize {
    c.start_node_with(&["--dev-allow-loopback-webhooks"])
}

/// Rows of a query on the cluster's database, every value as text.
fn query(c: &Cluster, sql: &str) -> Vec<Vec<Option<String>>> {
    let (url, sql) = (c.url.clone(), sql.to_owned());
    run(async move { prynt_store::postgres::admin::query_text(&url, &sql).await })
        .expect("query the test database")
}

/// The request ids of every stored event.
fn stored_events(c: &Cluster) -> HashSet<String> {
    query(c, "SELECT request_id FROM events")
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect()
}

/// Creates a webhook for every identification through node 0, and waits until every node
/// has learnt it: each node's identifications reach the receiver. (An identification made
/// before a node has learnt it has no delivery, rightly; those are not counted.)
fn hook_on_every_node(c: &Cluster, sink: &Sink) {
    let a = &c.nodes[0];
    let r = a
        .req(reqwest::Method::POST, "/v1/webhooks", &a.secret_key)
        .json(&json!({"url": sink.url(), "events": ["identification"]}))
        .send()
        .expect("create the webhook");
    assert_eq!(r.status(), 200, "{:?}", r.text());
    for (i, node) in c.nodes.iter().enumerate() {
        let started = Instant::now();
        'node: loop {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "node {i} never delivered"
            );
            let (res, _) = node.identify_ok(&node.public_key, &payload(900_000 + i as u32));
            let id = res["requestId"].as_str().expect("requestId").to_owned();
            let asked = Instant::now();
            while asked.elapsed() < Duration::from_secs(1) {
                if sink.count(&id) > 0 {
                    break 'node;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A webhook receiver that knows which node sent each delivery.

/// One delivery received: the event it carries and the node whose process opened the
/// connection (`None` if that could not be told).
#[derive(Clone, Debug)]
struct Delivered {
    request_id: String,
    node: Option<usize>,
}

/// A local HTTP receiver answering 200 after `delay` to every delivery. It tells which node
/// sent a delivery by the connection's client socket: found in `/proc/net/tcp` by its port,
/// then among the open files of each node's process.
struct Sink {
    port: u16,
    hits: Arc<Mutex<Vec<Delivered>>>,
    /// The process id of each node, by node number (a restarted node is a new number).
    pids: Arc<Mutex<Vec<u32>>>,
}

impl Sink {
    fn start(delay: Duration) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let pids = Arc::new(Mutex::new(Vec::<u32>::new()));
        let (h, p) = (Arc::clone(&hits), Arc::clone(&pids));
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let (h, p) = (Arc::clone(&h), Arc::clone(&p));
                std::thread::spawn(move || {
                    let peer = stream.peer_addr().map(|a| a.port()).unwrap_or(0);
                    let _ = answer(stream, delay, |body| {
                        let request_id = serde_json::from_slice::<Value>(body)
                            .ok()
                            .and_then(|v| v["data"]["requestId"].as_str().map(str::to_owned))
                            .unwrap_or_default();
                        let pids = p.lock().expect("pids").clone();
                        let node = sender(peer, port, &pids);
                        h.lock().expect("hits").push(Delivered { request_id, node });
                    });
                });
            }
        });
        Sink { port, hits, pids }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Tells the receiver the process of node `node`.
    fn node_pid(&self, node: usize, pid: u32) {
        let mut pids = self.pids.lock().expect("pids");
        if pids.len() <= node {
            pids.resize(node + 1, 0);
        }
        pids[node] = pid;
    }

    fn hits(&self) -> Vec<Delivered> {
        self.hits.lock().expect("hits").clone()
    }

    fn count(&self, request_id: &str) -> usize {
        self.hits
            .lock()
            .expect("hits")
            .iter()
            .filter(|h| h.request_id == request_id)
            .count()
    }

    /// Deliveries received per event.
    fn per_event(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for h in self.hits() {
            *out.entry(h.request_id).or_insert(0) += 1;
        }
        out
    }

    /// Waits until every one of `ids` was delivered, or `limit` passed; the ids still missing.
    fn wait_for(&self, ids: &HashSet<String>, limit: Duration) -> Vec<String> {
        let started = Instant::now();
        loop {
            let got = self.per_event();
            let missing: Vec<String> = ids
                .iter()
                .filter(|id| !got.contains_key(*id))
                .cloned()
                .collect();
            if missing.is_empty() || started.elapsed() >= limit {
                return missing;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Reads one request, records its body, waits `delay` and answers 200.
fn answer(
    stream: std::net::TcpStream,
    delay: Duration,
    record: impl FnOnce(&[u8]),
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut len = 0usize;
    reader.read_line(&mut line)?;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    // Recorded while the sender still holds its socket open, waiting for the answer.
    record(&body);
    std::thread::sleep(delay);
    let stream = reader.get_mut();
    stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")?;
    stream.flush()
}

/// The node whose process holds the client end of the loopback connection from `peer` to
/// `port`.
fn sender(peer: u16, port: u16, pids: &[u32]) -> Option<usize> {
    if pids.is_empty() {
        return None;
    }
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let (local, remote) = (format!(":{peer:04X}"), format!(":{port:04X}"));
    let inode = table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let ours = f.get(1)?.ends_with(&local) && f.get(2)?.ends_with(&remote);
        let inode = *f.get(9)?;
        (ours && inode != "0").then(|| inode.to_owned())
    })?;
    let socket = PathBuf::from(format!("socket:[{inode}]"));
    pids.iter().position(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
            fds.filter_map(Result::ok)
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l == socket))
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Load: client threads calling the nodes, each answer recorded.

/// What a load thread needs of a node (the nodes themselves change as they are killed).
#[derive(Clone)]
struct Target {
    base: String,
    public_key: String,
    secret_key: String,
}

impl Target {
    fn of(s: &TestServer) -> Target {
        Target {
            base: s.base.clone(),
            public_key: s.public_key.clone(),
            secret_key: s.secret_key.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Call {
    Identify,
    Manage,
}

/// One call and how it ended.
#[derive(Debug)]
struct Answer {
    node: usize,
    call: Call,
    /// When it was sent and answered, from the start of the load.
    sent: Duration,
    done: Duration,
    /// The status, or `None` when no answer came (refused, reset, timed out).
    status: Option<u16>,
    /// The identification's request id, on a 200.
    request_id: Option<String>,
    /// The body, on anything but a 200.
    body: Value,
    retry_after: Option<String>,
    failure: Option<String>,
}

impl Answer {
    fn ok(&self) -> bool {
        self.status == Some(200)
    }
}

/// Load threads calling the nodes in turn (skipping those marked dead) until stopped.
struct Load {
    started: Instant,
    alive: Arc<Vec<AtomicBool>>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Vec<Answer>>>,
}

impl Load {
    /// `identifiers` threads identifying new browsers, and `managers` threads alternating a
    /// read of the rules with an entry added to list `list` (when given).
    fn start(
        targets: Vec<Target>,
        identifiers: usize,
        managers: usize,
        list: Option<String>,
    ) -> Load {
        let started = Instant::now();
        let alive: Arc<Vec<AtomicBool>> =
            Arc::new(targets.iter().map(|_| AtomicBool::new(true)).collect());
        let stop = Arc::new(AtomicBool::new(false));
        let targets = Arc::new(targets);
        let mut threads = Vec::new();
        for w in 0..identifiers + managers {
            let call = if w < identifiers {
                Call::Identify
            } else {
                Call::Manage
            };
            let (targets, alive, stop, list) = (
                Arc::clone(&targets),
                Arc::clone(&alive),
                Arc::clone(&stop),
                list.clone(),
            );
            threads.push(std::thread::spawn(move || {
                let client = http();
                let mut out = Vec::new();
                let mut i = 0usize;
                while !stop.load(Ordering::SeqCst) {
                    let n = targets.len();
                    let Some(node) = (0..n)
                        .map(|k| (w + i + k) % n)
                        .find(|&k| alive[k].load(Ordering::SeqCst))
                    else {
                        break;
                    };
                    let seed = (w * 1_000_000 + i) as u32;
                    out.push(call_once(
                        &client,
                        &targets[node],
                        node,
                        call,
                        seed,
                        list.as_deref(),
                        started,
                    ));
                    i += 1;
                }
                out
            }));
        }
        Load {
            started,
            alive,
            stop,
            threads,
        }
    }

    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn mark_dead(&self, node: usize) {
        self.alive[node].store(false, Ordering::SeqCst);
    }

    fn finish(self) -> Vec<Answer> {
        self.stop.store(true, Ordering::SeqCst);
        self.threads
            .into_iter()
            .flat_map(|t| t.join().expect("load thread"))
            .collect()
    }
}

fn call_once(
    client: &reqwest::blocking::Client,
    t: &Target,
    node: usize,
    call: Call,
    seed: u32,
    list: Option<&str>,
    started: Instant,
) -> Answer {
    let sent = started.elapsed();
    let request = match call {
        Call::Identify => client
            .post(format!("{}/v1/identify", t.base))
            .bearer_auth(&t.public_key)
            .json(&payload(seed)),
        Call::Manage => match list {
            Some(list) if seed % 2 == 1 => client
                .post(format!("{}/v1/lists/{list}/entries", t.base))
                .bearer_auth(&t.secret_key)
                .json(&json!({"add": [format!("10.{}.{}.{}", (seed >> 16) & 255, (seed >> 8) & 255, seed & 255)]})),
            _ => client
                .get(format!("{}/v1/rules", t.base))
                .bearer_auth(&t.secret_key),
        },
    };
    let mut a = Answer {
        node,
        call,
        sent,
        done: sent,
        status: None,
        request_id: None,
        body: Value::Null,
        retry_after: None,
        failure: None,
    };
    match request.send() {
        Ok(r) => {
            a.status = Some(r.status().as_u16());
            a.retry_after = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap_or("(not text)").to_owned());
            let json_type = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            let body: Value = r.json().unwrap_or(Value::Null);
            if a.status == Some(200) {
                a.request_id = body["requestId"].as_str().map(str::to_owned);
            } else {
                a.body = if json_type {
                    body
                } else {
                    json!({"not": "application/json", "was": body})
                };
            }
        }
        Err(e) => {
            a.failure = Some(if e.is_timeout() {
                format!("no answer within {CLIENT_TIMEOUT:?}: {e}")
            } else {
                e.to_string()
            })
        }
    }
    a.done = started.elapsed();
    a
}

/// Whether `a` is the clean refusal of a node that cannot reach its store: 503 with the
/// reference's error body, and a `Retry-After` of whole seconds if any.
fn clean_unavailable(a: &Answer) -> bool {
    let e = &a.body["error"];
    a.status == Some(503)
        && e["code"] == "service_unavailable"
        && e["message"].as_str().is_some_and(|m| !m.is_empty())
        && e["docs"] == "/docs/errors#service_unavailable"
        && a.retry_after
            .as_deref()
            .is_none_or(|v| v.parse::<u64>().is_ok())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

// ---------------------------------------------------------------------------------------------
// 1. The shared outbox.

/// Three nodes identify at once; one webhook (made through one node) gets every event exactly
/// once, although every node's worker claims from the one outbox, and more than one node sends.
#[test]
fn multinode_faults_shared_outbox_delivers_each_event_exactly_once() {
    const PER_THREAD: usize = 50;
    const THREADS: usize = 6;
    let mut c = cluster_on(&required_env("PRYNT_TEST_DATABASE_URL"));
    let sink = Sink::start(Duration::from_millis(5));
    for _ in 0..3 {
        let n = start_node(&mut c);
        sink.node_pid(n, c.nodes[n].pid());
    }
    hook_on_every_node(&c, &sink);

    let targets: Vec<Target> = c.nodes.iter().map(Target::of).collect();
    let started = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|w| {
            let t = targets[w % targets.len()].clone();
            std::thread::spawn(move || {
                let client = http();
                (0..PER_THREAD)
                    .map(|i| {
                        let seed = (w * 10_000 + i) as u32;
                        call_once(&client, &t, w % 3, Call::Identify, seed, None, started)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let answers: Vec<Answer> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("load thread"))
        .collect();
    let load = started.elapsed();
    let failed: Vec<&Answer> = answers.iter().filter(|a| !a.ok()).collect();
    assert!(
        failed.is_empty(),
        "every identification succeeds: {failed:?}"
    );
    let ids: HashSet<String> = answers
        .iter()
        .filter_map(|a| a.request_id.clone())
        .collect();
    assert_eq!(ids.len(), THREADS * PER_THREAD, "distinct request ids");

    let missing = sink.wait_for(&ids, Duration::from_secs(30));
    let all_in = started.elapsed();
    assert!(
        missing.is_empty(),
        "{} of {} events never delivered, e.g. {:?}",
        missing.len(),
        ids.len(),
        &missing[..missing.len().min(5)]
    );
    // Every attempt recorded: no delivery pending, each delivered once. (The worker records
    // after sending; a second sending would come from a claim made before that.)
    let deadline = Instant::now() + Duration::from_secs(10);
    while query(
        &c,
        "SELECT count(*) FROM deliveries WHERE status <> 'succeeded'",
    )[0][0]
        .as_deref()
        != Some("0")
    {
        assert!(Instant::now() < deadline, "deliveries left unrecorded");
        std::thread::sleep(Duration::from_millis(100));
    }
    let attempts = query(
        &c,
        "SELECT (SELECT count(*) FROM deliveries), (SELECT count(*) FROM delivery_attempts),
                (SELECT count(*) FROM fanout)",
    );
    let per_event = sink.per_event();
    let twice: Vec<(&String, &usize)> = per_event.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "events delivered more than once: {twice:?}"
    );
    assert_eq!(
        attempts[0][0], attempts[0][1],
        "one attempt per delivery (deliveries, attempts, fan-out left): {attempts:?}"
    );
    assert_eq!(
        attempts[0][2].as_deref(),
        Some("0"),
        "nothing left to fan out"
    );

    let hits = sink.hits();
    let mut by_node = [0usize; 3];
    let mut untold = 0;
    for h in hits.iter().filter(|h| ids.contains(&h.request_id)) {
        match h.node {
            Some(n) => by_node[n] += 1,
            None => untold += 1,
        }
    }
    println!(
        "multinode_faults: shared outbox: {} identifications through 3 nodes in {:.0} ms, all \
         {} delivered exactly once after {:.0} ms; sent by node: {by_node:?} (untold {untold})",
        ids.len(),
        ms(load),
        ids.len(),
        ms(all_in)
    );
    assert!(
        untold * 10 <= ids.len(),
        "the sending node was told for most deliveries ({untold} untold)"
    );
    assert!(
        by_node.iter().filter(|n| **n > 0).count() >= 2,
        "the workers of more than one node delivered: {by_node:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. A node killed under load.

/// Three nodes under identify load with a webhook; one is killed with SIGKILL in the middle.
/// Every identification any node acknowledged is stored and delivered; the other two nodes
/// answer every call throughout. The deliveries the killed node had leased are freed when it
/// is started again: a starting node frees the leases of nodes whose liveness lock PostgreSQL
/// dropped with their connections. That is what this test relies on: a lease runs for the
/// webhook timeout plus 30 s (40 s here), and every lease was taken at most 2.5 s before the
/// kill, so none runs out before the deadline of 15 s after the restart (about 23 s after the
/// kill).
#[test]
fn multinode_faults_a_node_killed_under_load_loses_nothing_acknowledged() {
    const VICTIM: usize = 1;
    let mut c = cluster_on(&required_env("PRYNT_TEST_DATABASE_URL"));
    // A slow receiver keeps deliveries leased a while, so the victim dies holding some.
    let sink = Sink::start(Duration::from_millis(30));
    for _ in 0..3 {
        start_node(&mut c);
    }
    hook_on_every_node(&c, &sink);

    let load = Load::start(c.nodes.iter().map(Target::of).collect(), 6, 0, None);
    std::thread::sleep(Duration::from_millis(2_500));
    let killed_at = load.elapsed();
    c.nodes[VICTIM].kill_hard();
    load.mark_dead(VICTIM);
    std::thread::sleep(Duration::from_millis(3_000));
    let answers = load.finish();
    let acked: HashSet<String> = answers
        .iter()
        .filter_map(|a| a.request_id.clone())
        .collect();

    // What the survivors could deliver is delivered; what waits is held by the dead node's
    // leases (no liveness lock left), until a node starts and frees them.
    std::thread::sleep(Duration::from_millis(1_000));
    let awaited = sink.wait_for(&acked, Duration::ZERO).len();
    let stranded = query(
        &c,
        "SELECT count(*) FROM deliveries d
         WHERE d.status = 'pending' AND d.lease_until_ms > 0 AND NOT EXISTS (
               SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted
                 AND l.classid::bigint = 1886285668 AND l.objid::bigint = d.lease_owner
                 AND l.objsubid = 2)",
    )[0][0]
        .clone()
        .unwrap_or_default();
    let restarted_at = Instant::now();
    start_node(&mut c);
    let restart = restarted_at.elapsed();
    let by_victim = answers
        .iter()
        .filter(|a| a.node == VICTIM && a.ok())
        .count();
    let victim_unanswered = answers
        .iter()
        .filter(|a| a.node == VICTIM && !a.ok())
        .count();
    let survivors: Vec<&Answer> = answers.iter().filter(|a| a.node != VICTIM).collect();
    let survivor_failures: Vec<&&Answer> = survivors.iter().filter(|a| !a.ok()).collect();
    let after_kill = survivors.iter().filter(|a| a.sent > killed_at).count();

    let stored = stored_events(&c);
    let lost: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    let deadline = restarted_at + Duration::from_secs(15);
    let missing = sink.wait_for(&acked, deadline.saturating_duration_since(Instant::now()));
    let delivered_in = restarted_at.elapsed();
    let per_event = sink.per_event();
    let duplicates: usize = acked
        .iter()
        .map(|id| per_event.get(id).copied().unwrap_or(0).saturating_sub(1))
        .sum();
    println!(
        "multinode_faults: SIGKILL: {} identifications acknowledged ({by_victim} by the killed \
         node before it died), {} calls to it unanswered; survivors answered {} calls, {} after \
         the kill, {} failed; lost {}; before the restart {awaited} deliveries awaited, \
         {stranded} leased by the dead node; restarted in {:.0} ms, every delivery in {:.0} ms \
         from the restart: missing {}, duplicates {duplicates}",
        acked.len(),
        victim_unanswered,
        survivors.len(),
        after_kill,
        survivor_failures.len(),
        lost.len(),
        ms(restart),
        ms(delivered_in),
        missing.len(),
    );
    assert!(by_victim > 0, "the killed node acknowledged some first");
    assert!(
        stranded.parse::<u64>().is_ok_and(|n| n > 0),
        "the killed node died holding deliveries ({stranded})"
    );
    assert!(after_kill > 0, "the survivors were called after the kill");
    assert!(
        survivor_failures.is_empty(),
        "the surviving nodes answer every call: {survivor_failures:?}"
    );
    assert!(
        lost.is_empty(),
        "acknowledged identifications missing from the store: {lost:?}"
    );
    assert!(
        missing.is_empty(),
        "acknowledged identifications never delivered: {} (e.g. {:?})",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    // The dead node's leased deliveries too were sent again and recorded: nothing is pending.
    loop {
        let pending = query(
            &c,
            "SELECT count(*) FROM deliveries WHERE status <> 'succeeded'",
        )[0][0]
            .clone();
        if pending.as_deref() == Some("0") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries not recorded as succeeded: {pending:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Only the deliveries the killed node had in flight (at most 32 per webhook) may have gone
    // out twice: it died between sending and recording them.
    assert!(
        duplicates <= 32,
        "{duplicates} duplicates: more than the killed node had in flight"
    );
    // Acknowledged by the killed node, readable through a survivor.
    let survivor = &c.nodes[0];
    for a in answers
        .iter()
        .filter(|a| a.node == VICTIM && a.ok())
        .rev()
        .take(20)
    {
        let id = a.request_id.as_deref().expect("request id");
        let (status, ev) = survivor.json(&format!("/v1/events/{id}"), &survivor.secret_key);
        assert_eq!(status, 200, "{id}: {ev}");
        assert_eq!(ev["requestId"], id);
    }
}

// ---------------------------------------------------------------------------------------------
// 3. PostgreSQL restarted under load, on a server of the test's own.

/// A PostgreSQL server in a temporary directory, run by the unprivileged `postgres` user when
/// the tests run as root (PostgreSQL refuses root); stopped and removed when dropped.
struct PrivatePg {
    bin: String,
    user: Option<String>,
    data: PathBuf,
    log: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl PrivatePg {
    fn start() -> PrivatePg {
        let bin = required_env("PRYNT_TEST_PG_BIN");
        let root = std::fs::metadata("/proc/self").is_ok_and(|m| {
            use std::os::unix::fs::MetadataExt;
            m.uid() == 0
        });
        let user = root.then(|| {
            std::env::var("PRYNT_TEST_PG_USER")
                .ok()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "postgres".into())
        });
        let dir = tempfile::tempdir().expect("tempdir");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        if let Some(u) = &user {
            let chown = Command::new("chown")
                .arg(format!("{u}:"))
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(chown.success(), "chown the PostgreSQL directory to {u}");
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let pg = PrivatePg {
            bin,
            user,
            data: dir.path().join("data"),
            log: dir.path().join("server.log"),
            port,
            _dir: dir,
        };
        let data = pg.data.to_string_lossy().into_owned();
        pg.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "prynt",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
        );
        pg.ctl("start");
        pg
    }

    /// `BIN/program ARGS` as the PostgreSQL user; panics with its output if it fails.
    fn run(&self, program: &str, args: &[&str]) {
        let exe = Path::new(&self.bin).join(program);
        let mut cmd = match &self.user {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out = cmd.args(args).output().expect("run a PostgreSQL program");
        assert!(
            out.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `pg_ctl start` (waiting until it accepts connections) or `pg_ctl stop -m fast`.
    fn ctl(&self, action: &str) {
        let data = self.data.to_string_lossy().into_owned();
        let log = self.log.to_string_lossy().into_owned();
        let socket_dir = self
            .data
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {socket_dir} -c max_connections=200",
            self.port
        );
        match action {
            "start" => self.run(
                "pg_ctl",
                &["-D", &data, "-l", &log, "-w", "-s", "-o", &options, "start"],
            ),
            _ => self.run("pg_ctl", &["-D", &data, "-w", "-s", "-m", "fast", "stop"]),
        }
    }

    fn admin_url(&self) -> String {
        format!("postgres://prynt@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let data = self.data.to_string_lossy().into_owned();
        let exe = Path::new(&self.bin).join("pg_ctl");
        let mut cmd = match &self.user {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let _ = cmd
            .args(["-D", &data, "-m", "immediate", "-s", "stop"])
            .output();
    }
}

/// Two nodes under identify and management load; their PostgreSQL stops (fast shutdown) and
/// starts again 2 s later. Meanwhile every answer is a 200 or a clean 503, none is a 500 and
/// none takes longer than the client waits; once PostgreSQL is back both nodes answer
/// identifications again by themselves within 15 s, every acknowledged identification is
/// stored, and a rule made through one node afterwards applies on the other (its change feed
/// follows again).
#[test]
fn multinode_faults_postgres_restarted_under_load_is_a_clean_503_and_recovers() {
    let pg = PrivatePg::start();
    let mut c = cluster_on(&pg.admin_url());
    for _ in 0..2 {
        start_node(&mut c);
    }
    let a = &c.nodes[0];
    let r = a
        .req(reqwest::Method::POST, "/v1/lists", &a.secret_key)
        .json(&json!({"name": "pf_ips", "type": "ip"}))
        .send()
        .expect("create a list");
    assert_eq!(r.status(), 200);
    let list = r.json::<Value>().expect("list")["id"]
        .as_str()
        .expect("list id")
        .to_owned();

    let load = Load::start(c.nodes.iter().map(Target::of).collect(), 4, 1, Some(list));
    std::thread::sleep(Duration::from_millis(2_000));
    let stopping = load.elapsed();
    pg.ctl("stop");
    let down = load.elapsed();
    std::thread::sleep(Duration::from_millis(2_000));
    pg.ctl("start");
    let up = load.elapsed();

    // Both nodes answer an identification again: probed here, from when PostgreSQL is back.
    let client = http();
    let targets: Vec<Target> = c.nodes.iter().map(Target::of).collect();
    let mut probes = Vec::new();
    let mut recovered = Vec::new();
    for (n, t) in targets.iter().enumerate() {
        loop {
            let p = call_once(
                &client,
                t,
                n,
                Call::Identify,
                800_000 + probes.len() as u32,
                None,
                load.started,
            );
            let ok = p.ok();
            let at = p.done;
            probes.push(p);
            if ok {
                recovered.push(at.saturating_sub(up));
                break;
            }
            assert!(
                load.elapsed() < up + Duration::from_secs(15),
                "node {n} did not recover within 15 s: {:?}",
                probes.last()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    std::thread::sleep(Duration::from_millis(1_000));
    let mut answers = load.finish();
    answers.extend(probes);

    let bad: Vec<&Answer> = answers
        .iter()
        .filter(|a| !a.ok() && !clean_unavailable(a))
        .collect();
    let refused: Vec<&Answer> = answers.iter().filter(|a| a.status == Some(503)).collect();
    let count = |call: Call, f: &dyn Fn(&Answer) -> bool| {
        answers.iter().filter(|a| a.call == call && f(a)).count()
    };
    let slowest = answers
        .iter()
        .map(|a| a.done - a.sent)
        .max()
        .unwrap_or_default();
    let window = refused
        .iter()
        .map(|a| a.sent)
        .min()
        .zip(refused.iter().map(|a| a.done).max());
    let late = |n: usize| {
        answers
            .iter()
            .filter(|a| a.node == n && a.status == Some(503) && a.sent > up + recovered[n])
            .count()
    };
    println!(
        "multinode_faults: PostgreSQL restart: stopped in {:.0} ms, down {:.0} ms; identify \
         {} x 200 / {} x 503, management {} x 200 / {} x 503, other {}; 503s from {:.0} to \
         {:.0} ms (stop began at {:.0}, back at {:.0}); Retry-After on {} of the 503s; \
         slowest answer {:.0} ms; identify 200 again after {:.0} / {:.0} ms; 503s after that: \
         {} / {}",
        ms(down - stopping),
        ms(up - down),
        count(Call::Identify, &Answer::ok),
        count(Call::Identify, &|a| a.status == Some(503)),
        count(Call::Manage, &Answer::ok),
        count(Call::Manage, &|a| a.status == Some(503)),
        bad.len(),
        ms(window.map_or(Duration::ZERO, |w| w.0)),
        ms(window.map_or(Duration::ZERO, |w| w.1)),
        ms(stopping),
        ms(up),
        refused.iter().filter(|a| a.retry_after.is_some()).count(),
        ms(slowest),
        ms(recovered[0]),
        ms(recovered[1]),
        late(0),
        late(1),
    );
    assert!(
        bad.is_empty(),
        "every answer is a 200 or a clean 503 (no 500, no hang, no dropped connection): {:?}",
        &bad[..bad.len().min(5)]
    );
    assert!(
        count(Call::Identify, &|a| a.status == Some(503)) > 0,
        "the outage was seen"
    );
    assert!(
        count(Call::Manage, &|a| a.status == Some(503)) > 0,
        "management calls met the outage too"
    );

    // Acknowledged is durable, across the restart.
    let stored = stored_events(&c);
    let lost: Vec<&String> = answers
        .iter()
        .filter_map(|a| a.request_id.as_ref())
        .filter(|id| !stored.contains(*id))
        .collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");

    // The change feed follows again: a rule made through A applies on B.
    let (a, b) = (&c.nodes[0], &c.nodes[1]);
    let made = Instant::now();
    challenge_rule_once_reachable(a, "pf_after", made);
    let deadline = made + Duration::from_secs(5);
    while verdict_if_up(b, 12, "pf_after", "198.51.100.220").as_deref() != Some("challenge") {
        assert!(
            Instant::now() < deadline,
            "a rule made after the restart never applied on the other node"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "multinode_faults: PostgreSQL restart: a rule made afterwards applied on the other node \
         after {:.0} ms",
        ms(made.elapsed())
    );
    drop(c);
    drop(pg);
}
