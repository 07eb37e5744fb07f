//! Input the API refuses however well formed it looks: bodies naming a key twice (on every JSON
//! route, identify included, nested anywhere), webhook filters naming a rule the caller's
//! workspace and environment do not hold, and pagination cursors that were forged, altered or
//! minted for another workspace, environment or listing.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{assert_error, payload, TestServer};

/// Sends `body` as is (it may say what `serde_json::Value` cannot hold: a key twice).
fn send_raw(
    s: &TestServer,
    method: Method,
    path: &str,
    key: &str,
    body: &str,
) -> reqwest::blocking::Response {
    s.req(method, path, key)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .expect("request")
}

fn send(s: &TestServer, method: Method, path: &str, key: &str, body: Value) -> (u16, Value) {
    let r = s
        .req(method, path, key)
        .json(&body)
        .send()
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

/// Asserts a 400 `validation_error` naming `field`.
fn refused(r: reqwest::blocking::Response, field: &str) -> Value {
    let b = assert_error(r, 400, "validation_error");
    assert_eq!(b["error"]["field"], field, "{b}");
    b
}

fn rule(name: &str) -> Value {
    json!({
        "name": name,
        "conditions": {"operator": "AND", "rules": [
            {"field": "signals.bot.detected", "operator": "equals", "value": true}
        ]},
        "action": {"verdict": "block"}
    })
}

fn create_rule(s: &TestServer, key: &str, name: &str) -> String {
    let (status, r) = send(s, Method::POST, "/v1/rules", key, rule(name));
    assert_eq!(status, 200, "{r}");
    r["id"].as_str().unwrap().to_owned()
}

#[test]
fn a_body_naming_a_key_twice_is_refused_on_every_json_route() {
    let s = TestServer::start();
    let key = s.secret_key.clone();
    let (status, list) = send(
        &s,
        Method::POST,
        "/v1/lists",
        &key,
        json!({"name": "blocked", "type": "visitor"}),
    );
    assert_eq!(status, 200, "{list}");
    let list_id = list["id"].as_str().unwrap();

    // Identify: a duplicate deep in the components, where the payload otherwise is valid.
    let agent = serde_json::to_string(&payload(1)).unwrap();
    assert!(agent.contains(r#""platform":"MacIntel""#));
    let twice = agent.replacen(
        r#""platform":"MacIntel""#,
        r#""platform":"MacIntel","platform":"Win32""#,
        1,
    );
    let b = refused(
        send_raw(&s, Method::POST, "/v1/identify", &s.public_key, &twice),
        "components.platform",
    );
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Duplicate key"),
        "{b}"
    );
    // In an array's object, and spelt with an escape.
    let fonts = agent.replacen(
        r#""timing":{"collectMs":40.0}"#,
        r#""timing":{"collectMs":40.0,"\u0063ollectMs":41.0}"#,
        1,
    );
    assert_ne!(fonts, agent);
    refused(
        send_raw(&s, Method::POST, "/v1/identify", &s.public_key, &fonts),
        "components.timing.collectMs",
    );
    // The same payload once is served, and no refused one was recorded.
    let r = send_raw(&s, Method::POST, "/v1/identify", &s.public_key, &agent);
    assert_eq!(r.status(), 200);
    assert_eq!(s.event_count(&key), 1);

    // Management bodies: top level, nested in objects and arrays.
    let cases: Vec<(Method, String, String, &str)> = vec![
        (
            Method::POST,
            "/v1/rules".into(),
            r#"{"name": "a", "name": "b", "conditions": {"operator": "AND", "rules": [{"field": "visitorFound", "operator": "exists"}]}, "action": {"verdict": "block"}}"#.into(),
            "name",
        ),
        (
            Method::POST,
            "/v1/rules".into(),
            r#"{"name": "a", "conditions": {"operator": "AND", "rules": [{"field": "visitorFound", "operator": "exists", "operator": "not_exists"}]}, "action": {"verdict": "block"}}"#.into(),
            "conditions.rules[0].operator",
        ),
        (
            Method::POST,
            "/v1/webhooks".into(),
            r#"{"url": "https://hooks.example.com/a", "filters": {"verdict": "block", "verdict": "allow"}}"#.into(),
            "filters.verdict",
        ),
        (
            Method::POST,
            format!("/v1/lists/{list_id}/entries"),
            r#"{"add": ["pv_8kX2mNqR3jT7p"], "add": []}"#.into(),
            "add",
        ),
        (
            Method::PATCH,
            "/v1/workspace".into(),
            r#"{"suspectWeights": {"bot": 10, "bot": 90}}"#.into(),
            "suspectWeights.bot",
        ),
        (
            Method::POST,
            "/v1/rules/backtest".into(),
            r#"{"conditions": {"operator": "AND", "rules": [{"field": "visitorFound", "operator": "exists"}]}, "conditions": {}}"#.into(),
            "conditions",
        ),
    ];
    for (method, path, body, field) in cases {
        let r = send_raw(&s, method.clone(), &path, &key, &body);
        assert_eq!(r.status(), 400, "{method} {path} {body}");
        let b: Value = r.json().unwrap();
        assert_eq!(b["error"]["code"], "validation_error", "{path}: {b}");
        // A struct body's own duplicate check may name the field its way; every other names
        // the path.
        if path != "/v1/workspace" {
            assert_eq!(b["error"]["field"], field, "{path}: {b}");
        }
    }
    // Nothing was created by a refused body.
    let (_, rules) = s.json("/v1/rules", &key);
    assert_eq!(rules["total"], 0, "{rules}");
    let (_, hooks) = s.json("/v1/webhooks", &key);
    assert_eq!(hooks["total"], 0, "{hooks}");
    let (_, entries) = s.json(&format!("/v1/lists/{list_id}"), &key);
    assert_eq!(entries["entryCount"], 0, "{entries}");

    // The same key in different objects is no duplicate.
    let (status, body) = send(
        &s,
        Method::POST,
        "/v1/rules",
        &key,
        json!({"name": "nested", "conditions": {"operator": "AND", "rules": [
            {"field": "visitorFound", "operator": "exists"},
            {"operator": "OR", "rules": [{"field": "visitorFound", "operator": "exists"}]}
        ]}, "action": {"verdict": "block"}}),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn a_webhook_filter_names_only_rules_of_its_own_workspace_and_environment() {
    let s = TestServer::start();
    let key = s.secret_key.clone();
    let live = s.create_key("live", "secret", "default");
    assert!(s.cli(&["workspaces", "create", "other"]).status.success());
    let other = s.create_key("test", "secret", "other");

    let own = create_rule(&s, &key, "own");
    let live_rule = create_rule(&s, &live, "live");
    let foreign = create_rule(&s, &other, "foreign");
    let missing = "rul_000000000000";

    let hook = |filters: Value| json!({"url": "https://hooks.example.com/p", "filters": filters});
    for (filters, field) in [
        (json!({"ruleId": foreign}), "filters.ruleId[0]"),
        (json!({"ruleId": [own, live_rule]}), "filters.ruleId[1]"),
        (json!({"ruleId": [own, own, missing]}), "filters.ruleId[2]"),
        (
            json!({"verdict": "block", "ruleId": [foreign]}),
            "filters.ruleId[0]",
        ),
    ] {
        let r = s
            .req(Method::POST, "/v1/webhooks", &key)
            .json(&hook(filters.clone()))
            .send()
            .unwrap();
        let b = refused(r, field);
        // The same answer for another scope's rule as for none: nothing is told about others.
        let message = b["error"]["message"].as_str().unwrap();
        assert!(message.contains("in this workspace and environment"), "{b}");
    }
    let (_, hooks) = s.json("/v1/webhooks", &key);
    assert_eq!(hooks["total"], 0, "{hooks}");

    // The caller's own rules are accepted, bare or in an array.
    let (status, created) = send(
        &s,
        Method::POST,
        "/v1/webhooks",
        &key,
        hook(json!({"ruleId": own})),
    );
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["filters"]["ruleId"], json!([own]));
    let id = created["id"].as_str().unwrap();
    let (status, other_hook) = send(
        &s,
        Method::POST,
        "/v1/webhooks",
        &other,
        hook(json!({"ruleId": [foreign]})),
    );
    assert_eq!(status, 200, "{other_hook}");

    // Updates are checked the same way and leave the webhook as it was when refused.
    for method in [Method::PATCH, Method::PUT] {
        let r = s
            .req(method, &format!("/v1/webhooks/{id}"), &key)
            .json(&json!({"filters": {"ruleId": [own, foreign]}}))
            .send()
            .unwrap();
        refused(r, "filters.ruleId[1]");
    }
    let (_, kept) = s.json(&format!("/v1/webhooks/{id}"), &key);
    assert_eq!(kept["filters"]["ruleId"], json!([own]), "{kept}");
    let second = create_rule(&s, &key, "second");
    let (status, updated) = send(
        &s,
        Method::PATCH,
        &format!("/v1/webhooks/{id}"),
        &key,
        json!({"filters": {"ruleId": [own, second]}}),
    );
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["filters"]["ruleId"], json!([own, second]));
    // An update that leaves the filters alone does not look at them.
    let (status, updated) = send(
        &s,
        Method::PATCH,
        &format!("/v1/webhooks/{id}"),
        &key,
        json!({"description": "kept filters"}),
    );
    assert_eq!(status, 200, "{updated}");
}

/// Every page of `path` (which has a `?`) followed through its cursors; returns the request
/// ids and the cursors seen.
fn follow(s: &TestServer, path: &str, key: &str) -> (Vec<String>, Vec<String>) {
    let (mut ids, mut cursors) = (Vec::new(), Vec::new());
    let mut next: Option<String> = None;
    loop {
        let url = match &next {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_owned(),
        };
        let (status, page) = s.json(&url, key);
        assert_eq!(status, 200, "{url}: {page}");
        for e in page["data"].as_array().unwrap() {
            ids.push(e["requestId"].as_str().unwrap().to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(c) => {
                assert_eq!(page["hasMore"], true);
                cursors.push(c.to_owned());
                next = Some(c.to_owned());
            }
            None => return (ids, cursors),
        }
    }
}

fn is_cursor_shape(c: &str) -> bool {
    c.strip_prefix("cur_").is_some_and(|t| {
        t.len() == 44
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[test]
fn cursors_are_signed_and_bound_to_their_workspace_environment_and_listing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_in(tmp.path(), &[]);
    let key = s.secret_key.clone();
    let public = s.public_key.clone();
    let live = s.create_key("live", "secret", "default");
    let live_public = s.create_key("live", "public", "default");
    assert!(s.cli(&["workspaces", "create", "other"]).status.success());
    let other = s.create_key("test", "secret", "other");
    let other_public = s.create_key("test", "public", "other");

    // Five events of one device, two of another; one event in each other scope, so that their
    // listings are not empty.
    let mut visitor = String::new();
    for seed in [7, 7, 7, 7, 7, 8, 8] {
        let (res, _) = s.identify_ok(&public, &payload(seed));
        if seed == 7 {
            visitor = res["visitorId"].as_str().unwrap().to_owned();
        }
    }
    s.identify_ok(&live_public, &payload(9));
    s.identify_ok(&other_public, &payload(9));

    let (all, cursors) = follow(&s, "/v1/events?limit=2", &key);
    assert_eq!(all.len(), 7, "{all:?}");
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 7, "every event once: {all:?}");
    assert_eq!(cursors.len(), 3);
    assert!(cursors.iter().all(|c| is_cursor_shape(c)), "{cursors:?}");
    let cursor = cursors[0].clone();

    let visitor_path = format!("/v1/visitors/{visitor}/events?limit=1");
    let (mine, visitor_cursors) = follow(&s, &visitor_path, &key);
    assert!(mine.len() >= 2, "{mine:?}");
    let visitor_cursor = visitor_cursors[0].clone();

    // A cursor is good in its own listing only.
    let at = |path: &str, key: &str, c: &str| {
        s.get(
            &format!(
                "{path}{}cursor={c}",
                if path.contains('?') { "&" } else { "?" }
            ),
            key,
        )
    };
    assert_eq!(at("/v1/events?limit=2", &key, &cursor).status(), 200);
    assert_eq!(at(&visitor_path, &key, &visitor_cursor).status(), 200);
    for (path, k, c) in [
        // Another workspace, another environment of the same workspace.
        ("/v1/events?limit=2", other.as_str(), cursor.as_str()),
        ("/v1/events?limit=2", live.as_str(), cursor.as_str()),
        // Another listing of the same scope.
        (visitor_path.as_str(), key.as_str(), cursor.as_str()),
        ("/v1/events?limit=2", key.as_str(), visitor_cursor.as_str()),
        (
            "/v1/visitors/pv_8kX2mNqR3jT7p/events",
            key.as_str(),
            visitor_cursor.as_str(),
        ),
    ] {
        refused(at(path, k, c), "cursor");
    }

    // Altered or forged cursors are refused: each character changed in turn, the former
    // unsigned shape, and a position of the right length with a made-up tag.
    for i in 4..cursor.len() {
        let mut t = cursor.clone().into_bytes();
        t[i] = if t[i] == b'A' { b'B' } else { b'A' };
        let t = String::from_utf8(t).unwrap();
        refused(at("/v1/events?limit=2", &key, &t), "cursor");
    }
    for forged in [
        "cur_0000018d9f4a6e3b00659c1a31a7f2c9".to_owned(),
        format!("cur_{}", "A".repeat(44)),
        format!("{}=", &cursor),
        cursor[..cursor.len() - 1].to_owned(),
    ] {
        refused(at("/v1/events?limit=2", &key, &forged), "cursor");
    }

    // The key is the store's: cursors minted before a restart still lead on after it.
    let (before, _) = follow(&s, "/v1/events?limit=2", &key);
    s.terminate();
    let s = TestServer::start_in(tmp.path(), &[]);
    let (status, page) = s.json(&format!("/v1/events?limit=2&cursor={cursor}"), &key);
    assert_eq!(status, 200, "{page}");
    let ids: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["requestId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        before[2..4].iter().map(String::as_str).collect::<Vec<_>>()
    );
}
