//! The API reference as a contract: every request example of the reference is sent verbatim
//! (the curl examples as curl sends them: `-d` bodies with curl's default form content type,
//! the JSON body examples as JSON) to the real binary, and every response is checked against
//! the reference's response example: each field the reference shows is present with the same
//! JSON type (an integer where it shows an integer), recursively, array elements against the
//! example's element at the same place (or its first). Only the identifiers the reference
//! elides (`rul_9a7f...`) are replaced by the real ones, and the example's key by the test's.

use std::time::Duration;

use reqwest::blocking::Response;
use serde_json::{json, Value};

use crate::harness::{client, payload, TestServer};
use crate::receiver::{self, Receiver};

/// Fields the reference shows with a value that the API answers `null` when it has nothing
/// true to say: geolocation of an address the databases do not place, a blocklist verdict with
/// no blocklist loaded (this server runs without IP data), a GPU the browser hides, the
/// delivery figures of a webhook that has delivered nothing yet, a rule that never matched, the
/// cursor after the last page.
const NULLABLE: &[&str] = &[
    "ip.blocklisted",
    "ip.city",
    "nextCursor",
    "ip.country",
    "ip.lat",
    "ip.lng",
    "device.gpu",
    "data[].lastDeliveryAt",
    "data[].successRate",
    "stats.lastMatchAt",
];

/// Differences between `actual` and the reference example `reference`, by field path.
fn mismatches(reference: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    let name = |p: &str| {
        if p.is_empty() {
            "(body)".to_owned()
        } else {
            p.to_owned()
        }
    };
    match (reference, actual) {
        // The reference shows `null` for values that may be absent: any value fits.
        (Value::Null, _) => {}
        (_, Value::Null) if NULLABLE.contains(&path) => {}
        (Value::Bool(_), Value::Bool(_)) | (Value::String(_), Value::String(_)) => {}
        (Value::Number(r), Value::Number(a)) => {
            if (r.is_i64() || r.is_u64()) && !(a.is_i64() || a.is_u64()) {
                out.push(format!(
                    "{}: the reference shows an integer, got {a}",
                    name(path)
                ));
            }
        }
        (Value::Object(r), Value::Object(a)) => {
            for (k, rv) in r {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match a.get(k) {
                    Some(av) => mismatches(rv, av, &p, out),
                    None => out.push(format!("{p}: missing")),
                }
            }
        }
        // Each element against the example's element at the same place, or its first one:
        // the examples' arrays are lists of alike items, except condition trees, whose leaves
        // differ by position (a boolean value, then a string).
        (Value::Array(r), Value::Array(a)) => {
            for (i, av) in a.iter().enumerate() {
                if let Some(rv) = r.get(i).or(r.first()) {
                    mismatches(rv, av, &format!("{path}[]"), out);
                }
            }
        }
        (r, a) => out.push(format!("{}: the reference shows {r}, got {a}", name(path))),
    }
}

/// Asserts a 200 whose JSON body fits the reference example; returns the body.
fn conforms(what: &str, resp: Response, reference: &str) -> Value {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().expect("body");
    assert_eq!(status, 200, "{what}: {text}");
    assert!(headers.contains_key("x-request-id"), "{what}: X-Request-Id");
    for h in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        let v = headers.get(h).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(v.parse::<u64>().is_ok(), "{what}: {h} is {v:?}");
    }
    let actual: Value = serde_json::from_str(&text).expect("JSON answer");
    let reference = reference_json(reference);
    let mut out = Vec::new();
    mismatches(&reference, &actual, "", &mut out);
    assert!(
        out.is_empty(),
        "{what} differs from the reference:\n{}\n{actual:#}",
        out.join("\n")
    );
    actual
}

/// A reference example as JSON: its `/* ... */` placeholders removed.
fn reference_json(text: &str) -> Value {
    let mut clean = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("/*") {
        clean.push_str(&rest[..i]);
        rest = rest[i..].find("*/").map_or("", |j| &rest[i + j + 2..]);
    }
    clean.push_str(rest);
    serde_json::from_str(&clean).unwrap_or_else(|e| panic!("reference example: {e}\n{clean}"))
}

/// The words of a curl command line as a shell splits them (quotes, `\` line joins).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut started = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                started = true;
            }
            (None, c) if c.is_whitespace() => {
                if started && word != "\\" {
                    words.push(std::mem::take(&mut word));
                }
                word.clear();
                started = false;
            }
            (None, c) => {
                word.push(c);
                started = true;
            }
        }
    }
    if started && word != "\\" {
        words.push(word);
    }
    words
}

/// Sends a reference curl example as curl would: its method (`-X`, else POST with `-d`, else
/// GET), its URL on this server with `ids` (elided prefix, real id) substituted, its headers
/// with the example key replaced by `key`, and its `-d` body with curl's default content type.
fn curl(s: &TestServer, line: &str, ids: &[(&str, &str)], key: &str) -> Response {
    let words = shell_words(line);
    assert_eq!(words.first().map(String::as_str), Some("curl"), "{line}");
    let (mut method, mut url, mut headers, mut data) = (None, None, Vec::new(), None);
    let mut i = 1;
    while i < words.len() {
        match words[i].as_str() {
            "-X" => {
                method = words.get(i + 1).cloned();
                i += 1;
            }
            "-H" => {
                headers.push(words.get(i + 1).cloned().unwrap_or_default());
                i += 1;
            }
            "-d" => {
                data = words.get(i + 1).cloned();
                i += 1;
            }
            w if w.starts_with("https://") => url = Some(w.to_owned()),
            w => panic!("unexpected curl word {w:?} in {line}"),
        }
        i += 1;
    }
    let url = url.expect("URL");
    let path_and_query = &url[url.find("/v1/").expect("/v1/ path")..];
    let mut path = path_and_query.to_owned();
    for (elided, real) in ids {
        if let Some(start) = path.find(elided) {
            let end = path[start..]
                .find(['/', '?'])
                .map_or(path.len(), |e| start + e);
            path.replace_range(start..end, real);
        }
    }
    let method = method.unwrap_or_else(|| if data.is_some() { "POST" } else { "GET" }.into());
    let mut req = client().request(method.parse().expect("method"), s.url(&path));
    for h in headers {
        let (name, value) = h.split_once(':').expect("header");
        let value = value.trim();
        let value = if value.starts_with("Bearer ") {
            format!("Bearer {key}")
        } else {
            value.to_owned()
        };
        req = req.header(name.trim(), value);
    }
    if let Some(d) = data {
        req = req
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(d);
    }
    req.send().expect("request")
}

/// Sends a reference JSON body example as the reference's header block says to.
fn send_json(s: &TestServer, method: &str, path: &str, body: &str) -> Response {
    client()
        .request(method.parse().expect("method"), s.url(path))
        .bearer_auth(&s.secret_key)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .expect("request")
}

// The reference's examples, verbatim.

const EVENT: &str = r#"{
"requestId": "req_1707832921_a7f2c9",
"visitorId": "pv_8kX2mNqR3jT7p",
"confidence": 0.995,
"visitorFound": true,
"firstSeenAt": "2025-09-14T08:12:33Z",
"timestamp": "2026-02-14T11:45:22Z",
"device": {
"platform": "macOS",
"browser": "Chrome 121",
"gpu": "Apple M3 Pro",
"type": "desktop",
"screen": { "w": 2560, "h": 1440 }
},
"signals": {
"bot": { "detected": false },
"vpn": { "detected": false,
"provider": null },
"incognito": false,
"tampered": false,
"emulator": false,
"proxy": false,
"tor": false
},
"scores": {
"abuse": 0.03,
"ato": 0.01,
"bot": 0.02,
"suspect": 4
},
"ip": {
"address": "73.162.xxx.xxx",
"city": "San Francisco",
"country": "US",
"lat": 37.7749,
"lng": -122.4194,
"blocklisted": false
},
"verdict": "allow",
"matchedRule": null
}"#;

const EVENTS: &str = r#"{
"data": [
{
"requestId": "req_170783...",
"visitorId": "pv_8kX2mN...",
"confidence": 0.995,
"verdict": "block",
"timestamp": "2026-02-14T11:45Z"
}
],
"hasMore": true,
"nextCursor": "cur_abc123..."
}"#;

const VISITOR: &str = r#"{
"visitorId": "pv_8kX2mNqR3jT7p",
"firstSeenAt": "2025-09-14T08:12Z",
"lastSeenAt": "2026-02-14T11:45Z",
"totalVisits": 347,
"linkedAccounts": 1,
"devices": [
{
"platform": "macOS",
"browser": "Chrome 121",
"gpu": "Apple M3 Pro"
}
],
"lists": ["trusted_devices"]
}"#;

const VISITOR_DELETED: &str = r#"{
"deleted": true,
"visitorId": "pv_8kX2mNqR3jT7p"
}"#;

const VISITOR_EVENTS: &str = r#"{
"data": [
{
"requestId": "req_1707832921_a7f2c9",
"timestamp": "2026-02-14T11:45:22Z",
"verdict": "allow",
"signals": {
"bot": false,
"vpn": false
}
},
{
"requestId": "req_1707745678_b8c3d2",
"timestamp": "2026-02-14T09:12:15Z",
"verdict": "allow",
"signals": {
"bot": false,
"vpn": false
}
}
],
"hasMore": true
}"#;

const RULE_CREATE: &str = r#"{
"name": "Block Bot Registrations",
"priority": 1,
"status": "live",
"conditions": {
"operator": "AND",
"rules": [
{
"field": "signals.bot.detected",
"operator": "equals",
"value": true
},
{
"field": "event.type",
"operator": "equals",
"value": "registration"
}
]
},
"action": {
"verdict": "block",
"sideEffects": [
{
"type": "addToList",
"list": "blocked_devices"
}
]
}
}"#;

const RULE_CREATED: &str = r#"{
"id": "rul_9a7f2c4e8b1d",
"name": "Block Bot Registrations",
"priority": 1,
"status": "live",
"createdAt": "2026-02-14T14:30:00Z",
"propagated": true,
"propagationMs": 1840
}"#;

const RULES: &str = r#"{
"data": [
{
"id": "rul_9a7f2c4e8b1d",
"name": "Block Bot Registrations",
"status": "live",
"priority": 1,
"conditions": {
"operator": "AND",
"count": 2
},
"action": "block",
"createdAt": "2026-02-14T14:30:00Z"
},
{
"id": "rul_8b6c3d2e9f1a",
"name": "Challenge High-Risk Logins",
"status": "live",
"priority": 2,
"conditions": {
"operator": "OR",
"count": 3
},
"action": "challenge",
"createdAt": "2026-02-13T10:15:00Z"
}
]
}"#;

const RULE: &str = r#"{
"id": "rul_9a7f2c4e8b1d",
"name": "Block Bot Registrations",
"status": "live",
"priority": 1,
"conditions": {
"operator": "AND",
"rules": [
{
"field": "signals.bot.detected",
"operator": "equals",
"value": true
},
{
"field": "event.type",
"operator": "equals",
"value": "registration"
}
]
},
"action": {
"verdict": "block",
"sideEffects": [
{
"type": "addToList",
"list": "blocked_devices"
}
]
},
"stats": {
"matchCount": 8429,
"lastMatchAt": "2026-02-14T14:22:10Z"
},
"createdAt": "2026-02-14T14:30:00Z"
}"#;

const RULE_UPDATED: &str = r#"{
"id": "rul_9a7f2c4e8b1d",
"name": "Block Bot Registrations",
"status": "paused",
"priority": 1,
"updatedAt": "2026-02-14T15:00:00Z",
"propagated": true,
"propagationMs": 1920
}"#;

const RULE_DELETED: &str = r#"{
"deleted": true,
"ruleId": "rul_9a7f2c4e8b1d"
}"#;

const BACKTEST: &str = r#"{
"ruleId": "rul_9a7f2c4e8b1d",
"matchCount": 84291,
"totalEvents": 1284102,
"matchRate": 0.0656,
"estimatedFpr": 0.0002,
"days": 30,
"durationMs": 4821,
"sample": [
{
"requestId": "req_170xxx...",
"visitorId": "pv_4xN7q...",
"timestamp": "2026-02-13T09:12Z"
}
]
}"#;

const LIST_CREATE: &str = r#"{
"name": "blocked_devices",
"type": "visitor",
"description": "Confirmed fraud devices",
"ttl": 2592000
}"#;

const LIST_CREATED: &str = r#"{
"id": "lst_f3a8c7d2e1b4",
"name": "blocked_devices",
"type": "visitor",
"entryCount": 0,
"ttl": 2592000,
"createdAt": "2026-02-14T15:00Z"
}"#;

const LISTS: &str = r#"{
"data": [
{
"id": "lst_f3a8c7d2e1b4",
"name": "blocked_devices",
"type": "visitor",
"entryCount": 47,
"createdAt": "2026-02-14T15:00Z",
"updatedAt": "2026-02-14T16:30Z"
},
{
"id": "lst_a2b3c4d5e6f7",
"name": "trusted_devices",
"type": "visitor",
"entryCount": 128,
"createdAt": "2026-02-10T09:15Z",
"updatedAt": "2026-02-14T12:10Z"
}
]
}"#;

const ENTRIES: &str = r#"{
"add": [
"pv_8kX2mNqR3jT7p",
"pv_4xN7qKmR9sT2p"
],
"remove": [
"pv_old_visitor_id"
]
}"#;

const ENTRIES_CHANGED: &str = r#"{
"listId": "lst_f3a8c7d2e1b4",
"added": 2,
"removed": 1,
"entryCount": 47
}"#;

const LIST_DELETED: &str = r#"{
"deleted": true,
"listId": "lst_f3a8c7d2e1b4"
}"#;

const WEBHOOK_CREATE: &str = r#"{
"url": "https://your-app.com/webhooks/prynt",
"events": ["identification", "rule_match"],
"filters": {
"verdict": ["block", "challenge"]
}
}"#;

const WEBHOOK_CREATED: &str = r#"{
"id": "whk_c4e8b1d2a7f3",
"url": "https://your-app.com/...",
"status": "active",
"secret": "whsec_xxxxxxxxxxxxxx",
"createdAt": "2026-02-14T15:30Z"
}"#;

const WEBHOOK_PAYLOAD: &str = r#"{
"event": "identification",
"timestamp": "2026-02-14T15:32Z",
"data": {
"requestId": "req_170xxx...",
"visitorId": "pv_8kX2mN...",
"verdict": "block",
"signals": { /* ... */ }
}
}"#;

const WEBHOOKS: &str = r#"{
"data": [
{
"id": "whk_c4e8b1d2a7f3",
"url": "https://your-app.com/...",
"events": ["identification", "rule_match"],
"status": "active",
"createdAt": "2026-02-14T15:30Z",
"lastDeliveryAt": "2026-02-15T07:12Z",
"successRate": 0.998
}
],
"total": 1
}"#;

const WEBHOOK_UPDATE: &str = r#"{
"status": "paused"
}"#;

const WEBHOOK_UPDATED: &str = r#"{
"id": "whk_c4e8b1d2a7f3",
"url": "https://your-app.com/...",
"events": ["identification", "rule_match"],
"status": "paused",
"updatedAt": "2026-02-15T07:45Z"
}"#;

const WEBHOOK_DELETED: &str = r#"{
"deleted": true,
"webhookId": "whk_c4e8b1d2a7f3"
}"#;

const ANALYTICS_EVENTS: &str = r#"{
"from": "2026-02-07T00:00Z",
"to": "2026-02-14T00:00Z",
"total": 1284102,
"groups": [
{
"verdict": "allow",
"count": 1187421,
"pct": 0.9247
},
{
"verdict": "challenge",
"count": 48290,
"pct": 0.0376
},
{
"verdict": "block",
"count": 48391,
"pct": 0.0377
}
]
}"#;

const ANALYTICS_SIGNALS: &str = r#"{
"from": "2026-02-01T00:00Z",
"to": "2026-02-15T00:00Z",
"total": 2847291,
"signals": [
{
"signal": "bot",
"count": 84291,
"rate": 0.0296,
"trend": "up"
},
{
"signal": "vpn",
"count": 12847,
"rate": 0.0045,
"trend": "stable"
},
{
"signal": "incognito",
"count": 47821,
"rate": 0.0168,
"trend": "down"
}
]
}"#;

const ERROR_KEY: &str = r#"{
"error": {
"code": "invalid_api_key",
"message": "The API key is invalid or revoked.",
"docs": "https://docs.prynt.io/errors#invalid_api_key"
}
}"#;

const ERROR_RATE: &str = r#"{
"error": {
"code": "rate_limited",
"message": "Rate limit exceeded. Retry in 12s.",
"retryAfter": 12
}
}"#;

const ERROR_VALIDATION: &str = r#"{
"error": {
"code": "validation_error",
"message": "'conditions' is required.",
"field": "conditions"
}
}"#;

/// Asserts an error answer fits the reference's error example, with its status and code.
fn error_conforms(what: &str, resp: Response, status: u16, reference: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status, "{what}");
    assert!(resp.headers().contains_key("x-request-id"), "{what}");
    let actual: Value = resp.json().expect("JSON error body");
    let reference = reference_json(reference);
    let mut out = Vec::new();
    mismatches(&reference, &actual, "", &mut out);
    assert!(out.is_empty(), "{what}:\n{}\n{actual:#}", out.join("\n"));
    assert_eq!(
        actual["error"]["code"], reference["error"]["code"],
        "{what}"
    );
    actual
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k} in {v}"))
}

#[test]
fn every_request_example_of_the_reference_works_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(tmp.path(), &["--dev-allow-loopback-webhooks"]);
    let key = s.secret_key.clone();

    // Lists.
    let list = conforms(
        "create a list",
        send_json(&s, "POST", "/v1/lists", LIST_CREATE),
        LIST_CREATED,
    );
    let list_id = str_of(&list, "id").to_owned();
    let changed = conforms(
        "update list entries",
        send_json(&s, "POST", &format!("/v1/lists/{list_id}/entries"), ENTRIES),
        ENTRIES_CHANGED,
    );
    // `pv_old_visitor_id` was never in the list: removing it is a no-op, not counted.
    assert_eq!(
        (changed["added"].as_u64(), changed["removed"].as_u64()),
        (Some(2), Some(0))
    );
    let ids_list = [("lst_f3a8c7...", list_id.as_str())];
    conforms(
        "list all lists",
        curl(
            &s,
            r#"curl "https://api.prynt.io/v1/lists?type=visitor" \ -H "Authorization: Bearer sk_live_...""#,
            &ids_list,
            &key,
        ),
        LISTS,
    );

    // Rules.
    let rule = conforms(
        "create a rule",
        send_json(&s, "POST", "/v1/rules", RULE_CREATE),
        RULE_CREATED,
    );
    let rule_id = str_of(&rule, "id").to_owned();

    // Events to read: a bot registration the rule blocks, and an ordinary visit, with a
    // receiver subscribed to identifications.
    let rx = Receiver::start(receiver::OK, 0);
    let hook = client()
        .post(s.url("/v1/webhooks"))
        .bearer_auth(&key)
        .json(&json!({"url": rx.url("http"), "events": ["identification"]}))
        .send()
        .unwrap();
    assert_eq!(hook.status(), 200);
    let hook: Value = hook.json().unwrap();
    let mut bot = payload(7);
    bot["components"]["automation"]["webdriver"] = json!(true);
    bot["type"] = json!("registration");
    let (blocked, _) = s.identify_ok(&s.public_key, &bot);
    let (other, _) = s.identify_ok(&s.public_key, &payload(8));
    let request_id = str_of(&blocked, "requestId").to_owned();
    let visitor_id = str_of(&blocked, "visitorId").to_owned();
    let ids = [
        ("rul_9a7f...", rule_id.as_str()),
        ("rul_9a7f", rule_id.as_str()),
        ("req_1707832921_a7f2c9", request_id.as_str()),
        ("pv_8kX2mN...", visitor_id.as_str()),
        ("lst_f3a8c7...", list_id.as_str()),
    ];

    let event = conforms(
        "retrieve an event",
        curl(
            &s,
            r#"curl https://api.prynt.io/v1/events/req_1707832921_a7f2c9 \ -H "Authorization: Bearer sk_live_...""#,
            &ids,
            &key,
        ),
        EVENT,
    );
    assert_eq!(event["verdict"], "block", "{event}");
    assert!(event["firstSeenAt"].is_string());
    let page = conforms(
        "list events",
        curl(
            &s,
            r#"curl "https://api.prynt.io/v1/events?verdict=block&limit=10" \ -H "Authorization: Bearer sk_live_...""#,
            &ids,
            &key,
        ),
        EVENTS,
    );
    assert_eq!(page["data"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(page["hasMore"], false);

    // The delivery carries the event as the API reads it, in the reference's payload shape.
    let hits = rx.wait(Duration::from_secs(20), "two identifications", |h| {
        h.len() >= 2
    });
    let delivered = hits
        .iter()
        .map(|h| h.json())
        .find(|p| p["data"]["requestId"] == request_id.as_str())
        .expect("the blocked event's delivery");
    let mut out = Vec::new();
    mismatches(&reference_json(WEBHOOK_PAYLOAD), &delivered, "", &mut out);
    assert!(out.is_empty(), "webhook payload: {out:?}\n{delivered:#}");
    assert_eq!(
        delivered["data"], event,
        "the payload's event is the event as GET reads it"
    );

    let visitor = conforms(
        "retrieve a visitor",
        client()
            .get(s.url(&format!("/v1/visitors/{visitor_id}")))
            .bearer_auth(&key)
            .send()
            .unwrap(),
        VISITOR,
    );
    assert_eq!(visitor["lists"], json!(["blocked_devices"]), "{visitor}");
    conforms(
        "list visitor events",
        curl(
            &s,
            r#"curl "https://api.prynt.io/v1/visitors/pv_8kX2mN.../events?limit=5" \ -H "Authorization: Bearer sk_live_...""#,
            &ids,
            &key,
        ),
        VISITOR_EVENTS,
    );

    let rules = conforms(
        "list rules",
        curl(
            &s,
            r#"curl "https://api.prynt.io/v1/rules?status=live" \ -H "Authorization: Bearer sk_live_...""#,
            &ids,
            &key,
        ),
        RULES,
    );
    assert_eq!(rules["data"][0]["id"], rule_id.as_str());
    let got = conforms(
        "retrieve a rule",
        curl(
            &s,
            r#"curl https://api.prynt.io/v1/rules/rul_9a7f... \ -H "Authorization: Bearer sk_live_...""#,
            &ids,
            &key,
        ),
        RULE,
    );
    assert_eq!(got["stats"]["matchCount"], 1, "{got}");
    let bt = conforms(
        "backtest a rule",
        curl(
            &s,
            r#"curl -X POST \ https://api.prynt.io/v1/rules/rul_9a7f.../backtest \ -H "Authorization: Bearer sk_live_..." \ -d '{ "days": 30, "sampleSize": 5 }'"#,
            &ids,
            &key,
        ),
        BACKTEST,
    );
    assert_eq!(
        (bt["matchCount"].as_u64(), bt["days"].as_u64()),
        (Some(1), Some(30)),
        "{bt}"
    );
    let updated = conforms(
        "update a rule",
        curl(
            &s,
            r#"curl -X PUT \ https://api.prynt.io/v1/rules/rul_9a7f... \ -H "Authorization: Bearer sk_live_..." \ -d '{ "status": "paused" }'"#,
            &ids,
            &key,
        ),
        RULE_UPDATED,
    );
    assert_eq!(updated["status"], "paused");

    // Webhooks.
    let created = conforms(
        "create a webhook",
        send_json(&s, "POST", "/v1/webhooks", WEBHOOK_CREATE),
        WEBHOOK_CREATED,
    );
    let webhook_id = str_of(&created, "id").to_owned();
    let listed = conforms(
        "list webhooks",
        curl(
            &s,
            r#"curl "https://api.prynt.io/v1/webhooks?status=active" \ -H "Authorization: Bearer sk_live_...""#,
            &ids,
            &key,
        ),
        WEBHOOKS,
    );
    assert_eq!(listed["total"], 2, "{listed}");
    let receiving = listed["data"]
        .as_array()
        .and_then(|d| d.iter().find(|w| w["id"] == hook["id"]))
        .expect("the receiver's webhook");
    assert!(receiving["lastDeliveryAt"].is_string() && receiving["successRate"].is_number());
    for method in ["PATCH", "PUT"] {
        let paused = conforms(
            &format!("update a webhook ({method})"),
            send_json(
                &s,
                method,
                &format!("/v1/webhooks/{webhook_id}"),
                WEBHOOK_UPDATE,
            ),
            WEBHOOK_UPDATED,
        );
        assert_eq!(paused["status"], "paused");
    }

    // Analytics: the examples' own ranges (no events then), and the same queries over the
    // range that holds the test's events, so that the groups are checked too.
    let analytics = conforms(
        "query event analytics",
        curl(
            &s,
            r#"curl "https://api.prynt.io/v1/analytics/events?from=2026-02-07T00:00:00Z&to=2026-02-14T00:00:00Z&groupBy=verdict" \ -H "Authorization: Bearer sk_live_...""#,
            &ids,
            &key,
        ),
        ANALYTICS_EVENTS,
    );
    assert_eq!(analytics["total"], 0);
    conforms(
        "query Smart Signal analytics",
        curl(
            &s,
            r#"curl "https://api.prynt.io/v1/analytics/signals?from=2026-02-01T00:00:00Z&to=2026-02-15T00:00:00Z&groupBy=signal" \ -H "Authorization: Bearer sk_live_...""#,
            &ids,
            &key,
        ),
        ANALYTICS_SIGNALS,
    );
    let now = str_of(&other, "requestId")
        .split('_')
        .nth(1)
        .and_then(|t| t.parse::<i64>().ok())
        .expect("request id time");
    let day = |t: i64| {
        let d = time::OffsetDateTime::from_unix_timestamp(t - t.rem_euclid(86_400)).unwrap();
        format!(
            "{:04}-{:02}-{:02}T00:00:00Z",
            d.year(),
            u8::from(d.month()),
            d.day()
        )
    };
    let (from, to) = (day(now), day(now + 86_400));
    let a = conforms(
        "event analytics over the test's events",
        client()
            .get(s.url(&format!(
                "/v1/analytics/events?from={from}&to={to}&groupBy=verdict"
            )))
            .bearer_auth(&key)
            .send()
            .unwrap(),
        ANALYTICS_EVENTS,
    );
    assert_eq!(a["total"], 2, "{a}");
    let sig = conforms(
        "signal analytics over the test's events",
        client()
            .get(s.url(&format!(
                "/v1/analytics/signals?from={from}&to={to}&groupBy=signal"
            )))
            .bearer_auth(&key)
            .send()
            .unwrap(),
        ANALYTICS_SIGNALS,
    );
    assert!(!sig["signals"].as_array().unwrap().is_empty(), "{sig}");

    // Errors.
    error_conforms(
        "an unknown key",
        client()
            .get(s.url("/v1/events"))
            .bearer_auth("sk_live_xxxxxxxxxxxxxxxxxxxxxxxx")
            .send()
            .unwrap(),
        401,
        ERROR_KEY,
    );
    error_conforms(
        "no key",
        client().get(s.url("/v1/events")).send().unwrap(),
        401,
        ERROR_KEY,
    );
    let mut without = reference_json(RULE_CREATE);
    without.as_object_mut().unwrap().remove("conditions");
    let v = error_conforms(
        "a rule without conditions",
        send_json(&s, "POST", "/v1/rules", &without.to_string()),
        400,
        ERROR_VALIDATION,
    );
    assert_eq!(v["error"]["field"], "conditions");

    // Deletes, last.
    let ids_w = [("whk_c4e8b1...", webhook_id.as_str())];
    conforms(
        "delete a webhook",
        curl(
            &s,
            r#"curl -X DELETE \ https://api.prynt.io/v1/webhooks/whk_c4e8b1... \ -H "Authorization: Bearer sk_live_...""#,
            &ids_w,
            &key,
        ),
        WEBHOOK_DELETED,
    );
    conforms(
        "delete a rule",
        curl(
            &s,
            r#"curl -X DELETE \ https://api.prynt.io/v1/rules/rul_9a7f... \ -H "Authorization: Bearer sk_live_...""#,
            &ids,
            &key,
        ),
        RULE_DELETED,
    );
    conforms(
        "delete a list",
        curl(
            &s,
            r#"curl -X DELETE \ https://api.prynt.io/v1/lists/lst_f3a8c7... \ -H "Authorization: Bearer sk_live_...""#,
            &ids,
            &key,
        ),
        LIST_DELETED,
    );
    let erased = conforms(
        "delete visitor data",
        curl(
            &s,
            r#"curl -X DELETE \ https://api.prynt.io/v1/visitors/pv_8kX2mN... \ -H "Authorization: Bearer sk_live_...""#,
            &ids,
            &key,
        ),
        VISITOR_DELETED,
    );
    assert_eq!(erased["visitorId"], visitor_id.as_str());
    let (status, _) = s.json(&format!("/v1/events/{request_id}"), &key);
    assert_eq!(status, 404, "the erased visitor's event is gone");
}

#[test]
fn a_spent_budget_answers_the_reference_rate_limit_error() {
    let s = TestServer::start();
    let out = s.cli(&["workspaces", "create", "small", "--plan", "starter"]);
    assert!(out.status.success(), "{out:?}");
    let key = s.create_key("test", "secret", "small");
    let mut limited = None;
    // The starter plan's management budget is 30 a minute (burst 10 a second).
    for _ in 0..40 {
        let r = client()
            .get(s.url("/v1/rules"))
            .bearer_auth(&key)
            .send()
            .unwrap();
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("a 429 within 40 requests");
    let retry_after: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After seconds");
    let body = error_conforms("a spent budget", r, 429, ERROR_RATE);
    assert_eq!(body["error"]["retryAfter"], retry_after);
}
