//! What an analyst browses, end to end: the events listing filtered by type and country beside
//! the other filters (checked against the unfiltered listing), its items' type, linked id, bot,
//! country and address as stored, a rule's versions, and a list's entries searched by text.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{assert_error, block_on, TestServer};

/// Every page of `/v1/events?{query}` followed through its cursors, `limit` at a time.
fn all_events(s: &TestServer, query: &str, limit: u32) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/events?limit={limit}");
        if !query.is_empty() {
            path.push('&');
            path.push_str(query);
        }
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = s.json(&path, &s.secret_key);
        assert_eq!(status, 200, "{path}: {page}");
        out.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(c) => {
                assert_eq!(page["hasMore"], true);
                cursor = Some(c.to_owned());
            }
            None => {
                assert_eq!(page["hasMore"], false);
                return out;
            }
        }
    }
}

fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["requestId"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn events_are_filtered_by_type_and_country_with_the_other_filters() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    // What `prynt-bench seed-events --events 400 --days 2` writes, into the store the data
    // dir's server runs on (on a PostgreSQL run, the dir's own database).
    let store_args = crate::harness::store_args(&dir);
    let database_url = store_args
        .iter()
        .skip_while(|a| *a != "--database-url")
        .nth(1);
    prynt_bench::seed::run_and_report(&prynt_bench::seed::Seeding {
        data_dir: &dir,
        database_url: database_url.map(String::as_str),
        events: 400,
        days: 2,
        seed: 1,
    })
    .expect("seed the store");
    // The cross-checks below page through every filter: more than a plan's budget a minute.
    let raised = crate::harness::prynt()
        .args(["workspaces", "update", "default", "--plan", "enterprise"])
        .args(["--limits", "mgmt=100000,burst=10000", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(raised.status.success());
    let city = tmp.path().join("city.mmdb");
    crate::ipdata::write_city(&city);
    let s = TestServer::start_in(
        &dir,
        &[
            "--trust-proxy",
            "127.0.0.1/32",
            "--geoip-city",
            city.to_str().unwrap(),
        ],
    );
    // Identified now, so newest: located in JP by the city file, and one with its address
    // masked by the environment's setting.
    let tokyo = s.identify_event(1, "signup", Some("u-tokyo"), "198.51.100.7")["requestId"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .req(Method::PATCH, "/v1/workspace", &s.secret_key)
        .json(&json!({"maskIp": true}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let masked = s.identify_event(2, "signup", Some("u-masked"), "203.0.113.77")["requestId"]
        .as_str()
        .unwrap()
        .to_owned();

    let all = all_events(&s, "", 100);
    assert_eq!(all.len(), 402);
    // Each item shows what the full event holds.
    for id in [&tokyo, &masked, &ids(&all)[5]] {
        let item = all.iter().find(|e| e["requestId"] == id.as_str()).unwrap();
        let (status, full) = s.json(&format!("/v1/events/{id}"), &s.secret_key);
        assert_eq!(status, 200);
        assert_eq!(item["type"], full["type"], "{item}");
        assert_eq!(item["linkedId"], full["linkedId"], "{item}");
        assert_eq!(item["bot"], full["signals"]["bot"]["detected"], "{item}");
        assert_eq!(item["country"], full["ip"]["country"], "{item}");
        assert_eq!(item["ip"], full["ip"]["address"], "{item}");
        for key in ["type", "linkedId", "bot", "country", "ip"] {
            assert!(item.get(key).is_some(), "{key} in {item}");
        }
    }
    let tokyo_item = all
        .iter()
        .find(|e| e["requestId"] == tokyo.as_str())
        .unwrap();
    assert_eq!(
        (&tokyo_item["type"], &tokyo_item["country"]),
        (&json!("signup"), &json!("JP"))
    );
    assert_eq!(tokyo_item["ip"], "198.51.100.7");
    let masked_item = all
        .iter()
        .find(|e| e["requestId"] == masked.as_str())
        .unwrap();
    assert_eq!(masked_item["ip"], "203.0.xxx.xxx", "as stored: masked");
    assert_eq!(masked_item["linkedId"], "u-masked");

    // Every filter, alone and combined, picks exactly the events of the full listing that
    // match it, in the same order, across pages.
    let is = |e: &Value, k: &str, v: Value| e[k] == v;
    type Pick = Box<dyn Fn(&Value) -> bool>;
    let cases: Vec<(&str, Pick)> = vec![
        (
            "type=login",
            Box::new(move |e| is(e, "type", json!("login"))),
        ),
        (
            "type=signup",
            Box::new(move |e| is(e, "type", json!("signup"))),
        ),
        (
            "country=us",
            Box::new(move |e| is(e, "country", json!("US"))),
        ),
        (
            "country=Jp",
            Box::new(move |e| is(e, "country", json!("JP"))),
        ),
        (
            "type=registration&country=DE",
            Box::new(move |e| {
                is(e, "type", json!("registration")) && is(e, "country", json!("DE"))
            }),
        ),
        (
            "type=payment&bot=false&country=GB",
            Box::new(move |e| {
                is(e, "type", json!("payment"))
                    && is(e, "bot", json!(false))
                    && is(e, "country", json!("GB"))
            }),
        ),
        (
            "bot=true&type=registration",
            Box::new(move |e| is(e, "bot", json!(true)) && is(e, "type", json!("registration"))),
        ),
        ("type=nothing-of-the-kind", Box::new(|_| false)),
        ("country=ZZ", Box::new(|_| false)),
    ];
    for (query, pick) in &cases {
        let want: Vec<String> = ids(&all.iter().filter(|e| pick(e)).cloned().collect::<Vec<_>>());
        let got = all_events(&s, query, 13);
        assert_eq!(ids(&got), want, "{query}");
        if !query.contains("nothing") && !query.contains("ZZ") {
            assert!(!want.is_empty(), "{query} finds events in the seeded store");
        }
    }
    // The Rust client sends the same filters and reads the new fields.
    let page = block_on(
        s.api(&s.secret_key)
            .list_events(&prynt_client::EventListParams {
                event_type: Some("signup".into()),
                country: Some("jp".into()),
                ..Default::default()
            }),
    )
    .unwrap();
    assert_eq!(page.data.len(), 1);
    let item = &page.data[0];
    assert_eq!(item.request_id, tokyo);
    assert_eq!(
        (
            item.event_type.as_deref(),
            item.linked_id.as_deref(),
            item.country.as_deref()
        ),
        (Some("signup"), Some("u-tokyo"), Some("JP"))
    );
    assert_eq!(item.ip.as_deref(), Some("198.51.100.7"));
    assert!(item.bot.is_some());

    // With the visitor and time filters too.
    let visitor = all[10]["visitorId"].as_str().unwrap().to_owned();
    let country = all[10]["country"].as_str().unwrap().to_owned();
    let got = all_events(&s, &format!("visitorId={visitor}&country={country}"), 2);
    let want: Vec<&Value> = all
        .iter()
        .filter(|e| e["visitorId"] == visitor.as_str() && e["country"] == country.as_str())
        .collect();
    assert_eq!(got.len(), want.len());
    assert!(!got.is_empty());
    let before = all[50]["timestamp"].as_str().unwrap().to_owned();
    let got = all_events(&s, &format!("type=login&before={before}"), 20);
    let want: BTreeSet<String> = ids(&all
        .iter()
        .filter(|e| e["type"] == "login" && e["timestamp"].as_str().unwrap() < before.as_str())
        .cloned()
        .collect::<Vec<_>>())
    .into_iter()
    .collect();
    assert_eq!(ids(&got).into_iter().collect::<BTreeSet<_>>(), want);

    // Bad filters are a 400 naming the parameter; a type counts characters, not bytes.
    let long = "x".repeat(65);
    let accented = "é".repeat(64);
    for (query, field) in [
        ("type=", "type"),
        (&format!("type={long}") as &str, "type"),
        ("country=", "country"),
        ("country=USA", "country"),
        ("country=U1", "country"),
        ("country=%C3%9CS", "country"),
        ("country=U", "country"),
    ] {
        let body = assert_error(
            s.get(&format!("/v1/events?{query}"), &s.secret_key),
            400,
            "validation_error",
        );
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
    let (status, page) = s.json(&format!("/v1/events?type={accented}"), &s.secret_key);
    assert_eq!(
        (status, page["data"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    // The public key cannot list events.
    assert_eq!(s.get("/v1/events?type=login", &s.public_key).status(), 403);
}

fn send(s: &TestServer, method: Method, path: &str, body: Value) -> (u16, Value) {
    let r = s
        .req(method, path, &s.secret_key)
        .json(&body)
        .send()
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

#[test]
fn a_rule_lists_its_versions_newest_first_as_the_rule_shows_them() {
    let s = TestServer::start();
    let (status, list) = send(
        &s,
        Method::POST,
        "/v1/lists",
        json!({"name": "watch", "type": "visitor"}),
    );
    assert_eq!(status, 200, "{list}");
    let (status, created) = send(
        &s,
        Method::POST,
        "/v1/rules",
        json!({
            "name": "Bots",
            "conditions": {"operator": "AND", "rules": [
                {"field": "signals.bot.detected", "operator": "equals", "value": true}
            ]},
            "action": {"verdict": "block"},
        }),
    );
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let rule_path = format!("/v1/rules/{id}");
    let mut shown = vec![s.json(&rule_path, &s.secret_key).1];
    let changes = [
        json!({"name": "Bots and VPNs", "conditions": {"operator": "OR", "rules": [
            {"field": "signals.bot.detected", "operator": "equals", "value": true},
            {"field": "signals.vpn.detected", "operator": "equals", "value": true},
            {"operator": "NOT", "rules": [{"field": "visitorId", "operator": "in", "value": "watch"}]}
        ]}}),
        json!({"status": "live", "priority": 7, "action": {"verdict": "challenge",
            "sideEffects": [{"type": "addToList", "list": "watch", "ttl": 3600}]}}),
    ];
    for change in changes {
        let (status, r) = send(&s, Method::PATCH, &rule_path, change);
        assert_eq!(status, 200, "{r}");
        shown.push(s.json(&rule_path, &s.secret_key).1);
    }
    let (status, versions) = s.json(&format!("{rule_path}/versions"), &s.secret_key);
    assert_eq!(status, 200, "{versions}");
    let data = versions["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(
        versions.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["data"]
    );
    for (v, rule) in data.iter().zip(shown.iter().rev()) {
        let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            BTreeSet::from([
                "version",
                "name",
                "status",
                "priority",
                "conditions",
                "action",
                "createdAt"
            ])
        );
        for k in [
            "version",
            "name",
            "status",
            "priority",
            "conditions",
            "action",
        ] {
            assert_eq!(v[k], rule[k], "{k} of version {}", v["version"]);
        }
        assert_eq!(v["createdAt"], rule["updatedAt"]);
    }
    let typed = block_on(s.api(&s.secret_key).rule_versions(&id)).unwrap();
    assert_eq!(
        typed.iter().map(|v| v.version).collect::<Vec<_>>(),
        [3, 2, 1]
    );
    assert_eq!(typed[0].priority, 7);
    assert_eq!(data[0]["version"], 3);
    assert_eq!(data[2]["version"], 1);
    assert_eq!(data[2]["createdAt"], shown[0]["createdAt"]);

    // Scoped like every lookup: another environment or workspace sees no such rule.
    let live = s.create_key("live", "secret", "default");
    assert_error(
        s.get(&format!("{rule_path}/versions"), &live),
        404,
        "not_found",
    );
    assert!(s.cli(&["workspaces", "create", "other"]).status.success());
    let other = s.create_key("test", "secret", "other");
    assert_error(
        s.get(&format!("{rule_path}/versions"), &other),
        404,
        "not_found",
    );
    assert_eq!(
        s.get(&format!("{rule_path}/versions"), &s.public_key)
            .status(),
        403
    );
    assert_error(
        s.get("/v1/rules/rul_000000000000/versions", &s.secret_key),
        404,
        "not_found",
    );
    let body = assert_error(
        s.get("/v1/rules/rul_xyz/versions", &s.secret_key),
        400,
        "validation_error",
    );
    assert_eq!(body["error"]["field"], "ruleId");
    // A deleted rule is gone, versions and all, for the API.
    assert_eq!(s.delete(&rule_path, &s.secret_key).status(), 200);
    assert_error(
        s.get(&format!("{rule_path}/versions"), &s.secret_key),
        404,
        "not_found",
    );
}

#[test]
fn list_entries_are_searched_by_text_with_wildcards_taken_literally() {
    let s = TestServer::start();
    let (status, list) = send(
        &s,
        Method::POST,
        "/v1/lists",
        json!({"name": "emails", "type": "email"}),
    );
    assert_eq!(status, 200, "{list}");
    let id = list["id"].as_str().unwrap().to_owned();
    let mut add: Vec<String> = (0..30).map(|i| format!("user{i}@shop.example")).collect();
    add.extend(
        [
            "ann_lee@mail.example",
            "annxlee@mail.example",
            "half%off@mail.example",
            "halfoff@mail.example",
            "back\\slash@mail.example",
        ]
        .map(str::to_owned),
    );
    let (status, r) = send(
        &s,
        Method::POST,
        &format!("/v1/lists/{id}/entries"),
        json!({"add": add}),
    );
    assert_eq!(status, 200, "{r}");
    let search = |query: &str| {
        let (status, body) = s.json(&format!("/v1/lists/{id}?{query}"), &s.secret_key);
        assert_eq!(status, 200, "{query}: {body}");
        let mut values: Vec<String> = body["entries"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["value"].as_str().unwrap().to_owned())
            .collect();
        values.sort();
        (
            values,
            body["entries"]["total"].as_u64().unwrap(),
            body["entries"]["hasMore"].as_bool().unwrap(),
            body["entryCount"].as_u64().unwrap(),
        )
    };
    let (values, total, more, count) = search("q=_");
    assert_eq!(
        (values, total, more, count),
        (vec!["ann_lee@mail.example".to_owned()], 1, false, 35)
    );
    assert_eq!(search("q=%25").0, ["half%off@mail.example"]);
    assert_eq!(search("q=%5C").0, ["back\\slash@mail.example"]);
    assert_eq!(search("q=ANN").1, 2, "ASCII letters match in either case");
    assert_eq!(search("q=nobody").1, 0);
    // Paging over the entries found; `total` counts them, not the list.
    let (first, total, more, _) = search("q=shop.example&limit=20");
    assert_eq!((first.len(), total, more), (20, 30, true));
    let (rest, total, more, _) = search("q=SHOP&limit=20&offset=20");
    assert_eq!((rest.len(), total, more), (10, 30, false));
    let seen: BTreeSet<String> = first.into_iter().chain(rest).collect();
    assert_eq!(seen.len(), 30);
    let (_, total, _, _) = search("limit=5");
    assert_eq!(total, 35);
    let found = block_on(s.api(&s.secret_key).search_list_entries(
        &id,
        &prynt_client::EntrySearch {
            limit: Some(2),
            ..prynt_client::EntrySearch::new("mail.EXAMPLE")
        },
    ))
    .unwrap();
    assert_eq!(
        (found.entries.data.len(), found.entries.total),
        (2, Some(5))
    );

    let long = "a".repeat(257);
    for query in ["q=", &format!("q={long}") as &str] {
        let body = assert_error(
            s.get(&format!("/v1/lists/{id}?{query}"), &s.secret_key),
            400,
            "validation_error",
        );
        assert_eq!(body["error"]["field"], "q", "{body}");
    }
    let longest = "é".repeat(256);
    assert_eq!(search(&format!("q={longest}")).1, 0);
    assert_eq!(search("q=%00").1, 0);
    assert_error(
        s.get("/v1/lists/lst_000000000000?q=ann", &s.secret_key),
        404,
        "not_found",
    );
}
