//! Rule evaluation per identification, and backtests over a month of events.
//!
//! `cargo bench -p prynt-rules --bench rules`. Targets: 100 live rules that all run (none
//! matches) under 20 µs per event; a 3-condition backtest over 1,284,102 events well under
//! 250 ms. `backtest/brute_force_rows` is the same rule evaluated event by event with
//! `Compiled::eval`, the baseline the columnar replay is measured against.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use prynt_rules::backtest::{backtest, EventTable, Evidence};
use prynt_rules::condition::{parse_action, parse_conditions, Verdict};
use prynt_rules::eval::{compile, CompiledRule, RuleSet, Status};
use prynt_rules::facts::{Facts, Value};
use prynt_rules::fields::{lookup, FieldId, ListType};
use prynt_rules::lists::{ListData, ListSet};
use serde_json::json;

const EVENTS: usize = 1_284_102;
const DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;
const START_MS: i64 = 1_714_000_000_000;
const NOW_S: i64 = (START_MS + DAYS * DAY_MS) / 1000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }
    /// Small counts, mostly 0–2, with a long tail: `extra` shifts it up (bots).
    fn count(&mut self, extra: u64) -> f64 {
        let mut n = 0;
        while n < 60 && self.chance(350 + extra) {
            n += 1;
        }
        n as f64
    }
}

fn field(p: &str) -> FieldId {
    lookup(p).expect("catalogue field")
}

/// The event every identification bench sees: a real-looking login from Berlin.
fn realistic_event() -> serde_json::Value {
    json!({
        "requestId": "req_1714000000_0a1b2c",
        "visitorId": "pv_a1B2c3D4e5F6g",
        "confidence": 0.98, "visitorFound": true,
        "timestamp": "2024-04-25T00:00:00.000Z", "type": "login",
        "linkedId": "jane.doe@example.com", "url": "https://shop.example.com/login",
        "device": {"platform": "macOS", "browser": "Chrome 121", "gpu": "Apple M3 Pro",
                   "type": "desktop", "screen": {"w": 1512, "h": 982}, "model": null},
        "signals": {
            "bot": {"detected": false, "type": null, "reasons": []},
            "vpn": {"detected": false, "provider": null, "methods": []},
            "proxy": false, "tor": false, "incognito": true, "tampered": false,
            "tamperedReasons": [], "emulator": false, "softwareRendering": false
        },
        "scores": {"suspect": 4, "bot": 0.02, "abuse": 0.1, "ato": 0.3},
        "velocity": {
            "distinctIp": {"5m": 1, "1h": 2, "24h": 3},
            "distinctCountry": {"5m": 1, "1h": 1, "24h": 2},
            "distinctLinkedId": {"5m": 0, "1h": 1, "24h": 1},
            "visitorsPerLinkedId": {"5m": 1, "1h": 1, "24h": 2},
            "visitorsPerIp": {"5m": 1, "1h": 3, "24h": 9},
            "newDeviceForAccount": false, "travelKmh": 40.5
        },
        "ip": {"address": "203.0.113.7", "city": "Berlin", "country": "DE", "lat": 52.52,
               "lng": 13.405, "timezone": "Europe/Berlin", "asn": 3320,
               "asnName": "Deutsche Telekom AG", "datacenter": false, "blocklisted": false}
    })
}

/// Lists of realistic size: a few thousand IP ranges, and thousands of emails and visitors.
fn lists() -> ListSet {
    let mut rng = Rng(0xA5A5_5A5A_1234_5678);
    let mut ips = ListData::new(ListType::Ip);
    for _ in 0..3_000 {
        let a = rng.next() as u32;
        let len = 16 + rng.below(13) as u32;
        ips.insert(format!("{}/{len}", std::net::Ipv4Addr::from(a)), None);
    }
    for _ in 0..2_000 {
        ips.insert(
            std::net::Ipv4Addr::from(rng.next() as u32).to_string(),
            None,
        );
    }
    for i in 0..200u32 {
        ips.insert(format!("2a0{}:{:x}::/32", i % 10, i), None);
    }
    let mut emails = ListData::new(ListType::Email);
    for i in 0..10_000 {
        emails.insert(format!("fraud{i}@mail{}.example", i % 50), None);
    }
    let mut visitors = ListData::new(ListType::Visitor);
    let mut trusted = ListData::new(ListType::Visitor);
    for i in 0..10_000u64 {
        visitors.insert(format!("pv_b{i:012}"), Some(NOW_S + 3_600));
        trusted.insert(format!("pv_{:013}", i * 31), None);
    }
    let mut s = ListSet::new();
    s.insert_list("blocked_ips".into(), ips);
    s.insert_list("fraud_emails".into(), emails);
    s.insert_list("blocked_visitors".into(), visitors);
    s.insert_list("trusted_visitors".into(), trusted);
    s
}

/// 100 live rules in the shapes fraud teams write, none of which matches the realistic event;
/// many get past their first conditions, so the evaluation is close to the worst case.
fn hundred_rules(lists: &ListSet) -> RuleSet {
    let countries = ["NG", "RU", "CN", "VN", "ID", "PK", "BD", "UA"];
    let rules: Vec<CompiledRule> = (0..100i64)
        .map(|i| {
            let k = i as usize;
            let c1 = countries[k % countries.len()];
            let c2 = countries[(k + 3) % countries.len()];
            let cond = match i % 10 {
                0 => json!({"operator": "AND", "rules": [
                    {"field": "signals.bot.detected", "operator": "equals", "value": true},
                    {"field": "event.type", "operator": "equals", "value": "registration"},
                    {"field": "ip.country", "operator": "in", "value": [c1, c2, "US"]},
                ]}),
                1 => json!({"operator": "AND", "rules": [
                    {"field": "event.type", "operator": "in", "value": ["login", "payment"]},
                    {"field": "velocity.distinctIp.1h", "operator": "gte", "value": 2},
                    {"field": "velocity.distinctCountry.24h", "operator": "gt", "value": 2 + i % 3},
                    {"field": "ip.address", "operator": "in", "value": "blocked_ips"},
                ]}),
                2 => json!({"operator": "AND", "rules": [
                    {"field": "scores.suspect", "operator": "gte", "value": 3},
                    {"field": "device.gpu", "operator": "matches", "value": "(?i)swiftshader|llvmpipe|virtualbox"},
                    {"field": "signals.incognito", "operator": "equals", "value": true},
                ]}),
                3 => json!({"operator": "OR", "rules": [
                    {"field": "signals.tor", "operator": "equals", "value": true},
                    {"field": "signals.proxy", "operator": "equals", "value": true},
                    {"field": "ip.datacenter", "operator": "equals", "value": true},
                    {"field": "signals.tampered", "operator": "equals", "value": true},
                    {"field": "scores.bot", "operator": "gt", "value": 0.8},
                ]}),
                4 => json!({"operator": "AND", "rules": [
                    {"field": "event.linkedId", "operator": "exists"},
                    {"field": "velocity.visitorsPerIp.24h", "operator": "between", "value": [5, 50]},
                    {"field": "event.linkedId", "operator": "in", "value": "fraud_emails"},
                ]}),
                5 => json!({"operator": "AND", "rules": [
                    {"field": "visitorId", "operator": "in", "value": "blocked_visitors"},
                    {"field": "confidence", "operator": "gte", "value": 0.5},
                    {"field": "event.type", "operator": "not_equals", "value": "registration"},
                ]}),
                6 => json!({"operator": "AND", "rules": [
                    {"field": "event.type", "operator": "equals", "value": "login"},
                    {"field": "velocity.travelKmh", "operator": "gt", "value": 900 + i},
                    {"field": "velocity.newDeviceForAccount", "operator": "equals", "value": true},
                    {"field": "scores.ato", "operator": "gte", "value": 0.2},
                ]}),
                7 => json!({"operator": "AND", "rules": [
                    {"field": "event.url", "operator": "contains", "value": "/login"},
                    {"field": "device.type", "operator": "equals", "value": "desktop"},
                    {"operator": "NOT", "rules": [
                        {"field": "ip.country", "operator": "in", "value": ["DE", "AT", "CH", "FR"]}
                    ]},
                    {"field": "signals.vpn.detected", "operator": "equals", "value": true},
                ]}),
                8 => json!({"operator": "AND", "rules": [
                    {"field": "device.platform", "operator": "in", "value": ["macOS", "Windows"]},
                    {"field": "signals.bot.reasons", "operator": "contains", "value": "webdriver"},
                    {"field": "ip.asnName", "operator": "matches", "value": "(?i)(hosting|cloud|server)"},
                ]}),
                _ => json!({"operator": "AND", "rules": [
                    {"field": "scores.abuse", "operator": "gte", "value": 0.05},
                    {"field": "velocity.distinctLinkedId.24h", "operator": "gte", "value": 1},
                    {"field": "velocity.visitorsPerLinkedId.24h", "operator": "gt", "value": 3 + i % 4},
                    {"field": "ip.address", "operator": "not_in", "value": "blocked_ips"},
                    {"field": "event.url", "operator": "starts_with", "value": "https://shop."},
                    {"field": "ip.timezone", "operator": "ends_with", "value": "Berlin"},
                ]}),
            };
            let cond = parse_conditions(&cond, "conditions", lists).expect("valid rule");
            let action = parse_action(&json!({"verdict": "block"}), "action", lists).expect("action");
            CompiledRule {
                id: format!("rule_{i:03}"),
                name: format!("rule {i}"),
                version: 1,
                priority: i,
                created_ms: START_MS,
                status: Status::Live,
                condition: compile(&cond),
                action,
            }
        })
        .collect();
    RuleSet::new(rules)
}

/// (country, city, timezone, weight)
type Country = (Arc<str>, Arc<str>, Arc<str>, u32);

/// Pools of values, shared by reference so that a million events do not allocate a million
/// copies of "registration".
struct Pools {
    visitors: Vec<Arc<str>>,
    ips: Vec<Arc<str>>,
    emails: Vec<Arc<str>>,
    countries: Vec<Country>,
    types: [Arc<str>; 3],
    urls: Vec<Arc<str>>,
    platforms: Vec<Arc<str>>,
    browsers: Vec<Arc<str>>,
    gpus: Vec<Arc<str>>,
    device_types: Vec<Arc<str>>,
    asns: Vec<(f64, Arc<str>)>,
    reasons: Vec<Arc<[Arc<str>]>>,
}

fn pools() -> Pools {
    let a = |s: &str| Arc::<str>::from(s);
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    Pools {
        visitors: (0..320_000).map(|i| a(&format!("pv_{i:013}"))).collect(),
        ips: (0..420_000)
            .map(|_| a(&std::net::Ipv4Addr::from(rng.next() as u32).to_string()))
            .collect(),
        emails: (0..220_000)
            .map(|i| a(&format!("user{i}@mail{}.example", i % 40)))
            .collect(),
        // (country, city, timezone, weight)
        countries: [
            ("US", "New York", "America/New_York", 30),
            ("DE", "Berlin", "Europe/Berlin", 10),
            ("GB", "London", "Europe/London", 8),
            ("IN", "Mumbai", "Asia/Kolkata", 8),
            ("FR", "Paris", "Europe/Paris", 7),
            ("BR", "Sao Paulo", "America/Sao_Paulo", 6),
            ("CA", "Toronto", "America/Toronto", 5),
            ("NL", "Amsterdam", "Europe/Amsterdam", 4),
            ("JP", "Tokyo", "Asia/Tokyo", 4),
            ("NG", "Lagos", "Africa/Lagos", 3),
            ("RU", "Moscow", "Europe/Moscow", 3),
            ("ES", "Madrid", "Europe/Madrid", 3),
            ("AU", "Sydney", "Australia/Sydney", 3),
            ("VN", "Hanoi", "Asia/Bangkok", 3),
            ("MX", "Mexico City", "America/Mexico_City", 3),
        ]
        .iter()
        .map(|(c, city, tz, w)| (a(c), a(city), a(tz), *w))
        .collect(),
        types: [a("registration"), a("login"), a("payment")],
        urls: [
            "/login",
            "/signup",
            "/checkout",
            "/cart",
            "/account",
            "/password-reset",
            "/",
        ]
        .iter()
        .map(|p| a(&format!("https://shop.example.com{p}")))
        .collect(),
        platforms: ["Windows", "macOS", "iOS", "Android", "Linux"]
            .map(a)
            .to_vec(),
        browsers: [
            "Chrome 121",
            "Safari 17",
            "Firefox 122",
            "Edge 121",
            "Chrome Mobile 121",
        ]
        .map(a)
        .to_vec(),
        gpus: [
            "Apple M3 Pro",
            "NVIDIA GeForce RTX 4070",
            "Intel Iris Xe",
            "Adreno 740",
            "SwiftShader",
        ]
        .map(a)
        .to_vec(),
        device_types: ["desktop", "mobile", "tablet"].map(a).to_vec(),
        asns: [
            (3320.0, "Deutsche Telekom AG"),
            (7922.0, "Comcast Cable"),
            (16509.0, "Amazon.com, Inc."),
            (14061.0, "DigitalOcean, LLC"),
            (15169.0, "Google LLC"),
            (4134.0, "Chinanet"),
        ]
        .iter()
        .map(|(n, s)| (*n, a(s)))
        .collect(),
        reasons: vec![
            Arc::from([]),
            Arc::from([a("webdriver")]),
            Arc::from([a("headless"), a("software_gl")]),
            Arc::from([a("no_js")]),
        ],
    }
}

/// The ids of every field the generator sets, looked up once.
struct Ids {
    by_path: std::collections::HashMap<&'static str, FieldId>,
    /// `velocity.<name>.<window>` in order: five names, three windows each.
    velocity: Vec<FieldId>,
}

impl Ids {
    fn new() -> Ids {
        let velocity = [
            "distinctIp",
            "distinctCountry",
            "distinctLinkedId",
            "visitorsPerLinkedId",
            "visitorsPerIp",
        ]
        .iter()
        .flat_map(|n| ["5m", "1h", "24h"].map(|w| field(&format!("velocity.{n}.{w}"))))
        .collect();
        Ids {
            by_path: prynt_rules::fields::FIELDS
                .iter()
                .map(|d| (d.path, field(d.path)))
                .collect(),
            velocity,
        }
    }
    fn get(&self, p: &str) -> FieldId {
        self.by_path[p]
    }
}

/// One synthetic event: ~7% bots (registrations, from datacenters, fast), the rest people.
fn synthetic(
    rng: &mut Rng,
    p: &Pools,
    ids: &Ids,
    f: &mut Facts,
    row: usize,
) -> (i64, String, Option<Verdict>) {
    let bot = rng.chance(70);
    let set = |f: &mut Facts, path: &str, v: Value| f.set(ids.get(path), v);
    let s = |x: &Arc<str>| Value::Str(Arc::clone(x));
    // Visitors with a long tail: some return often.
    let v = if rng.chance(300) {
        rng.below(20_000)
    } else {
        rng.below(p.visitors.len() as u64)
    } as usize;
    set(f, "visitorId", s(&p.visitors[v]));
    set(f, "visitorFound", Value::Bool(rng.chance(700)));
    set(
        f,
        "confidence",
        Value::Num(0.9 + rng.below(10) as f64 / 100.0),
    );
    let ty = if bot {
        if rng.chance(700) {
            0
        } else {
            1
        }
    } else {
        match rng.below(100) {
            0..=19 => 0,
            20..=74 => 1,
            _ => 2,
        }
    };
    set(f, "event.type", s(&p.types[ty]));
    if rng.chance(600) {
        set(
            f,
            "event.linkedId",
            s(&p.emails[rng.below(p.emails.len() as u64) as usize]),
        );
    } else {
        set(f, "event.linkedId", Value::Missing);
    }
    set(
        f,
        "event.url",
        s(&p.urls[rng.below(p.urls.len() as u64) as usize]),
    );
    set(f, "device.platform", s(&p.platforms[rng.below(5) as usize]));
    set(f, "device.browser", s(&p.browsers[rng.below(5) as usize]));
    set(
        f,
        "device.gpu",
        s(&p.gpus[if bot { 4 } else { rng.below(4) as usize }]),
    );
    set(f, "device.type", s(&p.device_types[rng.below(3) as usize]));
    set(
        f,
        "device.screen.w",
        Value::Num([1512.0, 1920.0, 390.0, 1366.0][rng.below(4) as usize]),
    );
    set(
        f,
        "device.screen.h",
        Value::Num([982.0, 1080.0, 844.0, 768.0][rng.below(4) as usize]),
    );
    set(f, "signals.bot.detected", Value::Bool(bot));
    set(
        f,
        "signals.bot.reasons",
        Value::List(Arc::clone(
            &p.reasons[if bot { 1 + rng.below(3) as usize } else { 0 }],
        )),
    );
    let vpn = rng.chance(if bot { 300 } else { 60 });
    set(f, "signals.vpn.detected", Value::Bool(vpn));
    set(
        f,
        "signals.vpn.methods",
        Value::List(Arc::clone(&p.reasons[0])),
    );
    for sig in [
        "signals.proxy",
        "signals.tor",
        "signals.tampered",
        "signals.emulator",
    ] {
        set(f, sig, Value::Bool(rng.chance(if bot { 80 } else { 5 })));
    }
    set(f, "signals.incognito", Value::Bool(rng.chance(150)));
    set(
        f,
        "signals.softwareRendering",
        Value::Bool(bot && rng.chance(800)),
    );
    set(
        f,
        "signals.tamperedReasons",
        Value::List(Arc::clone(&p.reasons[0])),
    );
    set(
        f,
        "scores.suspect",
        Value::Num(if bot {
            7.0 + rng.below(20) as f64
        } else {
            rng.below(8) as f64
        }),
    );
    for sc in ["scores.bot", "scores.abuse", "scores.ato"] {
        let x = rng.below(1000) as f64 / 1000.0;
        set(
            f,
            sc,
            Value::Num(if bot && sc == "scores.bot" {
                0.7 + x * 0.3
            } else {
                x * 0.4
            }),
        );
    }
    set(
        f,
        "ip.address",
        s(&p.ips[rng.below(p.ips.len() as u64) as usize]),
    );
    // Countries by weight.
    let total: u32 = p.countries.iter().map(|c| c.3).sum();
    let mut pick = rng.below(u64::from(total)) as u32;
    let country = p
        .countries
        .iter()
        .find(|c| {
            if pick < c.3 {
                true
            } else {
                pick -= c.3;
                false
            }
        })
        .unwrap_or(&p.countries[0]);
    set(f, "ip.country", s(&country.0));
    set(f, "ip.city", s(&country.1));
    set(f, "ip.timezone", s(&country.2));
    // Coordinates as the GeoIP database has them: f32.
    set(
        f,
        "ip.lat",
        Value::Num(f64::from((rng.below(18_000) as f32 - 9_000.0) / 100.0)),
    );
    set(
        f,
        "ip.lng",
        Value::Num(f64::from((rng.below(36_000) as f32 - 18_000.0) / 100.0)),
    );
    let asn = &p.asns[if bot {
        2 + rng.below(2) as usize
    } else {
        rng.below(p.asns.len() as u64) as usize
    }];
    set(f, "ip.asn", Value::Num(asn.0));
    set(f, "ip.asnName", s(&asn.1));
    set(f, "ip.datacenter", Value::Bool(bot || rng.chance(20)));
    set(
        f,
        "ip.blocklisted",
        Value::Bool(rng.chance(if bot { 200 } else { 5 })),
    );
    let extra = if bot { 300 } else { 0 };
    for name in 0..5 {
        let base = rng.count(extra);
        for k in 0..3 {
            let grow = if k == 0 { 0.0 } else { rng.count(0) * k as f64 };
            f.set(
                ids.velocity[name * 3 + k],
                Value::Num((base + grow).min(254.0)),
            );
        }
    }
    set(
        f,
        "velocity.newDeviceForAccount",
        Value::Bool(rng.chance(50)),
    );
    set(
        f,
        "velocity.travelKmh",
        if rng.chance(300) {
            Value::Num(rng.below(20_000) as f64 / 10.0)
        } else {
            Value::Missing
        },
    );

    let ts = START_MS + (row as i64 * DAYS * DAY_MS) / EVENTS as i64;
    let secs = ts / 1000;
    let request_id = format!("req_{secs}_{:06x}", row & 0xFF_FFFF);
    let verdict = match rng.below(100) {
        0..=79 => Some(Verdict::Allow),
        80..=89 => Some(Verdict::Challenge),
        90..=94 => Some(Verdict::Block),
        _ => None,
    };
    (ts, request_id, verdict)
}

fn benches(c: &mut Criterion) {
    let lists = lists();

    // 1. One identification against 100 live rules, none matching.
    let facts = Facts::from_event(&realistic_event());
    let set = hundred_rules(&lists);
    let d = set.evaluate(&facts, &lists, NOW_S);
    assert!(d.matched.is_none(), "no rule may match: all 100 must run");
    assert_eq!(d.verdict, Some(Verdict::Allow));
    c.bench_function("evaluate/100_live_rules", |b| {
        b.iter(|| set.evaluate(black_box(&facts), &lists, NOW_S))
    });

    // 2. A month of events in the columnar table.
    let p = pools();
    let ids = Ids::new();
    let mut rng = Rng(0x0DDB_1A5E_5BAD_5EED);
    let mut table = EventTable::new();
    let mut f = Facts::new();
    let mut sample_facts: Vec<Facts> = Vec::new();
    let mut sample_rows = Vec::new();
    const BRUTE_N: usize = 100_000;
    let started = std::time::Instant::now();
    for row in 0..EVENTS {
        let (ts, rid, verdict) = synthetic(&mut rng, &p, &ids, &mut f, row);
        table.push(ts, &rid, verdict, &f);
        if row % (EVENTS / BRUTE_N) == 0 && sample_facts.len() < BRUTE_N {
            sample_facts.push(f.clone());
            sample_rows.push((ts, rid, verdict));
        }
    }
    eprintln!(
        "event table: {} rows generated and pushed in {:.2} s; {} bytes in memory, {:.0} bytes \
         per row",
        table.len(),
        started.elapsed().as_secs_f64(),
        table.memory_bytes(),
        table.memory_bytes() as f64 / table.len() as f64
    );

    // Loading a table: pushing events into an empty one (the dictionaries grow from nothing).
    let mut g = c.benchmark_group("table");
    g.sample_size(10);
    g.throughput(Throughput::Elements(sample_facts.len() as u64));
    g.bench_function(format!("push/{}", sample_facts.len()), |b| {
        b.iter(|| {
            let mut t = EventTable::new();
            for (f, (ts, rid, verdict)) in sample_facts.iter().zip(&sample_rows) {
                t.push(*ts, rid, *verdict, f);
            }
            t.len()
        })
    });
    g.finish();

    let cond = parse_conditions(
        &json!({"operator": "AND", "rules": [
            {"field": "signals.bot.detected", "operator": "equals", "value": true},
            {"field": "event.type", "operator": "equals", "value": "registration"},
            {"field": "ip.country", "operator": "in", "value": ["US", "CA"]},
        ]}),
        "conditions",
        &lists,
    )
    .expect("valid rule");
    let rule = compile(&cond);
    let trusted = lists.get("trusted_visitors").into_iter().collect();
    let evidence = Evidence {
        allow_lists: trusted,
    };
    let (from, to) = (START_MS, START_MS + DAYS * DAY_MS + 1);
    let out = backtest(&table, &rule, &lists, &evidence, from, to, NOW_S, 10);
    eprintln!(
        "backtest: {} of {} events match ({} visitors, {} with evidence of legitimacy)",
        out.match_count, out.total_events, out.matched_visitors, out.legit_evidence
    );
    assert_eq!(out.total_events, EVENTS as u64);

    let mut g = c.benchmark_group("backtest");
    g.sample_size(20);
    g.throughput(Throughput::Elements(EVENTS as u64));
    g.bench_function(format!("3_conditions/{EVENTS}"), |b| {
        b.iter(|| {
            backtest(
                black_box(&table),
                &rule,
                &lists,
                &evidence,
                from,
                to,
                NOW_S,
                10,
            )
        })
    });
    // 3. The baseline: the same rule, event by event over typed facts.
    g.throughput(Throughput::Elements(sample_facts.len() as u64));
    g.bench_function("brute_force_rows", |b| {
        b.iter(|| {
            sample_facts
                .iter()
                .filter(|f| rule.matches(black_box(f), &lists, NOW_S))
                .count()
        })
    });
    g.finish();
}

criterion_group!(rules, benches);
criterion_main!(rules);
