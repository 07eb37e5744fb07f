//! The demo on a loopback server: `/demo/config` hands out a working public key made for the
//! run, `/demo/api/events/{requestId}` shows the event and the visitor's recent visits of the
//! default workspace's test environment only, the key is revoked by the next start, and there
//! is none with `--no-demo`, on a server listening beyond loopback, or for a client behind a
//! trusted proxy.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::{json, Value};

use crate::harness::{assert_error, client, html_page, payload, prynt, wait_timeout, TestServer};

/// The demo key the server hands out, asserting the answer's shape.
fn demo_key(s: &TestServer) -> String {
    let r = client().get(s.url("/demo/config")).send().expect("GET");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().expect("json");
    assert_eq!(body["workspace"], "default", "{body}");
    assert_eq!(body["environment"], "test", "{body}");
    let key = body["publicKey"].as_str().expect("publicKey").to_owned();
    assert!(key.starts_with("pk_test_"), "{key}");
    key
}

/// The keys `prynt keys list` shows as demo keys: (prefix column, status column) per key.
fn listed_demo_keys(s: &TestServer) -> Vec<String> {
    let out = s.cli(&["keys", "list"]);
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .filter(|l| l.contains("(demo)"))
        .map(str::to_owned)
        .collect()
}

fn demo_event(s: &TestServer, request_id: &str) -> reqwest::blocking::Response {
    client()
        .get(s.url(&format!("/demo/api/events/{request_id}")))
        .send()
        .expect("GET")
}

#[test]
fn a_loopback_server_hands_out_a_working_demo_key_and_serves_the_page() {
    let s = TestServer::start();
    let key = demo_key(&s);
    assert_ne!(
        key, s.public_key,
        "a key of its own, not the first-start one"
    );
    // Printed right after the address, so it may still be on its way through the pipe.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !s.stdout().iter().any(|l| l.starts_with("demo: open ")) {
        assert!(std::time::Instant::now() < deadline, "{:?}", s.stdout());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = s.stdout().join("\n");
    assert!(
        out.contains("/demo"),
        "the start names the demo page: {out}"
    );
    assert!(!out.contains(&key), "the demo key is never printed: {out}");

    let (answer, _) = s.identify_ok(&key, &payload(1));
    let rid = answer["requestId"].as_str().expect("requestId");
    // The event is the default workspace's test event, seen with the first-start secret key.
    let (status, ev) = s.json(&format!("/v1/events/{rid}"), &s.secret_key);
    assert_eq!(status, 200, "{ev}");
    assert_eq!(ev["visitorId"], answer["visitorId"]);

    // Stored like any key: listed, with its digest only, marked as the demo's.
    let demo = listed_demo_keys(&s);
    assert_eq!(demo.len(), 1, "{demo:?}");
    assert!(demo[0].contains("active"), "{demo:?}");
    assert!(!demo[0].contains(&key), "{demo:?}");

    for path in ["/", "/demo"] {
        let (csp, page) = html_page(client().get(s.url(path)).send().expect("GET"));
        assert!(csp.contains("script-src 'self' 'sha256-"), "{csp}");
        assert!(page.contains("<script src=\"/v1/agent.js\"></script>"));
        assert!(page.contains("/demo/config"));
        assert!(page.contains("https://db-ip.com"));
    }

    // Not part of the API: absent from the OpenAPI document.
    let (_, doc) = s.json("/v1/openapi.json", "");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.keys().all(|p| !p.starts_with("/demo")), "{paths:?}");
}

#[test]
fn the_demo_event_endpoint_returns_the_event_and_the_visitors_recent_visits() {
    let s = TestServer::start();
    let key = demo_key(&s);
    let mut rids = Vec::new();
    let mut token = String::new();
    for i in 0..12 {
        let mut body = payload(7);
        if !token.is_empty() {
            body["token"] = json!(token);
        }
        let (answer, t) = s.identify_ok(&key, &body);
        if i == 0 {
            assert_eq!(answer["visitorFound"], false);
        }
        token = t;
        rids.push(answer["requestId"].as_str().expect("rid").to_owned());
    }
    // Another browser's visit is not among this visitor's.
    let (other, _) = s.identify_ok(&key, &payload(8));
    let last = rids.last().expect("rid").clone();

    let r = demo_event(&s, &last);
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().expect("json");
    let (_, api_event) = s.json(&format!("/v1/events/{last}"), &s.secret_key);
    assert_eq!(body["event"], api_event, "the same JSON as GET /v1/events");

    let visits = body["recentVisits"].as_array().expect("recentVisits");
    assert_eq!(visits.len(), 10, "the last 10: {visits:?}");
    let listed: Vec<&str> = visits
        .iter()
        .map(|v| v["requestId"].as_str().unwrap_or(""))
        .collect();
    let newest: Vec<&str> = rids.iter().rev().take(10).map(String::as_str).collect();
    assert_eq!(listed, newest, "newest first");
    assert!(!listed.contains(&other["requestId"].as_str().unwrap_or("")));
    let first = &visits[0];
    assert_eq!(first["identifiedBy"], "token", "{first}");
    assert_eq!(first["incognito"], api_event["signals"]["incognito"]);
    assert_eq!(first["browser"], api_event["device"]["browser"]);
    assert_eq!(first["timestamp"], api_event["timestamp"]);
    let fields: Vec<&String> = first.as_object().expect("object").keys().collect();
    assert_eq!(
        fields.len(),
        5,
        "requestId, timestamp, incognito, browser, identifiedBy: {first}"
    );
}

#[test]
fn the_demo_event_endpoint_refuses_events_of_other_workspaces_and_environments() {
    let s = TestServer::start();
    demo_key(&s);

    let live = s.create_key("live", "public", "default");
    let (ev, _) = s.identify_ok(&live, &payload(1));
    assert_error(
        demo_event(&s, ev["requestId"].as_str().unwrap()),
        404,
        "not_found",
    );

    let out = s.cli(&["workspaces", "create", "other"]);
    assert!(out.status.success(), "{out:?}");
    let other = s.create_key("test", "public", "other");
    let (ev, _) = s.identify_ok(&other, &payload(2));
    assert_error(
        demo_event(&s, ev["requestId"].as_str().unwrap()),
        404,
        "not_found",
    );

    // The default test environment's own events are shown, whichever key made them.
    let (ev, _) = s.identify_ok(&s.public_key, &payload(3));
    assert_eq!(
        demo_event(&s, ev["requestId"].as_str().unwrap()).status(),
        200
    );
    assert_error(demo_event(&s, "req_1700000000_abcdef"), 404, "not_found");
    assert_error(demo_event(&s, "nope"), 400, "validation_error");
}

#[test]
fn no_demo_key_with_no_demo_and_a_restart_revokes_the_previous_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut s = TestServer::start_in(tmp.path(), &[]);
    let first = demo_key(&s);
    let (ev, _) = s.identify_ok(&first, &payload(1));
    let rid = ev["requestId"].as_str().expect("rid").to_owned();
    assert!(s.terminate().success());

    let mut s = TestServer::start_in(tmp.path(), &[]);
    let second = demo_key(&s);
    assert_ne!(first, second);
    assert_error(s.identify(&first, &payload(1)), 401, "invalid_api_key");
    s.identify_ok(&second, &payload(1));
    let demo = listed_demo_keys(&s);
    assert_eq!(demo.len(), 2, "{demo:?}");
    assert_eq!(
        demo.iter().filter(|l| l.contains("active")).count(),
        1,
        "{demo:?}"
    );
    assert!(s.terminate().success());

    // Turned off: the last demo key is revoked and none is made; the page stays, without one.
    let s = TestServer::start_in(tmp.path(), &["--no-demo"]);
    assert_error(
        client().get(s.url("/demo/config")).send().unwrap(),
        404,
        "not_found",
    );
    assert_error(demo_event(&s, &rid), 404, "not_found");
    assert_error(s.identify(&second, &payload(1)), 401, "invalid_api_key");
    let demo = listed_demo_keys(&s);
    assert!(demo.iter().all(|l| l.contains("revoked")), "{demo:?}");
    assert_eq!(client().get(s.url("/demo")).send().unwrap().status(), 200);
    drop(s);

    // The config file's equivalent.
    let cfg = tmp.path().join("prynt.toml");
    std::fs::write(&cfg, "no_demo = true\n").unwrap();
    let s = TestServer::start_in(tmp.path(), &["--config", cfg.to_str().unwrap()]);
    assert_error(
        client().get(s.url("/demo/config")).send().unwrap(),
        404,
        "not_found",
    );
}

#[test]
fn no_demo_key_beyond_loopback_or_for_a_client_behind_a_trusted_proxy() {
    // Behind a reverse proxy on the same machine, the client it forwards for is what counts.
    let proxy_dir = tempfile::tempdir().expect("tempdir");
    let proxied = TestServer::start_in(proxy_dir.path(), &["--trust-proxy", "127.0.0.1/32"]);
    demo_key(&proxied);
    let forwarded = |path: &str| {
        client()
            .get(proxied.url(path))
            .header("x-forwarded-for", "203.0.113.9")
            .send()
            .unwrap()
    };
    assert_error(forwarded("/demo/config"), 404, "not_found");
    assert_error(
        forwarded("/demo/api/events/req_1700000000_abcdef"),
        404,
        "not_found",
    );
    drop(proxied);

    // Listening on every interface: no demo key at all.
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut child = prynt()
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(tmp.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let port = BufReader::new(child.stdout.take().expect("stdout"))
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.trim()
                .strip_prefix("listening on http://0.0.0.0:")
                .map(str::to_owned)
        })
        .expect("announced");
    let r = client()
        .get(format!("http://127.0.0.1:{port}/demo/config"))
        .send()
        .unwrap();
    assert_error(r, 404, "not_found");
    let page = client()
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .unwrap();
    assert_eq!(page.status(), 200, "the page falls back to a pasted key");
    let _ = child.kill();
    let _ = wait_timeout(&mut child, std::time::Duration::from_secs(10));
    let keys = prynt()
        .args(["keys", "list", "--data-dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&keys.stdout).contains("(demo)"));
}
