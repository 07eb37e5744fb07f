//! `prynt-bench seed-events`: fills a store with synthetic events of the shape identify
//! stores (device, signals, scores, velocity, ip), spread over the last days, for the backtest,
//! analytics and events listing benchmarks. Events go through the store's own write path, with
//! the columns listings filter on (type, country, address, linked id), into the SQLite store of
//! a data dir or a PostgreSQL database, as `prynt` opens them.

use std::path::Path;
use std::sync::Arc;

use prynt_core::{ids, timefmt, Environment, Scope};
use prynt_store::postgres::{is_postgres_url, PostgresOptions, PostgresStore};
use prynt_store::prelude::*;
use prynt_store::sqlite::SqliteStore;
use prynt_store::NewIdentification;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::BenchError;

const COUNTRIES: &[(&str, f64)] = &[
    ("US", 0.35),
    ("CA", 0.06),
    ("GB", 0.08),
    ("DE", 0.08),
    ("FR", 0.06),
    ("JP", 0.05),
    ("BR", 0.06),
    ("IN", 0.08),
    ("NL", 0.04),
    ("ES", 0.04),
    ("AU", 0.03),
    ("NG", 0.03),
    ("RU", 0.04),
];

fn pick<'a>(rng: &mut StdRng, table: &[(&'a str, f64)]) -> &'a str {
    let mut x = rng.random::<f64>() * table.iter().map(|(_, w)| w).sum::<f64>();
    for (v, w) in table {
        if x < *w {
            return v;
        }
        x -= w;
    }
    table[table.len() - 1].0
}

fn windows(rng: &mut StdRng, heavy: bool) -> Value {
    let base = if heavy { 6 } else { 1 };
    let a = rng.random_range(1..=base);
    let b = a + rng.random_range(0..=base);
    let c = b + rng.random_range(0..=base * 2);
    json!({"5m": a, "1h": b, "24h": c})
}

/// One synthetic event of `visitor` at `ts_s`.
fn event(rng: &mut StdRng, request_id: &str, visitor: &str, ts_s: i64) -> (Value, bool) {
    let bot = rng.random::<f64>() < 0.07;
    let kind = match (bot, rng.random::<f64>()) {
        (true, x) if x < 0.6 => "registration",
        (_, x) if x < 0.2 => "registration",
        (_, x) if x < 0.7 => "login",
        _ => "payment",
    };
    let country = pick(rng, COUNTRIES);
    let vpn = rng.random::<f64>() < 0.04;
    let ip = format!(
        "{}.{}.{}.{}",
        rng.random_range(1..=223),
        rng.random_range(0..=255),
        rng.random_range(0..=255),
        rng.random_range(1..=254)
    );
    let linked = (kind != "registration" || rng.random::<f64>() < 0.5)
        .then(|| format!("user{}@mail.example", rng.random_range(0..200_000)));
    let platforms = ["Windows", "macOS", "iOS", "Android", "Linux"];
    let platform = platforms[rng.random_range(0..platforms.len())];
    let suspect = if bot { 7 } else { 0 } + if vpn { 4 } else { 0 };
    let body = json!({
        "requestId": request_id,
        "visitorId": visitor,
        "confidence": 0.99,
        "visitorFound": rng.random::<f64>() < 0.8,
        "firstSeenAt": null,
        "timestamp": timefmt::rfc3339(ts_s),
        "type": kind,
        "linkedId": linked,
        "tag": null,
        "url": "https://shop.example/checkout",
        "identifiedBy": "fingerprint",
        "device": {"platform": platform, "browser": "Chrome 121", "gpu": "Apple M3 Pro",
                   "type": if platform == "iOS" || platform == "Android" { "mobile" } else { "desktop" },
                   "screen": {"w": 1920, "h": 1080}, "model": null, "userAgent": null},
        "signals": {"bot": {"detected": bot, "type": if bot { Value::from("automation") } else { Value::Null },
                            "reasons": if bot { json!(["webdriver"]) } else { json!([]) }},
                    "vpn": {"detected": vpn, "provider": if vpn { Value::from("ExampleVPN") } else { Value::Null },
                            "methods": if vpn { json!(["public_range"]) } else { json!([]) }},
                    "proxy": false, "tor": rng.random::<f64>() < 0.003, "incognito": rng.random::<f64>() < 0.1,
                    "tampered": false, "tamperedReasons": [], "emulator": false, "softwareRendering": false},
        "scores": {"abuse": (rng.random::<f64>() * 100.0).round() / 100.0, "ato": (rng.random::<f64>() * 100.0).round() / 100.0,
                   "bot": if bot { 0.95 } else { 0.02 }, "suspect": suspect},
        "velocity": {"distinctIp": windows(rng, bot), "distinctCountry": windows(rng, false),
                     "distinctLinkedId": windows(rng, bot), "visitorsPerLinkedId": windows(rng, false),
                     "visitorsPerIp": windows(rng, bot), "newDeviceForAccount": rng.random::<f64>() < 0.1,
                     "travelKmh": null},
        "ip": {"address": ip, "city": null, "country": country, "lat": null, "lng": null, "timezone": null,
               "asn": 64500, "asnName": "Example Net", "datacenter": bot, "blocklisted": false},
        "verdict": null,
        "matchedRule": null,
    });
    (body, bot)
}

/// Where to write and what.
#[derive(Debug, Clone)]
pub struct Seeding<'a> {
    /// The SQLite store's data dir, used when there is no `database_url`.
    pub data_dir: &'a Path,
    /// A PostgreSQL database (`postgres://…`) to write to instead.
    pub database_url: Option<&'a str>,
    pub events: usize,
    pub days: u32,
    pub seed: u64,
}

/// The store `prynt` would open with the same `--data-dir` and `--database-url`.
async fn open_store(data_dir: &Path, database_url: Option<&str>) -> anyhow::Result<Arc<dyn Store>> {
    let Some(url) = database_url else {
        return Ok(Arc::new(SqliteStore::open(data_dir)?));
    };
    if !is_postgres_url(url) {
        anyhow::bail!("--database-url must be a PostgreSQL URL (postgres://…)");
    }
    Ok(Arc::new(
        PostgresStore::open(url, PostgresOptions::default()).await?,
    ))
}

/// Writes `events` events over the last `days` days into the `default` workspace's test
/// environment of the store; returns how many were written.
pub async fn run(target: &Seeding<'_>) -> anyhow::Result<usize> {
    let (events, days, seed) = (target.events, target.days, target.seed);
    let store = open_store(target.data_dir, target.database_url).await?;
    let ws = store
        .workspace_by_name("default")
        .await?
        .ok_or_else(|| anyhow::anyhow!("the store has no default workspace"))?;
    let scope = Scope {
        workspace_id: ws.id,
        env: Environment::Test,
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let visitors: Vec<String> = (0..(events / 6).max(1))
        .map(|_| ids::visitor_id())
        .collect();
    let now_s = timefmt::now_unix() - 60;
    let span = i64::from(days) * 86_400;
    let started = std::time::Instant::now();
    let mut in_flight = tokio::task::JoinSet::new();
    for i in 0..events {
        let ts_s = now_s - rng.random_range(0..span);
        let visitor = &visitors[rng.random_range(0..visitors.len())];
        let request_id = ids::request_id(ts_s);
        let (body, bot) = event(&mut rng, &request_id, visitor, ts_s);
        let rec = NewIdentification {
            scope: scope.clone(),
            request_id,
            visitor_id: visitor.clone(),
            ts_ms: ts_s * 1000 + rng.random_range(0..1000),
            profile: Vec::new(),
            matched: false,
            linked_id: body["linkedId"].as_str().map(str::to_owned),
            verdict: None,
            bot: Some(bot),
            event_type: body["type"].as_str().map(str::to_owned),
            country: body["ip"]["country"].as_str().map(str::to_owned),
            ip: body["ip"]["address"].as_str().map(str::to_owned),
            body: body.to_string(),
            list_effects: Vec::new(),
            rule_matches: Vec::new(),
            outbox: Vec::new(),
        };
        let s = Arc::clone(&store);
        in_flight.spawn(async move { s.record_identification(rec).await });
        if in_flight.len() >= 1024 {
            if let Some(r) = in_flight.join_next().await {
                r??;
            }
        }
        if i > 0 && i % 200_000 == 0 {
            eprintln!(
                "  {i} events written ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    while let Some(r) = in_flight.join_next().await {
        r??;
    }
    store.close().await?;
    Ok(events)
}

/// `prynt-bench seed-events`: [`run`] on its own runtime, then the summary and the JSON line.
pub fn run_and_report(target: &Seeding<'_>) -> Result<(), BenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| BenchError::Runtime(format!("cannot start the async runtime: {e}")))?;
    let started = std::time::Instant::now();
    let n = runtime
        .block_on(run(target))
        .map_err(|e| BenchError::Runtime(e.to_string()))?;
    let secs = started.elapsed().as_secs_f64();
    crate::emit(
        &format!("seeded {n} events in {secs:.1} s"),
        json!({"events": n, "seedSeconds": (secs * 10.0).round() / 10.0}),
    );
    Ok(())
}
