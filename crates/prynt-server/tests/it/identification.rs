//! Identify, events and visitors through the real server: matching, tokens, isolation,
//! durability and bad input.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{
    assert_error, client, client_no_redirects, payload, send_chunked, send_declared, store_execute,
    store_query, TestServer,
};

fn with_token(mut body: Value, token: &str) -> Value {
    body["token"] = json!(token);
    body
}

#[test]
fn identify_answers_four_fields_and_recognises_the_browser_by_token_and_by_fingerprint() {
    let s = TestServer::start();
    let (first, token) = s.identify_ok(&s.public_key, &payload(1));
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["requestId", "visitorId", "confidence", "visitorFound"]
    );
    assert_eq!(first["visitorFound"], false);
    assert_eq!(first["confidence"], 1.0);
    assert!(first["visitorId"].as_str().unwrap().starts_with("pv_"));
    assert!(token.starts_with("v1."));

    // Same browser with its token.
    let (again, _) = s.identify_ok(&s.public_key, &with_token(payload(1), &token));
    assert_eq!(again["visitorId"], first["visitorId"]);
    assert_eq!(again["visitorFound"], true);
    let (_, ev) = s.json(
        &format!("/v1/events/{}", again["requestId"].as_str().unwrap()),
        &s.secret_key,
    );
    assert_eq!(ev["identifiedBy"], "token");

    // Same browser without its token (cleared storage): fuzzy match.
    let (fuzzy, _) = s.identify_ok(&s.public_key, &payload(1));
    assert_eq!(fuzzy["visitorId"], first["visitorId"]);
    assert_eq!(fuzzy["visitorFound"], true);
    assert!(fuzzy["confidence"].as_f64().unwrap() >= 0.9);
    let (_, ev) = s.json(
        &format!("/v1/events/{}", fuzzy["requestId"].as_str().unwrap()),
        &s.secret_key,
    );
    assert_eq!(ev["identifiedBy"], "fingerprint");
    // The visitor's returns, and the one recognised without a token, are stored for the
    // matching index to weigh after a restart.
    let counts = store_query(
        &s.data_dir,
        &format!(
            "SELECT total_visits, matched_visits FROM visitors WHERE visitor_id = '{}'",
            first["visitorId"].as_str().unwrap()
        ),
    );
    assert_eq!(
        counts,
        [[Some("3".to_owned()), Some("1".to_owned())]],
        "three visits, one recognised by fingerprint"
    );

    // Another browser is another visitor, even with the first one's token.
    let (other, _) = s.identify_ok(&s.public_key, &with_token(payload(2), &token));
    assert_ne!(
        other["visitorId"], first["visitorId"],
        "a token replayed on another device is not trusted"
    );
    assert_eq!(other["visitorFound"], false);

    // The key may also travel in the body (sendBeacon-style), as text/plain.
    let mut body = payload(3);
    body["publicKey"] = json!(s.public_key);
    let r = client()
        .post(s.url("/v1/identify"))
        .header("content-type", "text/plain")
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn the_event_has_the_reference_shape_and_what_the_page_sent() {
    let s = TestServer::start();
    let mut body = payload(4);
    body["type"] = json!("login");
    body["linkedId"] = json!("user-42");
    body["tag"] = json!({"campaign": "spring", "cart": {"items": 3}});
    body["url"] = json!("https://shop.example/login");
    let (res, _) = s.identify_ok(&s.public_key, &body);
    let (status, ev) = s.json(
        &format!("/v1/events/{}", res["requestId"].as_str().unwrap()),
        &s.secret_key,
    );
    assert_eq!(status, 200);
    assert_eq!(ev["requestId"], res["requestId"]);
    assert_eq!(ev["visitorId"], res["visitorId"]);
    assert_eq!(ev["type"], "login");
    assert_eq!(ev["linkedId"], "user-42");
    assert_eq!(ev["tag"]["cart"]["items"], 3);
    assert_eq!(ev["url"], "https://shop.example/login");
    assert_eq!(ev["device"]["platform"], "macOS");
    assert_eq!(ev["device"]["browser"], "Chrome 121");
    assert_eq!(ev["device"]["gpu"], "Apple M3 Pro");
    assert_eq!(ev["device"]["type"], "desktop");
    assert!(ev["device"]["screen"]["w"].as_u64().unwrap() > 0);
    assert_eq!(ev["ip"]["address"], "127.0.0.1");
    assert_eq!(ev["firstSeenAt"], ev["timestamp"]);
    // Computed by later stages: null, never invented.
    for field in ["verdict", "matchedRule"] {
        assert!(ev[field].is_null(), "{field} must be null: {ev}");
    }
    for score in ["abuse", "ato", "bot"] {
        assert!(ev["scores"][score].is_f64(), "{score}: {}", ev["scores"]);
    }
    assert!(ev["scores"]["suspect"].is_u64());
    // The reference's signal shape; this test's HTTP client is no browser, and says so.
    let sig = &ev["signals"];
    assert_eq!(sig["bot"]["detected"], true, "{sig}");
    assert_eq!(sig["bot"]["type"], "no-js");
    assert!(sig["vpn"]["detected"].is_boolean() && sig["vpn"].get("provider").is_some());
    for flag in ["incognito", "tampered", "emulator", "proxy", "tor"] {
        assert!(sig[flag].is_boolean(), "{flag}: {sig}");
    }
    let (_, visitor) = s.json(
        &format!("/v1/visitors/{}", res["visitorId"].as_str().unwrap()),
        &s.secret_key,
    );
    assert_eq!(visitor["totalVisits"], 1);
    assert_eq!(visitor["linkedAccounts"], 1);
    assert_eq!(visitor["devices"][0]["browser"], "Chrome 121");
    assert_eq!(visitor["ips"][0]["address"], "127.0.0.1");
    assert_eq!(visitor["lists"], json!([]));
}

#[test]
fn bad_identify_input_is_refused_without_writing_anything() {
    let s = TestServer::start();
    s.identify_ok(&s.public_key, &payload(1));
    let send = |body: String, ct: &str| {
        client()
            .post(s.url("/v1/identify"))
            .bearer_auth(&s.public_key)
            .header("content-type", ct)
            .body(body)
            .send()
            .unwrap()
    };
    let cases: Vec<(String, &str, u16, &str, Option<&str>)> = vec![
        (
            "{\"components\": {\"screen\": {\"w\": \"wide\"}}}".into(),
            "application/json",
            400,
            "validation_error",
            Some("components.screen.w"),
        ),
        (
            "{\"components\": {\"screen\": [[[[[[1]]]]]]}}".into(),
            "application/json",
            400,
            "validation_error",
            Some("components.screen"),
        ),
        (
            "{\"components\": {\"languages\": \"en\"}}".into(),
            "application/json",
            400,
            "validation_error",
            Some("components.languages"),
        ),
        (
            "{\"components\": {\"hardwareConcurrency\": -4}}".into(),
            "application/json",
            400,
            "validation_error",
            Some("components.hardwareConcurrency"),
        ),
        (
            "{\"components\": {\"screen\": {\"w\": 999999999}}}".into(),
            "application/json",
            400,
            "validation_error",
            Some("components.screen.w"),
        ),
        (
            "{\"components\": {\"integrity\": {\"lies\": \"toString\"}}}".into(),
            "application/json",
            400,
            "validation_error",
            Some("components.integrity.lies"),
        ),
        (
            "{\"components\": {\"integrity\": {\"worker\": {\"hardwareConcurrency\": 4096}}}}"
                .into(),
            "application/json",
            400,
            "validation_error",
            Some("components.integrity.worker.hardwareConcurrency"),
        ),
        (
            "{\"components\": {\"behavior\": {\"keys\": -1}}}".into(),
            "application/json",
            400,
            "validation_error",
            Some("components.behavior.keys"),
        ),
        (
            "{\"components\": {\"behavior\": {\"keyHoldMs\": 1e300}}}".into(),
            "application/json",
            400,
            "validation_error",
            Some("components.behavior.keyHoldMs"),
        ),
        (
            "{\"tag\": \"not an object\"}".into(),
            "application/json",
            400,
            "validation_error",
            Some("tag"),
        ),
        (
            format!("{{\"tag\": {}1{}}}", "{\"a\":".repeat(200), "}".repeat(200)),
            "application/json",
            400,
            "validation_error",
            Some("body"),
        ),
        (
            "{\"components\": ".into(),
            "text/plain",
            400,
            "validation_error",
            Some("body"),
        ),
        (
            "[]".into(),
            "application/json",
            400,
            "validation_error",
            Some("body"),
        ),
        (
            format!("{{\"linkedId\": \"{}\"}}", "x".repeat(300)),
            "application/json",
            400,
            "validation_error",
            Some("linkedId"),
        ),
        (
            format!("{{\"token\": \"{}\"}}", "t".repeat(5000)),
            "application/json",
            400,
            "validation_error",
            Some("token"),
        ),
        (
            "<xml/>".into(),
            "application/xml",
            415,
            "unsupported_media_type",
            None,
        ),
    ];
    for (body, ct, status, code, field) in cases {
        let b = assert_error(send(body.clone(), ct), status, code);
        if let Some(f) = field {
            assert_eq!(
                b["error"]["field"],
                f,
                "for body {}",
                &body[..body.len().min(80)]
            );
        }
    }
    // Over 64 KiB: refused from the declared length, or while a streamed body is read. Raw
    // connections, because the server answers before the client has sent everything.
    for answer in [
        send_declared(&s, "POST", "/v1/identify", &s.public_key, 3 << 20),
        send_declared(&s, "POST", "/v1/identify", &s.public_key, 70 << 10),
        send_chunked(&s, "POST", "/v1/identify", &s.public_key, 100 << 10),
    ] {
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("payload_too_large"), "{answer}");
    }
    // Missing keys and wrong keys.
    let anon = client()
        .post(s.url("/v1/identify"))
        .json(&payload(1))
        .send()
        .unwrap();
    assert_error(anon, 401, "invalid_api_key");
    let mut wrong = payload(1);
    wrong["publicKey"] = json!("pk_test_doesnotexistdoesnotexist00");
    let r = client()
        .post(s.url("/v1/identify"))
        .json(&wrong)
        .send()
        .unwrap();
    assert_error(r, 401, "invalid_api_key");
    // Forged, foreign and garbage tokens are ignored: a normal outcome, not an error.
    for t in ["garbage", "v1.e30.AAAA", "v1..", "v1.eyJ3IjoieCJ9.abc"] {
        let (r, _) = s.identify_ok(&s.public_key, &with_token(payload(9), t));
        assert!(r["visitorId"].as_str().unwrap().starts_with("pv_"));
    }
    // A missing component set is a valid, if poor, identification.
    s.identify_ok(&s.public_key, &json!({}));
    // Only the good requests left events: 1 + 4 token cases + 1 empty payload.
    assert_eq!(s.event_count(&s.secret_key), 6);
}

#[test]
fn a_token_from_another_workspace_or_environment_is_not_trusted() {
    let s = TestServer::start();
    let (mine, token) = s.identify_ok(&s.public_key, &payload(5));
    assert!(s.cli(&["workspaces", "create", "acme"]).status.success());
    let acme_pk = s.create_key("test", "public", "acme");
    let (theirs, _) = s.identify_ok(&acme_pk, &with_token(payload(5), &token));
    assert_ne!(theirs["visitorId"], mine["visitorId"]);
    assert_eq!(theirs["visitorFound"], false);
    let live_pk = s.create_key("live", "public", "default");
    let (live, _) = s.identify_ok(&live_pk, &with_token(payload(5), &token));
    assert_ne!(live["visitorId"], mine["visitorId"]);
    assert_eq!(
        live["visitorFound"], false,
        "test visitors are invisible to live"
    );
}

#[test]
fn events_and_visitors_are_isolated_per_environment_and_workspace() {
    let s = TestServer::start();
    let (res, _) = s.identify_ok(&s.public_key, &payload(6));
    let rid = res["requestId"].as_str().unwrap();
    let vid = res["visitorId"].as_str().unwrap();
    let live = s.create_key("live", "secret", "default");
    assert!(s.cli(&["workspaces", "create", "acme"]).status.success());
    let acme = s.create_key("test", "secret", "acme");
    for key in [&live, &acme] {
        assert_error(s.get(&format!("/v1/events/{rid}"), key), 404, "not_found");
        assert_error(s.get(&format!("/v1/visitors/{vid}"), key), 404, "not_found");
        assert_error(
            s.get(&format!("/v1/visitors/{vid}/events"), key),
            404,
            "not_found",
        );
        let del = s.delete(&format!("/v1/visitors/{vid}"), key);
        assert_error(del, 404, "not_found");
        assert_eq!(s.event_count(key), 0);
    }
    // Still there for its owner.
    assert_eq!(s.json(&format!("/v1/events/{rid}"), &s.secret_key).0, 200);
    // Public keys read nothing.
    assert_error(
        s.get(&format!("/v1/events/{rid}"), &s.public_key),
        403,
        "insufficient_permissions",
    );
    assert_error(
        s.get("/v1/events", &s.public_key),
        403,
        "insufficient_permissions",
    );
}

#[test]
fn event_listing_filters_and_paginates_without_gaps_or_repeats() {
    let s = TestServer::start();
    let mut ids = Vec::new();
    let mut v1 = String::new();
    for i in 0..25 {
        let seed = if i % 5 == 0 { 100 } else { 200 + i };
        let (r, _) = s.identify_ok(&s.public_key, &payload(seed));
        if seed == 100 {
            v1 = r["visitorId"].as_str().unwrap().to_owned();
        }
        ids.push(r["requestId"].as_str().unwrap().to_owned());
        if i == 12 {
            std::thread::sleep(std::time::Duration::from_millis(1100));
        }
    }
    let mut seen = Vec::new();
    let mut path = "/v1/events?limit=10".to_owned();
    loop {
        let (status, page) = s.json(&path, &s.secret_key);
        assert_eq!(status, 200, "{page}");
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 10);
        for e in data {
            for f in [
                "requestId",
                "visitorId",
                "confidence",
                "verdict",
                "timestamp",
            ] {
                assert!(e.get(f).is_some(), "{f} in list item");
            }
            seen.push(e["requestId"].as_str().unwrap().to_owned());
        }
        if page["hasMore"] == false {
            assert!(page["nextCursor"].is_null());
            break;
        }
        path = format!(
            "/v1/events?limit=10&cursor={}",
            page["nextCursor"].as_str().unwrap()
        );
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 25, "every event exactly once");
    assert_eq!(seen.first(), ids.last(), "newest first");

    let (_, mine) = s.json(
        &format!("/v1/events?visitorId={v1}&limit=100"),
        &s.secret_key,
    );
    assert_eq!(mine["data"].as_array().unwrap().len(), 5);
    assert!(mine["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["visitorId"] == v1.as_str()));
    let (_, vpage) = s.json(&format!("/v1/visitors/{v1}/events?limit=2"), &s.secret_key);
    assert_eq!(vpage["data"].as_array().unwrap().len(), 2);
    assert_eq!(vpage["hasMore"], true);
    assert!(vpage["data"][0]["signals"].is_object());

    // Time filters: the second half came after the pause.
    let (_, ev) = s.json(&format!("/v1/events/{}", ids[13]), &s.secret_key);
    let split = ev["timestamp"].as_str().unwrap().to_owned();
    let (_, after) = s.json(
        &format!("/v1/events?limit=100&after={}", urlencode(&split)),
        &s.secret_key,
    );
    let (_, before) = s.json(
        &format!("/v1/events?limit=100&before={}", urlencode(&split)),
        &s.secret_key,
    );
    assert_eq!(before["data"].as_array().unwrap().len(), 13);
    assert_eq!(after["data"].as_array().unwrap().len(), 12);
    // Nothing is blocked before rules exist.
    assert!(s.json("/v1/events?verdict=block", &s.secret_key).1["data"]
        .as_array()
        .unwrap()
        .is_empty());
    // The bot filter: this test's HTTP client is a script, so all 25 events are bots; a request
    // that carries what a browser sends is not.
    let r = s.identify_as_browser(&payload(99));
    assert_eq!(r.status(), 200);
    let human: Value = r.json().unwrap();
    let (_, bots) = s.json("/v1/events?bot=true&limit=100", &s.secret_key);
    assert_eq!(bots["data"].as_array().unwrap().len(), 25);
    let (_, humans) = s.json("/v1/events?bot=false&limit=100", &s.secret_key);
    assert_eq!(humans["data"].as_array().unwrap().len(), 1, "{humans}");
    assert_eq!(humans["data"][0]["requestId"], human["requestId"]);

    for (q, field) in [
        ("limit=101", "limit"),
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        ("verdict=maybe", "verdict"),
        ("bot=perhaps", "bot"),
        ("before=yesterday", "before"),
        ("after=2026-13-45T00:00:00Z", "after"),
        ("cursor=cur_garbage", "cursor"),
        ("cursor=abc", "cursor"),
        ("visitorId=nope", "visitorId"),
        ("colour=blue", "colour"),
    ] {
        let b = assert_error(
            s.get(&format!("/v1/events?{q}"), &s.secret_key),
            400,
            "validation_error",
        );
        assert_eq!(b["error"]["field"], field, "{q}");
    }
    for bad in ["req_123", "evt_1707832921_a7f2c9", "req_1707832921_ZZZZZZ"] {
        let b = assert_error(
            s.get(&format!("/v1/events/{bad}"), &s.secret_key),
            400,
            "validation_error",
        );
        assert_eq!(b["error"]["field"], "requestId");
    }
    assert_error(
        s.get("/v1/events/req_1707832921_a7f2c9", &s.secret_key),
        404,
        "not_found",
    );
    assert_error(
        s.get("/v1/visitors/pv_short", &s.secret_key),
        400,
        "validation_error",
    );
    assert_error(
        s.get("/v1/visitors/pv_0000000000000", &s.secret_key),
        404,
        "not_found",
    );
}

fn urlencode(s: &str) -> String {
    s.replace(':', "%3A").replace('+', "%2B")
}

#[test]
fn deleting_a_visitor_erases_every_trace_and_the_browser_comes_back_new() {
    let s = TestServer::start();
    let mut body = payload(7);
    body["linkedId"] = json!("user-7");
    let (first, token) = s.identify_ok(&s.public_key, &body);
    let (second, _) = s.identify_ok(&s.public_key, &body);
    assert_eq!(first["visitorId"], second["visitorId"]);
    let other = s.identify_ok(&s.public_key, &payload(8)).0;
    let vid = first["visitorId"].as_str().unwrap();

    let del = s.delete(&format!("/v1/visitors/{vid}"), &s.secret_key);
    assert_eq!(del.status(), 200);
    assert_eq!(
        del.json::<Value>().unwrap(),
        json!({"deleted": true, "visitorId": vid})
    );
    assert_error(
        s.get(&format!("/v1/visitors/{vid}"), &s.secret_key),
        404,
        "not_found",
    );
    for r in [&first, &second] {
        assert_error(
            s.get(
                &format!("/v1/events/{}", r["requestId"].as_str().unwrap()),
                &s.secret_key,
            ),
            404,
            "not_found",
        );
    }
    assert_eq!(
        s.event_count(&s.secret_key),
        1,
        "only the other visitor's event is left"
    );
    let again = s.delete(&format!("/v1/visitors/{vid}"), &s.secret_key);
    assert_error(again, 404, "not_found");

    // With its old token and the same fingerprint, the browser is a stranger now.
    let (back, _) = s.identify_ok(&s.public_key, &with_token(body, &token));
    assert_ne!(back["visitorId"], first["visitorId"]);
    assert_eq!(back["visitorFound"], false);
    // The other visitor is untouched.
    assert_eq!(
        s.json(
            &format!("/v1/visitors/{}", other["visitorId"].as_str().unwrap()),
            &s.secret_key
        )
        .0,
        200
    );
}

#[test]
fn an_acknowledged_identification_survives_a_crash_and_the_index_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_in(dir.path(), &[]);
    let keys = (s.public_key.clone(), s.secret_key.clone());
    let (res, _) = s.identify_ok(&keys.0, &payload(11));
    s.kill_hard();
    let again = TestServer::start_in(dir.path(), &[]);
    let (status, ev) = again.json(
        &format!("/v1/events/{}", res["requestId"].as_str().unwrap()),
        &keys.1,
    );
    assert_eq!(status, 200, "acknowledged means durable");
    assert_eq!(ev["visitorId"], res["visitorId"]);
    // The matching index came back from the store: the same browser is recognised.
    let (back, _) = again.identify_ok(&keys.0, &payload(11));
    assert_eq!(back["visitorId"], res["visitorId"]);
    assert_eq!(back["visitorFound"], true);
}

#[test]
fn expired_events_answer_404() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), &["--retention-days", "1"]);
    let (res, _) = s.identify_ok(&s.public_key, &payload(12));
    let rid = res["requestId"].as_str().unwrap();
    assert_eq!(s.json(&format!("/v1/events/{rid}"), &s.secret_key).0, 200);
    // Age the event by two days, as time passing would.
    let aged = store_execute(
        dir.path(),
        &format!("UPDATE events SET ts_ms = ts_ms - 2 * 86400000 WHERE request_id = '{rid}'"),
    );
    assert_eq!(aged, 1);
    assert_error(
        s.get(&format!("/v1/events/{rid}"), &s.secret_key),
        404,
        "not_found",
    );
    assert_eq!(s.event_count(&s.secret_key), 0);
    let bad = crate::harness::prynt()
        .args(["serve", "--listen", "127.0.0.1:0", "--retention-days", "0"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn agent_scripts_demo_page_and_cors_are_served() {
    let s = TestServer::start();
    let demo = client().get(s.url("/demo")).send().unwrap();
    assert_eq!(demo.status(), 200);
    let html = demo.text().unwrap();
    assert!(
        html.contains("<script src=\"/v1/agent.js\"></script>") && html.contains("agent.identify(")
    );
    // `/` is the demo page itself, not a redirect to it.
    let root = client_no_redirects().get(s.url("/")).send().unwrap();
    assert_eq!(root.status(), 200);
    assert_eq!(root.text().unwrap(), html);
    let js = client().get(s.url("/v1/agent.js")).send().unwrap();
    assert_eq!(js.status(), 200);
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    let text = js.text().unwrap();
    assert!(
        text.trim_end().ends_with("window.Prynt = Prynt;})();"),
        "classic script"
    );
    let module = client()
        .get(s.url("/v1/agent.mjs"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        module.trim_end().ends_with("export default Prynt;")
            && !module.contains("window.Prynt = Prynt;")
    );

    let pre = client()
        .request(Method::OPTIONS, s.url("/v1/identify"))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .send()
        .unwrap();
    assert_eq!(pre.status(), 204);
    assert_eq!(
        pre.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let r = identify_from(&s, "https://shop.example");
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    assert!(r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .contains("X-Prynt-Visitor-Token"));

    // Once origins are restricted, others are refused before any work is done.
    let set = s
        .req(Method::PATCH, "/v1/workspace", &s.secret_key)
        .json(&json!({"allowedOrigins": ["https://shop.example"]}))
        .send()
        .unwrap();
    assert_eq!(set.status(), 200);
    let before = s.event_count(&s.secret_key);
    let refused = identify_from(&s, "https://evil.example");
    assert_eq!(
        refused.headers()["access-control-allow-origin"],
        "https://evil.example"
    );
    assert_error(refused, 403, "origin_not_allowed");
    assert_eq!(s.event_count(&s.secret_key), before);
    let ok = identify_from(&s, "https://SHOP.example:443");
    assert_eq!(ok.status(), 200);
}

/// Identifies the first test browser from a page of `origin`.
fn identify_from(s: &TestServer, origin: &str) -> reqwest::blocking::Response {
    client()
        .post(s.url("/v1/identify"))
        .bearer_auth(&s.public_key)
        .header("origin", origin)
        .json(&payload(1))
        .send()
        .unwrap()
}

/// What two servers answered to browser 7's return, one from its home, one from a café.
struct HomeAndAway {
    /// Browser 7's visitor ID on the first server.
    known: Value,
    home: Value,
    /// How likely each server says it is that the return was browser 7's.
    p_home: f64,
    p_away: f64,
}

/// Browser 7's changed return (another time zone and monitor, no storage) to two servers given
/// the same history and then restarted, so that what they weigh comes from the stored profiles:
/// 40 browsers, each from a home network of its own (81.12.SEED.7), then browser 7 again from
/// `last_ip`. One server sees the return from its home, the other from a café. Asserts that the
/// stored profile has the current encoding, with the networks.
fn return_home_and_away(last_ip: &str) -> HomeAndAway {
    let mut servers: Vec<(tempfile::TempDir, TestServer)> = (0..2)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            let s = TestServer::start_in(dir.path(), &["--trust-proxy", "127.0.0.0/8"]);
            (dir, s)
        })
        .collect();
    let mut first = Vec::new();
    for (_, s) in &servers {
        for seed in 0..40u32 {
            s.identify_from_ip(&payload(seed), &format!("81.12.{seed}.7"));
        }
        first.push(s.identify_from_ip(&payload(7), last_ip)["visitorId"].clone());
    }
    for (dir, s) in &mut servers {
        let keys = (s.public_key.clone(), s.secret_key.clone());
        s.kill_hard();
        *s = TestServer::start_in(dir.path(), &["--trust-proxy", "127.0.0.0/8"]);
        (s.public_key, s.secret_key) = keys;
    }
    let mut changed = payload(7);
    changed["components"]["timezone"] = json!("Asia/Tokyo");
    changed["components"]["screen"]["w"] = json!(3840);
    changed["components"]["screen"]["h"] = json!(2160);
    let home = servers[0].1.identify_from_ip(&changed, "81.12.7.200");
    let away = servers[1].1.identify_from_ip(&changed, "203.0.113.5");
    let p_return = |answer: &Value, known: &Value| {
        let c = answer["confidence"].as_f64().unwrap();
        if answer["visitorId"] == *known {
            c
        } else {
            assert_eq!(answer["visitorFound"], false, "{answer}");
            1.0 - c
        }
    };
    let profile_len = store_query(
        &servers[0].1.data_dir,
        &format!(
            "SELECT length(profile) FROM visitors WHERE visitor_id = '{}'",
            first[0].as_str().unwrap()
        ),
    );
    assert_eq!(
        profile_len,
        [[Some(prynt_identify::fingerprint::ENCODED_LEN.to_string())]]
    );
    HomeAndAway {
        p_home: p_return(&home, &first[0]),
        p_away: p_return(&away, &first[1]),
        known: first.swap_remove(0),
        home,
    }
}

#[test]
fn a_return_without_its_token_counts_its_own_network_for_it_and_keeps_it_across_a_restart() {
    // Last seen at home: the return from home links, and surer than from a café.
    let r = return_home_and_away("81.12.7.9");
    assert_eq!(r.home["visitorId"], r.known, "{}", r.home);
    assert!(r.p_home > r.p_away, "home {}, away {}", r.p_home, r.p_away);
}

#[test]
fn a_return_to_the_network_before_the_latest_counts_for_it_across_a_restart() {
    // Last seen on mobile data, after its home network: neither home nor the café is its
    // latest network, but home is the one before.
    let r = return_home_and_away("100.70.3.4");
    assert!(
        r.p_home > r.p_away + 0.05,
        "home {}, away {}",
        r.p_home,
        r.p_away
    );
}
