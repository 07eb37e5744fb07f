//! `prynt-bench identify`: identify throughput and latency against a real `prynt serve` with
//! durable SQLite, beside a bare endpoint of the same server stack under the same load.
//!
//! Traffic: 5,000 synthetic browsers visit once to get their visitor token; afterwards 80% of
//! their visits carry the token (a browser that kept its storage) and 20% do not (cleared
//! storage, private windows), which exercises fuzzy matching.
//!
//! Phases: (0) a warm-up of `--seconds` of identify traffic, discarded, so the store is measured
//! with a realistic amount of data in it rather than empty; (1) closed-loop maximum throughput
//! on `/bench/bare`; (2) the same on `/v1/identify`; (3) open-loop latency on `/v1/identify` at
//! 70% of the rate found in (2); (4) the bare endpoint at that same rate; (5) identify at 70%
//! of the promised 5,000/s.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::synth::{Device, Rng};
use bytes::Bytes;
use serde_json::json;

use super::load::{self, Target};
use crate::server::{self, Server};
use crate::BenchError;

/// Connections of the paced phase.
const PACED_CLIENTS: usize = 256;

/// The identification rate a 2-core machine is promised to sustain.
const PROMISED_RATE: f64 = 5_000.0;

/// Distinct browsers cycled through; later rounds are returning visitors.
const DEVICES: usize = 5_000;

/// A load target on the bench server, with its public key.
pub(crate) fn identify_target(server: &Server, path: &str, bodies: &Arc<Vec<Bytes>>) -> Target {
    Target {
        addr: server.addr,
        path: path.to_owned(),
        headers: vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            (
                "authorization".to_owned(),
                format!("Bearer {}", server.public_key),
            ),
        ],
        bodies: Arc::clone(bodies),
    }
}

/// The identify traffic: every browser visits once for its token, then 80% of later visits
/// carry it.
pub(crate) async fn visits(server: &Server, connections: usize) -> Arc<Vec<Bytes>> {
    let mut rng = Rng::new(7);
    let payloads: Vec<serde_json::Value> = (0..DEVICES)
        .map(|_| {
            let mut p =
                json!({ "type": "login", "components": Device::random(&mut rng).components() });
            add_realms_and_input(&mut p["components"]);
            p
        })
        .collect();
    with_tokens(
        payloads,
        |first| identify_target(server, "/v1/identify", first),
        connections,
        &mut rng,
    )
    .await
}

/// Each browser's first visit, identified for its visitor token through `target`, then its
/// later visits, 80% of them carrying that token (the rest a browser that cleared its storage).
pub(crate) async fn with_tokens(
    payloads: Vec<serde_json::Value>,
    target: impl Fn(&Arc<Vec<Bytes>>) -> Target,
    connections: usize,
    rng: &mut Rng,
) -> Arc<Vec<Bytes>> {
    let encode = |v: &serde_json::Value| Bytes::from(serde_json::to_vec(v).unwrap_or_default());
    let first_visits = Arc::new(payloads.iter().map(encode).collect::<Vec<_>>());
    let tokens = load::collect_header(
        &target(&first_visits),
        connections,
        prynt_client::VISITOR_TOKEN_HEADER,
    )
    .await;
    let returning: Vec<Bytes> = payloads
        .into_iter()
        .zip(tokens)
        .map(|(mut p, token)| {
            if let (Some(t), true) = (token, rng.chance(0.8)) {
                p["token"] = json!(t);
            }
            encode(&p)
        })
        .collect();
    Arc::new(returning)
}

/// What the agent sends beside the device's measurements: a Web Worker's and an iframe's view
/// (agreeing with the page, as in a real browser) and the input before `identify()` (a person
/// who typed and clicked), so that the consistency and behaviour checks run on every visit.
pub(crate) fn add_realms_and_input(c: &mut serde_json::Value) {
    let view = json!({
        "userAgent": c["userAgent"],
        "platform": c["platform"],
        "languages": c["languages"].as_array().map(|l| {
            l.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(",")
        }),
        "hardwareConcurrency": c["hardwareConcurrency"],
        "timezone": c["timezone"],
        "gpu": c["webgl"]["unmaskedRenderer"],
    });
    c["integrity"] = json!({
        "lies": [], "navigatorOwn": [], "webdriverMissing": false,
        "worker": view.clone(), "iframe": view,
    });
    c["behavior"] = json!({
        "moves": 180, "clicks": 2, "pointerClicks": 2, "jumpClicks": 0, "centredClicks": 0,
        "centredJumps": 0, "keys": 24, "inputs": 22, "touches": 0, "scrolls": 1, "untrusted": 0,
        "clickHoldMs": 92.0, "keyHoldMs": 81.5, "keyGapMs": 143.0, "keyGapCv": 0.42,
        "timerResolutionMs": 0.1,
    });
}

/// Runs the benchmark against a server started from the `prynt` binary at `prynt`.
pub fn run(
    prynt: &Path,
    seconds: u64,
    connections: usize,
    ip_data: &Path,
) -> Result<(), BenchError> {
    let (server, with_ip_data) = server::start(prynt, ip_data, &[])?;
    // One client thread: the server keeps both cores' worth of its own threads, and the client
    // does not add scheduling noise to the latency it measures.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| BenchError::Runtime(e.to_string()))?;
    let target = |path: &str, bodies: &Arc<Vec<Bytes>>| identify_target(&server, path, bodies);
    let bodies = rt.block_on(visits(&server, connections));
    let avg_body = bodies.iter().map(Bytes::len).sum::<usize>() / bodies.len();
    let dur = Duration::from_secs(seconds);
    let (bare, ident, paced, paced_bare, rate, promised) = rt.block_on(async {
        load::closed_loop(&target("/v1/identify", &bodies), connections, dur).await;
        let bare = load::closed_loop(&target("/bench/bare", &bodies), connections, dur).await;
        let ident = load::closed_loop(&target("/v1/identify", &bodies), connections, dur).await;
        let rate = ident.rps() * 0.7;
        // Paced traffic comes from many clients, as real visitors do: with few connections one
        // slow answer would hold back every later request of its connection.
        let clients = connections.max(PACED_CLIENTS);
        let paced = load::open_loop(&target("/v1/identify", &bodies), clients, rate, dur).await;
        // And at 70% of the 5,000/s the product promises, the load a sized deployment runs at.
        let promised = load::open_loop(
            &target("/v1/identify", &bodies),
            clients,
            PROMISED_RATE * 0.7,
            dur,
        )
        .await;
        // The same rate on the bare endpoint: what the stack and client add to latency alone.
        let paced_bare = load::open_loop(&target("/bench/bare", &bodies), clients, rate, dur).await;
        (bare, ident, paced, paced_bare, rate, promised)
    });
    drop(server);

    let phases = [&bare, &ident, &paced, &paced_bare, &promised];
    let errors: usize = phases.iter().map(|p| p.errors).sum();
    for (kind, n) in phases.iter().flat_map(|p| &p.error_kinds) {
        eprintln!("error x{n}: {kind}");
    }
    super::emit(
        &format!(
            "identify: {:.0} req/s at {connections} connections (p50 {:.2} ms, p99 {:.2} ms); \
             bare endpoint {:.0} req/s; at 70% ({rate:.0} req/s): p50 {:.2} ms, p90 {:.2} ms, \
             p99 {:.2} ms (bare endpoint at that rate: p99 {:.2} ms); at {:.0} req/s: p50 {:.2} ms, \
             p99 {:.2} ms; payload {avg_body} B avg, {DEVICES} browsers (80% with token), \
             {errors} errors; signals {}",
            ident.rps(),
            ident.percentile_ms(0.5),
            ident.percentile_ms(0.99),
            bare.rps(),
            paced.percentile_ms(0.5),
            paced.percentile_ms(0.9),
            paced.percentile_ms(0.99),
            paced_bare.percentile_ms(0.99),
            PROMISED_RATE * 0.7,
            promised.percentile_ms(0.5),
            promised.percentile_ms(0.99),
            if with_ip_data {
                "with the fetched IP data"
            } else {
                "without IP data (none in --ip-data)"
            },
        ),
        json!({
            "rps": ident.rps().round(),
            "p50Ms": (paced.percentile_ms(0.5) * 100.0).round() / 100.0,
            "p99Ms": (paced.percentile_ms(0.99) * 100.0).round() / 100.0,
            "baselineRps": bare.rps().round(),
            "baselineP99Ms": (paced_bare.percentile_ms(0.99) * 100.0).round() / 100.0,
            "p99MsAt3500": (promised.percentile_ms(0.99) * 100.0).round() / 100.0,
        }),
    );
    Ok(())
}
