//! Authentication hardening and isolation, systematically, against the real binary: every
//! route of the OpenAPI document (so a new route is covered as soon as it is documented) called
//! with every kind of key — another workspace, the other environment, public and secret — on
//! the resources of one workspace environment; and failed authentications limited per client
//! address while valid keys go on working.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{assert_error, client, payload, DataDir, TestServer};

/// A key and the scope it belongs to.
struct Caller {
    name: &'static str,
    key: String,
    /// Of the owner's workspace and environment.
    owner_scope: bool,
    secret: bool,
}

/// One call, waiting out rate-limit refusals (the budgets are not what is tested here).
fn call(s: &TestServer, key: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("a method");
    for _ in 0..20 {
        let mut req = s.req(method.clone(), path, key);
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().expect("request");
        let status = r.status().as_u16();
        if status == 429 {
            let wait = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            std::thread::sleep(Duration::from_secs(wait));
            continue;
        }
        return (status, r.json().unwrap_or(Value::Null));
    }
    panic!("{method} {path}: still rate limited");
}

fn ok(s: &TestServer, method: &str, path: &str, body: Value) -> Value {
    let (status, v) = call(s, &s.secret_key, method, path, Some(&body));
    assert_eq!(status, 200, "{method} {path}: {v}");
    v
}

fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("an id in {v}"))
        .to_owned()
}

/// The body each operation with one is called with: valid, so that what refuses a caller is
/// its key, never its body. An operation missing here fails the test: add it.
fn body_for(method: &str, template: &str, has_body: bool) -> Option<Value> {
    let rule =
        json!({"operator": "AND", "rules": [{"field": "visitorFound", "operator": "exists"}]});
    let body = match (method, template) {
        ("post", "/v1/identify") => payload(7),
        ("post", "/v1/lists") => json!({"name": "iso_list", "type": "email"}),
        ("post" | "patch", "/v1/lists/{listId}/entries") => json!({"add": ["x@iso.example"]}),
        ("post", "/v1/rules") => {
            json!({"name": "iso_rule", "conditions": rule, "action": {"verdict": "challenge"}})
        }
        ("post", "/v1/rules/backtest") => json!({"conditions": rule}),
        ("put" | "patch", "/v1/rules/{ruleId}") => json!({"name": "renamed"}),
        ("post", "/v1/rules/{ruleId}/backtest") => json!({"days": 1}),
        ("post", "/v1/webhooks") => json!({"url": "https://hooks.example.com/iso"}),
        ("put" | "patch", "/v1/webhooks/{id}") => json!({"description": "changed"}),
        ("patch", "/v1/workspace") => json!({"allowedOrigins": ["https://iso.example"]}),
        _ if has_body => panic!("no body for {method} {template}: add one to body_for"),
        // Actions without a body (retry, rotate, test) take none.
        _ => return None,
    };
    Some(body)
}

/// The query an operation with required parameters is called with; a required parameter
/// missing here fails the test: add it.
fn query_for(required: &[String]) -> String {
    let now = prynt_core::timefmt::now_unix();
    let pairs: Vec<String> = required
        .iter()
        .map(|name| {
            let value = match name.as_str() {
                "from" => prynt_core::timefmt::rfc3339(now - 86_400),
                "to" => prynt_core::timefmt::rfc3339(now + 3_600),
                other => panic!("no value for the required query parameter {other}: add one"),
            };
            format!("{name}={value}")
        })
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

/// One documented operation that takes a key.
struct Operation {
    method: String,
    template: String,
    has_body: bool,
    /// Its required query parameters.
    required: Vec<String>,
}

/// Every operation of the document that takes a key.
fn operations(s: &TestServer) -> Vec<Operation> {
    let doc: Value = client()
        .get(s.url("/v1/openapi.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("an operation map") {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            if op.get("security").is_none() {
                // Public: the agent scripts only.
                assert!(
                    path.starts_with("/v1/agent."),
                    "{method} {path} takes no key"
                );
                continue;
            }
            let required = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query" && p["required"] == true)
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect();
            ops.push(Operation {
                method: method.clone(),
                template: path.clone(),
                has_body: op.get("requestBody").is_some(),
                required,
            });
        }
    }
    assert!(ops.len() >= 30, "{} operations", ops.len());
    ops
}

/// Every operation, called with every key but the owner's on the owner's resources (a rule,
/// a list, a webhook and its delivery, an event and its visitor, in the default workspace's
/// test environment): a public key is refused outside identify (403); a secret key of the
/// other environment or another workspace finds no resource of the owner (404), and on the
/// collections sees and changes only its own; identify matches devices per environment.
/// Afterwards the owner's resources are exactly as they were.
#[test]
fn every_route_keeps_workspaces_environments_and_key_types_apart() {
    let s = TestServer::start();
    let made = s.cli(&["workspaces", "create", "other"]);
    assert!(made.status.success(), "{made:?}");
    let callers = vec![
        Caller {
            name: "default/test public",
            key: s.public_key.clone(),
            owner_scope: true,
            secret: false,
        },
        Caller {
            name: "default/live secret",
            key: s.create_key("live", "secret", "default"),
            owner_scope: false,
            secret: true,
        },
        Caller {
            name: "default/live public",
            key: s.create_key("live", "public", "default"),
            owner_scope: false,
            secret: false,
        },
        Caller {
            name: "other/test secret",
            key: s.create_key("test", "secret", "other"),
            owner_scope: false,
            secret: true,
        },
        Caller {
            name: "other/test public",
            key: s.create_key("test", "public", "other"),
            owner_scope: false,
            secret: false,
        },
        Caller {
            name: "other/live secret",
            key: s.create_key("live", "secret", "other"),
            owner_scope: false,
            secret: true,
        },
    ];

    // The owner's resources.
    let list = ok(
        &s,
        "post",
        "/v1/lists",
        json!({"name": "iso_list", "type": "email"}),
    );
    let list_id = id_of(&list);
    let rule = ok(
        &s,
        "post",
        "/v1/rules",
        json!({"name": "iso_rule", "conditions": {"operator": "AND", "rules": [
            {"field": "visitorFound", "operator": "exists"}]}, "action": {"verdict": "allow"}}),
    );
    let rule_id = id_of(&rule);
    let hook = ok(
        &s,
        "post",
        "/v1/webhooks",
        json!({"url": "https://hooks.example.com/owner", "events": ["list_update"]}),
    );
    let hook_id = id_of(&hook);
    ok(
        &s,
        "post",
        &format!("/v1/lists/{list_id}/entries"),
        json!({"add": ["owner@iso.example"]}),
    );
    let mut delivery_id = None;
    for _ in 0..100 {
        let (_, page) = call(
            &s,
            &s.secret_key,
            "get",
            &format!("/v1/webhooks/{hook_id}/deliveries"),
            None,
        );
        delivery_id = page["data"][0]["id"].as_str().map(str::to_owned);
        if delivery_id.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let delivery_id = delivery_id.expect("the list update's delivery");
    let (seen, _) = s.identify_ok(&s.public_key, &payload(7));
    let request_id = seen["requestId"].as_str().unwrap().to_owned();
    let visitor_id = seen["visitorId"].as_str().unwrap().to_owned();
    let fixtures: BTreeMap<&str, &str> = [
        ("ruleId", rule_id.as_str()),
        ("listId", list_id.as_str()),
        ("id", hook_id.as_str()),
        ("deliveryId", delivery_id.as_str()),
        ("requestId", request_id.as_str()),
        ("visitorId", visitor_id.as_str()),
    ]
    .into();
    let owner_ids: Vec<&str> = fixtures.values().copied().collect();
    let fill = |template: &str| {
        let mut path = template.to_owned();
        while let Some(start) = path.find('{') {
            let end = path[start..]
                .find('}')
                .map(|e| start + e)
                .expect("a closed parameter");
            let name = &path[start + 1..end];
            let value = fixtures.get(name).unwrap_or_else(|| {
                panic!("no resource of the owner for {{{name}}} in {template}: add one")
            });
            path.replace_range(start..=end, value);
        }
        path
    };

    // What the owner sees before: every resource, read with its own key.
    let reads = [
        format!("/v1/rules/{rule_id}"),
        format!("/v1/rules/{rule_id}/versions"),
        format!("/v1/lists/{list_id}"),
        format!("/v1/webhooks/{hook_id}"),
        format!("/v1/events/{request_id}"),
        format!("/v1/visitors/{visitor_id}"),
        format!("/v1/visitors/{visitor_id}/events"),
        "/v1/workspace".to_owned(),
    ];
    let snapshot = |s: &TestServer| -> Vec<Value> {
        reads
            .iter()
            .map(|p| {
                let (status, v) = call(s, &s.secret_key, "get", p, None);
                assert_eq!(status, 200, "the owner reads {p}: {v}");
                v
            })
            .collect()
    };
    let before = snapshot(&s);

    let ops = operations(&s);
    let mut created_by_others: Vec<String> = Vec::new();
    let mut checked = 0;
    let mut identified_in = std::collections::BTreeSet::new();
    for op in &ops {
        let (method, template) = (op.method.as_str(), op.template.as_str());
        let path = fill(template) + &query_for(&op.required);
        let body = body_for(method, template, op.has_body);
        let identify = template == "/v1/identify";
        for c in &callers {
            let what = format!("{method} {template} with the {} key", c.name);
            // In the owner's own environment identify takes another device, so that the
            // owner's visitor stays as it was.
            let body = match (identify && c.owner_scope, &body) {
                (true, _) => Some(payload(99)),
                (false, b) => b.clone(),
            };
            let (status, v) = call(&s, &c.key, method, &path, body.as_ref());
            checked += 1;
            if identify {
                // Any key identifies, in its own environment: a device known to the owner is
                // another visitor anywhere else.
                assert_eq!(status, 200, "{what}: {v}");
                let visitor = v["visitorId"].as_str().unwrap_or("");
                assert_ne!(visitor, visitor_id, "{what}: the owner's visitor");
                // The first identification of the device in an environment finds no visitor.
                let scope = c.name.split(' ').next().unwrap_or("");
                if !c.owner_scope && identified_in.insert(scope) {
                    assert_eq!(v["visitorFound"], false, "{what}: {v}");
                }
                continue;
            }
            if !c.secret {
                assert_eq!(status, 403, "{what}: {v}");
                assert_eq!(v["error"]["code"], "insufficient_permissions", "{what}");
                continue;
            }
            if template.contains('{') {
                assert_eq!(status, 404, "{what}: {v}");
                assert_eq!(v["error"]["code"], "not_found", "{what}");
                continue;
            }
            // A collection: the caller's own, without a trace of the owner's resources.
            assert_eq!(status, 200, "{what}: {v}");
            let text = v.to_string();
            for id in &owner_ids {
                assert!(!text.contains(id), "{what} shows the owner's {id}: {text}");
            }
            if method == "post" {
                if let Some(id) = v["id"].as_str() {
                    created_by_others.push(id.to_owned());
                }
            }
        }
    }
    eprintln!(
        "{} operations × {} keys: {checked} calls",
        ops.len(),
        callers.len()
    );

    // The owner's resources are untouched, and nothing the others made is in its lists.
    let after = snapshot(&s);
    for ((path, b), a) in reads.iter().zip(&before).zip(&after) {
        assert_eq!(b, a, "{path} changed");
    }
    for path in ["/v1/rules", "/v1/lists", "/v1/webhooks"] {
        let (_, v) = call(&s, &s.secret_key, "get", path, None);
        let text = v.to_string();
        for id in &created_by_others {
            assert!(
                !text.contains(id.as_str()),
                "{path} of the owner shows {id}"
            );
        }
    }
    assert!(
        created_by_others.len() >= 9,
        "the other keys made their own rules, lists and webhooks: {created_by_others:?}"
    );
}

/// A client of its own address (loopback 127.0.0.x).
fn client_from(ip: [u8; 4]) -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .local_address(IpAddr::from(ip))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

fn header(r: &reqwest::blocking::Response, name: &str) -> u64 {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

/// Five failed key checks a minute per address here: the sixth failing key from the address
/// is a 429 with the JSON error body, `Retry-After` and headers naming that limit, on secret
/// routes and identify alike; a valid key from the same address still works, another address
/// still gets its 401s, and a request without a key is not a failed check.
#[test]
fn failed_authentications_are_limited_per_address_and_valid_keys_are_not() {
    let dir = DataDir::new();
    let s = dir.start(&["--auth-failures-per-minute", "5"]);
    let probing = client_from([127, 0, 0, 2]);
    let bad = "sk_test_0123456789abcdefghijklmnop";
    let get = |c: &reqwest::blocking::Client, key: &str| {
        let mut r = c.get(s.url("/v1/rules"));
        if !key.is_empty() {
            r = r.bearer_auth(key);
        }
        r.send().expect("request")
    };

    // No key at all: not a failed check.
    for _ in 0..8 {
        assert_error(get(&probing, ""), 401, "invalid_api_key");
    }
    for _ in 0..5 {
        assert_error(get(&probing, bad), 401, "invalid_api_key");
    }
    let refused = get(&probing, bad);
    assert_eq!(refused.status(), 429);
    let retry = header(&refused, "retry-after");
    // One failure refills every 12 s.
    assert!((11..=12).contains(&retry), "{retry}");
    assert_eq!(header(&refused, "x-ratelimit-limit"), 5);
    assert_eq!(header(&refused, "x-ratelimit-remaining"), 0);
    let body = assert_error(refused, 429, "rate_limited");
    assert_eq!(body["error"]["retryAfter"], retry);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("failed authentications"),
        "{body}"
    );

    // Identify with a failing public key from the same address: refused too.
    let r = probing
        .post(s.url("/v1/identify"))
        .bearer_auth("pk_test_0123456789abcdefghijklmnop")
        .json(&payload(1))
        .send()
        .unwrap();
    assert_error(r, 429, "rate_limited");

    // Valid keys from the same address are served.
    assert_eq!(get(&probing, &s.secret_key).status(), 200);
    let r = probing
        .post(s.url("/v1/identify"))
        .bearer_auth(&s.public_key)
        .json(&payload(1))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);

    // Another address has its own budget.
    let other = client_from([127, 0, 0, 3]);
    assert_error(get(&other, bad), 401, "invalid_api_key");
}
