//! Rules and lists end to end: CRUD with versions and exact validation errors, verdicts on
//! identification (priority, first match, monitor, draft and paused), side effects seen by the
//! next identification, list batches and TTL, the outbox rows, and backtests checked against
//! a brute-force count over the same stored events.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{store_query, TestServer};

fn send(s: &TestServer, method: Method, path: &str, body: &Value) -> (u16, Value) {
    let r = s
        .req(method, path, &s.secret_key)
        .json(body)
        .send()
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

fn post(s: &TestServer, path: &str, body: Value) -> (u16, Value) {
    send(s, Method::POST, path, &body)
}

fn create_rule(s: &TestServer, body: Value) -> String {
    let (status, r) = post(s, "/v1/rules", body);
    assert_eq!(status, 200, "{r}");
    r["id"].as_str().unwrap().to_owned()
}

fn create_list(s: &TestServer, body: Value) -> String {
    let (status, r) = post(s, "/v1/lists", body);
    assert_eq!(status, 200, "{r}");
    r["id"].as_str().unwrap().to_owned()
}

fn leaf(field: &str, op: &str, value: Value) -> Value {
    json!({"field": field, "operator": op, "value": value})
}

fn and(rules: Vec<Value>) -> Value {
    json!({"operator": "AND", "rules": rules})
}

fn start() -> (tempfile::TempDir, TestServer) {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(tmp.path(), &["--trust-proxy", "127.0.0.1/32"]);
    (tmp, s)
}

#[test]
fn rules_are_created_listed_versioned_updated_and_deleted() {
    let (_tmp, s) = start();
    create_list(
        &s,
        json!({"name": "blocked_devices", "type": "visitor", "ttl": 2592000}),
    );
    let reference = json!({
        "name": "Block Bot Registrations", "priority": 1, "status": "live",
        "conditions": and(vec![
            leaf("signals.bot.detected", "equals", json!(true)),
            leaf("event.type", "equals", json!("registration")),
        ]),
        "action": {"verdict": "block", "sideEffects": [{"type": "addToList", "list": "blocked_devices"}]}
    });
    let (status, created) = post(&s, "/v1/rules", reference.clone());
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("rul_") && id.len() == 16, "{id}");
    assert_eq!(created["propagated"], true);
    let ms = created["propagationMs"].as_u64().unwrap();
    assert!((1..2000).contains(&ms), "{ms}");
    assert_eq!(created["version"], 1);

    // Default priority: the next after the highest.
    let second = create_rule(
        &s,
        json!({"name": "Challenge logins", "conditions": {"operator": "OR", "rules": [
            leaf("event.type", "equals", json!("login")),
            leaf("scores.suspect", "gte", json!(20)),
            leaf("ip.country", "in", json!(["KP", "IR"])),
        ]}, "action": {"verdict": "challenge"}}),
    );
    let (_, full) = s.json(&format!("/v1/rules/{second}"), &s.secret_key);
    assert_eq!(full["priority"], 2);
    assert_eq!(full["status"], "draft", "the default status");

    let (status, page) = s.json("/v1/rules", &s.secret_key);
    assert_eq!(status, 200);
    assert_eq!(page["total"], 2);
    assert_eq!(page["hasMore"], false);
    let first = &page["data"][0];
    assert_eq!(first["id"], id.as_str());
    assert_eq!(first["conditions"], json!({"operator": "AND", "count": 2}));
    assert_eq!(first["action"], "block");
    assert_eq!(
        page["data"][1]["conditions"],
        json!({"operator": "OR", "count": 3})
    );
    let (_, live) = s.json("/v1/rules?status=live", &s.secret_key);
    assert_eq!(live["total"], 1);
    let (_, one) = s.json("/v1/rules?limit=1&offset=0", &s.secret_key);
    assert_eq!(
        (one["data"].as_array().unwrap().len(), &one["hasMore"]),
        (1, &json!(true))
    );

    let (status, full) = s.json(&format!("/v1/rules/{id}"), &s.secret_key);
    assert_eq!(status, 200);
    assert_eq!(full["conditions"], reference["conditions"]);
    assert_eq!(full["action"], reference["action"]);
    assert_eq!(full["stats"], json!({"matchCount": 0, "lastMatchAt": null}));

    // PUT and PATCH both take partial bodies; each change is a new version.
    let (status, up) = send(
        &s,
        Method::PUT,
        &format!("/v1/rules/{id}"),
        &json!({"status": "paused"}),
    );
    assert_eq!(status, 200, "{up}");
    assert_eq!(
        (up["status"].as_str(), up["version"].as_i64()),
        (Some("paused"), Some(2))
    );
    assert_eq!(up["propagated"], true);
    let (status, up) = send(
        &s,
        Method::PATCH,
        &format!("/v1/rules/{id}"),
        &json!({"name": "Renamed", "sideEffects": [{"type": "tag", "key": "reason", "value": "bot"}]}),
    );
    assert_eq!(status, 200, "{up}");
    assert_eq!(up["version"], 3);
    let (_, full) = s.json(&format!("/v1/rules/{id}"), &s.secret_key);
    assert_eq!(full["name"], "Renamed");
    assert_eq!(full["status"], "paused");
    assert_eq!(full["conditions"], reference["conditions"], "untouched");
    assert_eq!(
        full["action"],
        json!({"verdict": "block", "sideEffects": [{"type": "tag", "key": "reason", "value": "bot"}]}),
        "sideEffects replaces the side effects and keeps the verdict"
    );

    // Public keys and other environments see nothing.
    let r = s.get("/v1/rules", &s.public_key);
    assert_eq!(r.status(), 403);
    let live_key = s.create_key("live", "secret", "default");
    let (status, other) = s.json("/v1/rules", &live_key);
    assert_eq!((status, &other["total"]), (200, &json!(0)));
    let (status, _) = s.json(&format!("/v1/rules/{id}"), &live_key);
    assert_eq!(status, 404);

    let (status, del) = send(&s, Method::DELETE, &format!("/v1/rules/{id}"), &json!({}));
    assert_eq!((status, del), (200, json!({"deleted": true, "ruleId": id})));
    assert_eq!(s.json(&format!("/v1/rules/{id}"), &s.secret_key).0, 404);
    assert_eq!(
        send(&s, Method::DELETE, &format!("/v1/rules/{id}"), &json!({})).0,
        404
    );
    assert_eq!(s.json("/v1/rules/not-a-rule", &s.secret_key).0, 400);
}

#[test]
fn invalid_rules_are_refused_with_the_exact_field() {
    let (_tmp, s) = start();
    create_list(&s, json!({"name": "ips", "type": "ip"}));
    let ok_action = json!({"verdict": "block"});
    let rule =
        |conditions: Value| json!({"name": "r", "conditions": conditions, "action": ok_action});
    let deep = (0..9).fold(
        leaf("visitorFound", "exists", Value::Null),
        |inner, _| json!({"operator": "AND", "rules": [inner]}),
    );
    let many: Vec<Value> = (0..101)
        .map(|i| leaf("scores.suspect", "gt", json!(i)))
        .collect();
    let cases: Vec<(Value, &str)> = vec![
        (
            rule(and(vec![leaf("signals.martian", "equals", json!(true))])),
            "conditions.rules[0].field",
        ),
        (
            rule(and(vec![
                leaf("ip.country", "equals", json!("US")),
                leaf("signals.bot.detected", "gt", json!(1)),
            ])),
            "conditions.rules[1].operator",
        ),
        (
            rule(and(vec![
                leaf("ip.country", "equals", json!("US")),
                leaf("scores.bot", "gt", json!("high")),
            ])),
            "conditions.rules[1].value",
        ),
        (
            rule(and(vec![leaf("ip.address", "in", json!("no_such_list"))])),
            "conditions.rules[0].value",
        ),
        (
            rule(and(vec![leaf("visitorId", "in", json!("ips"))])),
            "conditions.rules[0].value",
        ),
        (
            rule(and(vec![leaf(
                "device.browser",
                "matches",
                json!("(unclosed"),
            )])),
            "conditions.rules[0].value",
        ),
        (
            rule(and(vec![leaf(
                "scores.abuse",
                "between",
                json!([0.9, 0.1]),
            )])),
            "conditions.rules[0].value",
        ),
        (
            rule(
                json!({"operator": "AND", "rules": [{"operator": "NOT", "rules": [leaf("visitorFound", "exists", Value::Null), leaf("visitorFound", "exists", Value::Null)]}]}),
            ),
            "conditions.rules[0].rules",
        ),
        (
            rule(and(vec![
                json!({"field": "ip.country", "operator": "equals", "value": "US", "colour": 1}),
            ])),
            "conditions.rules[0].colour",
        ),
        (rule(and(many)), "conditions.rules[100]"),
        (rule(deep), "conditions"),
        (
            json!({"name": "x".repeat(201), "conditions": and(vec![leaf("visitorFound", "exists", Value::Null)]), "action": ok_action}),
            "name",
        ),
        (json!({"name": "r", "action": ok_action}), "conditions"),
        (
            json!({"name": "r", "conditions": and(vec![leaf("visitorFound", "exists", Value::Null)]), "action": {"verdict": "maybe"}}),
            "action.verdict",
        ),
        (
            json!({"name": "r", "conditions": and(vec![leaf("visitorFound", "exists", Value::Null)]), "action": {"verdict": "block", "sideEffects": [{"type": "addToList", "list": "nope"}]}}),
            "action.sideEffects[0].list",
        ),
        (
            json!({"name": "r", "conditions": and(vec![leaf("visitorFound", "exists", Value::Null)]), "action": ok_action, "status": "on"}),
            "status",
        ),
        (
            json!({"name": "r", "conditions": and(vec![leaf("visitorFound", "exists", Value::Null)]), "action": ok_action, "priority": -1}),
            "priority",
        ),
        (
            json!({"name": "r", "conditions": and(vec![leaf("visitorFound", "exists", Value::Null)]), "action": ok_action, "owner": "me"}),
            "owner",
        ),
    ];
    for (body, field) in cases {
        let (status, err) = post(&s, "/v1/rules", body.clone());
        assert_eq!(status, 400, "{body}: {err}");
        assert_eq!(err["error"]["code"], "validation_error", "{err}");
        let got = err["error"]["field"].as_str().unwrap_or_default();
        assert!(
            got == field || (field == "conditions" && got.starts_with("conditions")),
            "expected field {field}, got {got}: {err}"
        );
    }
    let (_, page) = s.json("/v1/rules", &s.secret_key);
    assert_eq!(page["total"], 0, "nothing was stored");
    for bad in ["not json", "[1]", ""] {
        let r = s
            .req(Method::POST, "/v1/rules", &s.secret_key)
            .header("content-type", "application/json")
            .body(bad)
            .send()
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
}

#[test]
fn verdicts_follow_priority_monitor_and_side_effects_reach_the_next_identification() {
    let (_tmp, s) = start();
    let ev = s.identify_event(1, "registration", None, "198.51.100.1");
    assert_eq!(ev["verdict"], Value::Null, "no rules: no verdict");
    // A subscriber, so that matches and list changes are queued for delivery.
    let (status, _) = post(
        &s,
        "/v1/webhooks",
        json!({"url": "https://hooks.example.invalid/prynt",
        "events": ["rule_match", "list_update"]}),
    );
    assert_eq!(status, 200);

    create_list(&s, json!({"name": "blocked", "type": "visitor"}));
    let registration = leaf("event.type", "equals", json!("registration"));
    let challenge = create_rule(
        &s,
        json!({"name": "challenge registrations", "priority": 2, "status": "live",
        "conditions": and(vec![registration.clone()]), "action": {"verdict": "challenge"}}),
    );
    let block = create_rule(
        &s,
        json!({"name": "block bot registrations", "priority": 1, "status": "live",
        "conditions": and(vec![registration.clone(), leaf("signals.bot.detected", "equals", json!(true))]),
        "action": {"verdict": "block", "sideEffects": [
            {"type": "addToList", "list": "blocked"}, {"type": "tag", "key": "reason", "value": "bot-signup"}]}}),
    );
    let monitor = create_rule(
        &s,
        json!({"name": "watch", "priority": 0, "status": "monitor",
        "conditions": and(vec![registration.clone()]), "action": {"verdict": "block"}}),
    );
    // Never evaluated: they would match everything first.
    for status in ["draft", "paused"] {
        create_rule(
            &s,
            json!({"name": status, "priority": 0, "status": status,
            "conditions": and(vec![leaf("visitorId", "exists", Value::Null)]), "action": {"verdict": "allow"}}),
        );
    }

    let ev = s.identify_event(2, "registration", None, "198.51.100.2");
    assert_eq!(
        ev["signals"]["bot"]["detected"], true,
        "this HTTP client is a bot"
    );
    assert_eq!(ev["verdict"], "block", "{ev}");
    assert_eq!(ev["matchedRule"]["id"], block.as_str());
    assert_eq!(ev["matchedRule"]["version"], 1);
    assert_eq!(
        ev["monitorMatches"][0]["id"],
        monitor.as_str(),
        "{}",
        ev["monitorMatches"]
    );
    assert_eq!(ev["tags"]["reason"], "bot-signup");
    let visitor = ev["visitorId"].as_str().unwrap().to_owned();
    let (_, v) = s.json(&format!("/v1/visitors/{visitor}"), &s.secret_key);
    assert_eq!(v["lists"], json!(["blocked"]), "{v}");

    // Live rules and no match: allow.
    let ev = s.identify_event(3, "login", None, "198.51.100.3");
    assert_eq!(
        (ev["verdict"].as_str(), &ev["matchedRule"]),
        (Some("allow"), &Value::Null)
    );

    // The list entry the side effect made decides the next identification of that device.
    let listed = create_rule(
        &s,
        json!({"name": "blocked devices", "priority": 0, "status": "live",
        "conditions": and(vec![leaf("visitorId", "in", json!("blocked"))]), "action": {"verdict": "block"}}),
    );
    let ev = s.identify_event(2, "login", None, "198.51.100.2");
    assert_eq!(ev["visitorId"], visitor.as_str());
    assert_eq!(ev["matchedRule"]["id"], listed.as_str(), "{ev}");
    let ev = s.identify_event(4, "login", None, "198.51.100.4");
    assert_eq!(ev["verdict"], "allow", "another device is not on the list");

    // A rule change applies to the very next identification: pausing the block rule.
    let (_, up) = send(
        &s,
        Method::PATCH,
        &format!("/v1/rules/{block}"),
        &json!({"status": "paused"}),
    );
    assert_eq!(up["version"], 2);
    let ev = s.identify_event(5, "registration", None, "198.51.100.5");
    assert_eq!(ev["matchedRule"]["id"], challenge.as_str(), "{ev}");
    assert_eq!(ev["verdict"], "challenge");

    // Statistics are real.
    let (_, r) = s.json(&format!("/v1/rules/{block}"), &s.secret_key);
    assert_eq!(r["stats"]["matchCount"], 1, "{r}");
    assert!(r["stats"]["lastMatchAt"].is_string());
    let (_, r) = s.json(&format!("/v1/rules/{monitor}"), &s.secret_key);
    assert_eq!(r["stats"]["matchCount"], 2, "monitor matches count: {r}");
    let (_, blocked) = s.json("/v1/events?verdict=block", &s.secret_key);
    assert_eq!(blocked["data"].as_array().unwrap().len(), 2);

    // Deleting the list: the rule naming it stops matching on it.
    let (_, lists) = s.json("/v1/lists", &s.secret_key);
    let list_id = lists["data"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = send(
        &s,
        Method::DELETE,
        &format!("/v1/lists/{list_id}"),
        &json!({}),
    );
    assert_eq!(status, 200);
    let ev = s.identify_event(2, "login", None, "198.51.100.2");
    assert_eq!(ev["verdict"], "allow", "{ev}");

    // Every match and list change was queued in the outbox, in the store, in the order made
    // (the list changes came from requests well apart in time).
    let rows: Vec<(String, Value)> = store_query(
        &s.data_dir,
        "SELECT kind, payload FROM outbox ORDER BY created_ms",
    )
    .into_iter()
    .map(|r| match &r[..] {
        [Some(kind), Some(payload)] => (
            kind.clone(),
            serde_json::from_str(payload).expect("an outbox payload is JSON"),
        ),
        other => panic!("an outbox row without kind or payload: {other:?}"),
    })
    .collect();
    let matches = rows.iter().filter(|(k, _)| k == "rule_match").count();
    assert_eq!(
        matches, 5,
        "block + monitor, listed, challenge + monitor: {rows:?}"
    );
    let updates: Vec<&Value> = rows
        .iter()
        .filter(|(k, _)| k == "list_update")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(updates.len(), 2, "the side effect and the deletion");
    assert_eq!(updates[0]["data"]["added"], json!([visitor]));
    assert_eq!(updates[0]["data"]["source"], "rule");
    assert_eq!(updates[1]["data"]["deleted"], true);
    let ids: HashSet<&str> = rows
        .iter()
        .map(|(_, p)| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), rows.len(), "every payload has its own id");
}

#[test]
fn list_entries_are_validated_atomic_and_expire() {
    let (_tmp, s) = start();
    let ips = create_list(
        &s,
        json!({"name": "bad_ips", "type": "ip", "purpose": "block", "description": "abuse"}),
    );
    let (status, err) = post(
        &s,
        "/v1/lists",
        json!({"name": "bad_ips", "type": "visitor"}),
    );
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    for (body, field) in [
        (json!({"name": "x"}), "type"),
        (json!({"name": "x", "type": "phone"}), "type"),
        (json!({"name": "bad name", "type": "ip"}), "name"),
        (json!({"name": "x", "type": "ip", "ttl": 0}), "ttl"),
        (
            json!({"name": "x", "type": "ip", "purpose": "maybe"}),
            "purpose",
        ),
    ] {
        let (status, err) = post(&s, "/v1/lists", body.clone());
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (400, Some(field)),
            "{body}"
        );
    }

    let path = format!("/v1/lists/{ips}/entries");
    let (status, out) = post(
        &s,
        &path,
        json!({"add": ["10.0.0.0/8", "192.0.2.1", "::ffff:198.51.100.7", "192.0.2.1"]}),
    );
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        (out["added"].as_i64(), out["entryCount"].as_i64()),
        (Some(3), Some(3))
    );
    let (_, list) = s.json(&format!("/v1/lists/{ips}"), &s.secret_key);
    let values: HashSet<&str> = list["entries"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        values,
        HashSet::from(["10.0.0.0/8", "192.0.2.1", "198.51.100.7"])
    );
    assert_eq!(list["entries"]["total"], 3);

    // 1,001 entries, or one bad entry: a 400 and nothing applied.
    let many: Vec<String> = (0..1001)
        .map(|i| format!("203.0.{}.{}", i / 256, i % 256))
        .collect();
    let (status, err) = post(&s, &path, json!({"add": many}));
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("validation_error"))
    );
    let (status, err) = post(
        &s,
        &path,
        json!({"add": ["203.0.113.1", "203.0.113.2", "not-an-ip"], "remove": ["192.0.2.1"]}),
    );
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (400, Some("add[2]")),
        "{err}"
    );
    let (_, list) = s.json(&format!("/v1/lists/{ips}"), &s.secret_key);
    assert_eq!(list["entryCount"], 3, "nothing was applied");
    let thousand: Vec<String> = (0..1000)
        .map(|i| format!("203.0.{}.{}", i / 256, i % 256))
        .collect();
    let (status, out) = post(&s, &path, json!({"add": thousand}));
    assert_eq!((status, out["entryCount"].as_i64()), (200, Some(1003)));
    let (_, page) = s.json(
        &format!("/v1/lists/{ips}?limit=100&offset=1000"),
        &s.secret_key,
    );
    assert_eq!(page["entries"]["data"].as_array().unwrap().len(), 3);
    assert_eq!(page["entries"]["hasMore"], false);

    // A blocklist marks the address and a rule can use it.
    create_rule(
        &s,
        json!({"name": "blocklisted", "status": "live",
        "conditions": and(vec![leaf("ip.blocklisted", "equals", json!(true))]), "action": {"verdict": "block"}}),
    );
    let ev = s.identify_event(1, "login", None, "10.20.30.40");
    assert_eq!(
        (ev["ip"]["blocklisted"].as_bool(), ev["verdict"].as_str()),
        (Some(true), Some("block")),
        "{ev}"
    );
    let ev = s.identify_event(1, "login", None, "11.0.0.1");
    assert_eq!(
        (ev["ip"]["blocklisted"].as_bool(), ev["verdict"].as_str()),
        (Some(false), Some("allow"))
    );

    // Emails are compared lower-cased; entries with a TTL stop matching once it passes.
    let emails = create_list(&s, json!({"name": "risky_emails", "type": "email"}));
    let (status, _) = send(
        &s,
        Method::PATCH,
        &format!("/v1/lists/{emails}/entries"),
        &json!({"add": ["Fraud@Example.com"], "ttl": 2}),
    );
    assert_eq!(status, 200);
    create_rule(
        &s,
        json!({"name": "risky", "priority": 0, "status": "live",
        "conditions": and(vec![leaf("event.linkedId", "in", json!("risky_emails"))]), "action": {"verdict": "challenge"}}),
    );
    let ev = s.identify_event(1, "login", Some("fraud@example.com"), "11.0.0.1");
    assert_eq!(ev["verdict"], "challenge", "{ev}");
    std::thread::sleep(std::time::Duration::from_millis(3100));
    let ev = s.identify_event(1, "login", Some("fraud@example.com"), "11.0.0.1");
    assert_eq!(ev["verdict"], "allow", "the entry expired: {ev}");
    let (_, list) = s.json(&format!("/v1/lists/{emails}"), &s.secret_key);
    assert_eq!(list["entryCount"], 0);

    let (_, page) = s.json("/v1/lists?type=email", &s.secret_key);
    assert_eq!(page["total"], 1);
    assert_eq!(s.json("/v1/lists?type=phone", &s.secret_key).0, 400);
    assert_eq!(s.json("/v1/lists/lst_000000000000", &s.secret_key).0, 404);
}

/// The test's own evaluation of `type == registration AND (country-less or ip in 198.51.100.0/24)`.
fn brute_force(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| {
            e["type"] == "registration"
                && e["linkedId"]
                    .as_str()
                    .is_some_and(|l| l.ends_with("@mail.test"))
        })
        .collect()
}

/// Every stored event in full.
fn all_events(s: &TestServer) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/events?limit=100&cursor={c}"),
            None => "/v1/events?limit=100".to_owned(),
        };
        let (_, page) = s.json(&path, &s.secret_key);
        // Listings carry a summary; the brute force reads each full event.
        for item in page["data"].as_array().unwrap() {
            let id = item["requestId"].as_str().unwrap();
            let (status, ev) = s.json(&format!("/v1/events/{id}"), &s.secret_key);
            assert_eq!(status, 200);
            out.push(ev);
        }
        match page["nextCursor"].as_str() {
            Some(c) if page["hasMore"] == true => cursor = Some(c.to_owned()),
            _ => return out,
        }
    }
}

#[test]
fn backtests_count_what_a_brute_force_pass_over_the_events_counts() {
    let (_tmp, s) = start();
    // The brute force reads every event one by one, faster than the pro plan's burst allows.
    let out = s.cli(&[
        "workspaces",
        "update",
        "default",
        "--plan",
        "enterprise",
        "--limits",
        "server=100000,burst=10000",
    ]);
    assert!(out.status.success(), "{out:?}");
    let kinds = ["registration", "login", "payment"];
    for i in 0..45u32 {
        let linked = match i % 4 {
            0 => None,
            1 => Some(format!("user{i}@mail.test")),
            2 => Some(format!("user{i}@other.test")),
            _ => Some(format!("u{i}@mail.test")),
        };
        s.identify_event(
            i % 9,
            kinds[(i % 3) as usize],
            linked.as_deref(),
            &format!("198.51.100.{i}"),
        );
    }
    let conditions = and(vec![
        leaf("event.type", "equals", json!("registration")),
        leaf("event.linkedId", "ends_with", json!("@mail.test")),
        leaf("visitorId", "exists", Value::Null),
    ]);
    let id = create_rule(
        &s,
        json!({"name": "bt", "conditions": conditions, "action": {"verdict": "block"}}),
    );
    let events = all_events(&s);
    let expected = brute_force(&events);
    assert!(!expected.is_empty() && expected.len() < events.len());

    // Trusted visitors are evidence of legitimacy.
    let trusted = create_list(
        &s,
        json!({"name": "trusted", "type": "visitor", "purpose": "allow"}),
    );
    let trusted_visitor = expected[0]["visitorId"].as_str().unwrap().to_owned();
    post(
        &s,
        &format!("/v1/lists/{trusted}/entries"),
        json!({"add": [trusted_visitor]}),
    );
    let legit = expected
        .iter()
        .filter(|e| e["visitorId"] == trusted_visitor.as_str())
        .count();

    let (status, bt) = post(
        &s,
        &format!("/v1/rules/{id}/backtest"),
        json!({"days": 30, "sampleSize": 3}),
    );
    assert_eq!(status, 200, "{bt}");
    assert_eq!(bt["ruleId"], id.as_str());
    assert_eq!(bt["totalEvents"].as_u64(), Some(events.len() as u64));
    assert_eq!(
        bt["matchCount"].as_u64(),
        Some(expected.len() as u64),
        "{bt}"
    );
    let rate = expected.len() as f64 / events.len() as f64;
    assert!((bt["matchRate"].as_f64().unwrap() - rate).abs() < 1e-5);
    assert_eq!(bt["legitEvidenceCount"].as_u64(), Some(legit as u64));
    assert_eq!(
        bt["noEvidenceCount"].as_u64(),
        Some((expected.len() - legit) as u64)
    );
    let fpr = legit as f64 / expected.len() as f64;
    assert!(
        (bt["estimatedFpr"].as_f64().unwrap() - fpr).abs() < 1e-5,
        "{bt}"
    );
    let visitors: HashSet<&str> = expected
        .iter()
        .map(|e| e["visitorId"].as_str().unwrap())
        .collect();
    assert_eq!(bt["matchedVisitors"].as_u64(), Some(visitors.len() as u64));
    assert_eq!(bt["days"], 30);
    assert!(bt["durationMs"].as_u64().is_some());
    let sample = bt["sample"].as_array().unwrap();
    assert_eq!(sample.len(), 3.min(expected.len()));
    let matched_ids: HashSet<&str> = expected
        .iter()
        .map(|e| e["requestId"].as_str().unwrap())
        .collect();
    for row in sample {
        assert!(
            matched_ids.contains(row["requestId"].as_str().unwrap()),
            "{row}"
        );
    }

    // The same rule unsaved gives the same counts; events identified since are counted.
    s.identify_event(50, "registration", Some("late@mail.test"), "198.51.100.200");
    let (status, bt2) = post(
        &s,
        "/v1/rules/backtest",
        json!({"conditions": conditions, "days": 7}),
    );
    assert_eq!(status, 200, "{bt2}");
    assert_eq!(bt2["ruleId"], Value::Null);
    assert_eq!(bt2["matchCount"].as_u64(), Some(expected.len() as u64 + 1));
    assert_eq!(bt2["totalEvents"].as_u64(), Some(events.len() as u64 + 1));
    assert_eq!(
        bt2["sample"].as_array().unwrap().len(),
        10.min(expected.len() + 1)
    );

    // An erased visitor leaves the backtest too.
    let gone = expected[0]["visitorId"].as_str().unwrap();
    let gone_events = events.iter().filter(|e| e["visitorId"] == gone).count();
    let gone_matches = expected.iter().filter(|e| e["visitorId"] == gone).count();
    assert_eq!(
        s.delete(&format!("/v1/visitors/{gone}"), &s.secret_key)
            .status(),
        200
    );
    let (_, bt3) = post(&s, &format!("/v1/rules/{id}/backtest"), json!({}));
    assert_eq!(
        bt3["totalEvents"].as_u64(),
        Some((events.len() + 1 - gone_events) as u64)
    );
    assert_eq!(
        bt3["matchCount"].as_u64(),
        Some((expected.len() + 1 - gone_matches) as u64)
    );
    assert_eq!(bt3["days"], 7, "the default window");

    for (body, field) in [
        (json!({"days": 31}), "days"),
        (json!({"days": 0}), "days"),
        (json!({"sampleSize": 101}), "sampleSize"),
        (json!({"window": 3}), "window"),
    ] {
        let (status, err) = post(&s, &format!("/v1/rules/{id}/backtest"), body.clone());
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (400, Some(field)),
            "{body}: {err}"
        );
    }
    let (status, _) = post(&s, "/v1/rules/rul_000000000000/backtest", json!({}));
    assert_eq!(status, 404);
    let (status, err) = post(&s, "/v1/rules/backtest", json!({"days": 3}));
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (400, Some("conditions"))
    );
}

#[test]
fn after_a_restart_the_event_table_holds_every_event_once() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["--trust-proxy", "127.0.0.1/32"];
    let mut s = TestServer::start_in(tmp.path(), &args);
    for i in 0..5 {
        s.identify_event(i, "login", None, "198.51.100.9");
    }
    assert!(s.terminate().success());
    // The restarted server loads its table in the background while identifications arrive.
    let mut again = TestServer::start_in(tmp.path(), &args);
    again.public_key = s.public_key.clone();
    again.secret_key = s.secret_key.clone();
    let s = again;
    for i in 0..3 {
        s.identify_event(10 + i, "registration", None, "198.51.100.9");
    }
    let body = json!({"conditions": and(vec![leaf("event.type", "equals", json!("registration"))]), "days": 1});
    for _ in 0..2 {
        let (status, bt) = post(&s, "/v1/rules/backtest", body.clone());
        assert_eq!(status, 200, "{bt}");
        assert_eq!(
            (bt["totalEvents"].as_u64(), bt["matchCount"].as_u64()),
            (Some(8), Some(3)),
            "{bt}"
        );
    }
}
