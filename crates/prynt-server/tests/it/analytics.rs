//! Analytics end to end: every figure of both endpoints checked against a brute-force count
//! over the same stored events, and the refusals of bad ranges and parameters.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{payload, TestServer};

fn iso(ms: i64) -> String {
    let s = ms / 1000;
    let days = s.div_euclid(86_400);
    let secs = s.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn analytics_figures_equal_a_brute_force_count() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(tmp.path(), &["--retention-days", "3"]);
    let r = s
        .req(Method::POST, "/v1/rules", &s.secret_key)
        .json(&json!({"name": "block signups", "status": "live",
            "conditions": {"operator": "AND", "rules": [{"field": "event.type", "operator": "equals", "value": "registration"}]},
            "action": {"verdict": "block"}}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let from = now_ms() - 60_000;
    let mut ids = Vec::new();
    for i in 0..24u32 {
        let mut body = payload(i % 7);
        body["type"] = json!(["registration", "login", "payment"][(i % 3) as usize]);
        let (res, _) = s.identify_ok(&s.public_key, &body);
        ids.push(res["requestId"].as_str().unwrap().to_owned());
    }
    let to = now_ms() + 60_000;
    let events: Vec<Value> = ids
        .iter()
        .map(|id| s.json(&format!("/v1/events/{id}"), &s.secret_key).1)
        .collect();
    let q = |path: &str| {
        let (status, v) = s.json(path, &s.secret_key);
        assert_eq!(status, 200, "{path}: {v}");
        v
    };
    let range = format!("from={}&to={}", iso(from), iso(to));

    let brute = |key: &dyn Fn(&Value) -> Value| {
        let mut m: HashMap<String, u64> = HashMap::new();
        for e in &events {
            *m.entry(key(e).to_string()).or_default() += 1;
        }
        m
    };
    let check = |groupby: &str, key: &dyn Fn(&Value) -> Value| {
        let v = q(&format!("/v1/analytics/events?{range}&groupBy={groupby}"));
        assert_eq!(v["total"], events.len(), "{v}");
        let got: HashMap<String, u64> = v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| (g[groupby].to_string(), g["count"].as_u64().unwrap()))
            .collect();
        assert_eq!(got, brute(key), "{groupby}: {v}");
        let pct: f64 = v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["pct"].as_f64().unwrap())
            .sum();
        assert!((pct - 1.0).abs() < 0.01, "{pct}");
    };
    check("verdict", &|e| e["verdict"].clone());
    check("platform", &|e| e["device"]["platform"].clone());
    check("country", &|e| e["ip"]["country"].clone());
    let day_of = |e: &Value| {
        let t = e["timestamp"].as_str().unwrap();
        json!(format!("{}T00:00:00Z", &t[..10]))
    };
    check("day", &day_of);
    check("hour", &|e: &Value| {
        let t = e["timestamp"].as_str().unwrap();
        json!(format!("{}:00:00Z", &t[..13]))
    });
    let v = q(&format!("/v1/analytics/events?{range}&verdict=block"));
    let blocked = events.iter().filter(|e| e["verdict"] == "block").count();
    assert_eq!(v["total"], blocked);
    assert!(v.get("groups").is_none());

    // Signals: counts and rates per signal, and the day series.
    let v = q(&format!("/v1/analytics/signals?{range}&groupBy=signal"));
    assert_eq!(v["total"], events.len());
    for (name, path) in [
        ("bot", "/signals/bot/detected"),
        ("vpn", "/signals/vpn/detected"),
        ("incognito", "/signals/incognito"),
        ("tampered", "/signals/tampered"),
    ] {
        let n = events
            .iter()
            .filter(|e| e.pointer(path) == Some(&json!(true)))
            .count();
        let f = v["signals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["signal"] == name)
            .unwrap();
        assert_eq!(f["count"], n, "{name}");
        let rate = n as f64 / events.len() as f64;
        assert!((f["rate"].as_f64().unwrap() - rate).abs() < 1e-4, "{name}");
        assert!(["up", "down", "stable"].contains(&f["trend"].as_str().unwrap()));
    }
    let bots = events
        .iter()
        .filter(|e| e["signals"]["bot"]["detected"] == true)
        .count();
    assert!(bots > 0, "these HTTP clients are bots");
    let v = q(&format!(
        "/v1/analytics/signals?{range}&groupBy=day&signal=bot"
    ));
    let series_total: u64 = v["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["total"].as_u64().unwrap())
        .sum();
    let series_bots: u64 = v["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["signals"]["bot"].as_u64().unwrap())
        .sum();
    assert_eq!(
        (series_total, series_bots),
        (events.len() as u64, bots as u64)
    );

    // An empty range is zero counts; bad input is a 400 naming the field.
    let past = now_ms() - 2 * 86_400_000;
    let v = q(&format!(
        "/v1/analytics/events?from={}&to={}&groupBy=verdict",
        iso(past),
        iso(past + 3_600_000)
    ));
    assert_eq!(
        (v["total"].as_u64(), v["groups"].as_array().map(Vec::len)),
        (Some(0), Some(0))
    );
    for (query, field) in [
        (format!("to={}", iso(to)), "from"),
        (format!("from={}", iso(from)), "to"),
        (format!("from={}&to={}", iso(to), iso(from)), "from"),
        (
            format!("from={}&to={}", iso(to - 4 * 86_400_000), iso(to)),
            "from",
        ),
        (format!("from=yesterday&to={}", iso(to)), "from"),
        (format!("{range}&groupBy=colour"), "groupBy"),
        (format!("{range}&verdict=maybe"), "verdict"),
        (format!("{range}&extra=1"), "extra"),
    ] {
        let (status, err) = s.json(&format!("/v1/analytics/events?{query}"), &s.secret_key);
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (400, Some(field)),
            "{query}: {err}"
        );
    }
    for (query, field) in [
        (format!("{range}&groupBy=platform"), "groupBy"),
        (format!("{range}&signal=aliens"), "signal"),
    ] {
        let (status, err) = s.json(&format!("/v1/analytics/signals?{query}"), &s.secret_key);
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (400, Some(field)),
            "{query}: {err}"
        );
    }
    assert_eq!(s.get("/v1/analytics/events", &s.public_key).status(), 403);
}
