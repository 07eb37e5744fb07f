//! Webhooks end to end against real local receivers: CRUD and URL checks, signed deliveries
//! selected by filters, retries with a stable payload id, a hanging receiver that holds up no
//! one, delivery after SIGKILL, SSRF refusals at delivery time, rotation, 410, test deliveries,
//! manual redelivery and HTTPS with a CA given by config.

use std::collections::HashSet;
use std::time::Duration;

use prynt_webhooks::signing;
use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{payload, store_query, TestServer};
use crate::receiver::{self, Receiver};

/// Fast retries so the tests see several attempts.
const FAST: &[&str] = &["--webhook-retry-schedule", "200ms,300ms,400ms"];

fn start(extra: &[&str]) -> (tempfile::TempDir, TestServer) {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(tmp.path(), extra);
    (tmp, s)
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

fn create(s: &TestServer, body: Value) -> (String, String) {
    let (status, w) = send(s, Method::POST, "/v1/webhooks", body);
    assert_eq!(status, 200, "{w}");
    (
        w["id"].as_str().unwrap().to_owned(),
        w["secret"].as_str().unwrap().to_owned(),
    )
}

fn identify(s: &TestServer, seed: u32, kind: &str) -> String {
    let mut body = payload(seed);
    body["type"] = json!(kind);
    let (res, _) = s.identify_ok(&s.public_key, &body);
    res["requestId"].as_str().unwrap().to_owned()
}

/// Whether `secret` signed the delivery: through `X-Prynt-Signature` (or, during a rotation,
/// `X-Prynt-Signature-Previous`), checked exactly as the reference tells receivers to (the
/// bare hex HMAC-SHA256 of the raw body), and through the Standard Webhooks headers; the two
/// must agree.
fn verify(hit: &receiver::Hit, secret: &str) -> bool {
    let header = |k: &str| hit.headers.get(k).cloned().unwrap_or_default();
    let own = [
        header("x-prynt-signature"),
        header("x-prynt-signature-previous"),
    ]
    .iter()
    .any(|h| signing::verify(h, secret, &hit.body));
    let timestamp: i64 = header("webhook-timestamp").parse().unwrap_or(0);
    let standard = signing::verify_standard(
        &header("webhook-signature"),
        secret,
        &header("webhook-id"),
        timestamp,
        &hit.body,
    );
    assert_eq!(own, standard, "the two signature schemes disagree");
    own
}

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn webhooks_are_created_checked_listed_updated_and_deleted() {
    let (_tmp, s) = start(&[]);
    for (body, field) in [
        (json!({}), "url"),
        (json!({"url": "http://hooks.example/x"}), "url"),
        (json!({"url": "http://127.0.0.1:9/x"}), "url"),
        (json!({"url": "https://10.1.2.3/x"}), "url"),
        (json!({"url": "https://169.254.169.254/latest"}), "url"),
        (json!({"url": "https://user:pw@hooks.example/x"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (
            json!({"url": "https://hooks.example/x", "events": ["everything"]}),
            "events[0]",
        ),
        (
            json!({"url": "https://hooks.example/x", "events": []}),
            "events",
        ),
        (
            json!({"url": "https://hooks.example/x", "filters": {"verdict": ["maybe"]}}),
            "filters.verdict[0]",
        ),
        (
            json!({"url": "https://hooks.example/x", "filters": {"colour": 1}}),
            "filters.colour",
        ),
        (
            json!({"url": "https://hooks.example/x", "secret": "short"}),
            "secret",
        ),
        (
            json!({"url": "https://hooks.example/x", "extra": 1}),
            "extra",
        ),
    ] {
        let (status, err) = send(&s, Method::POST, "/v1/webhooks", body.clone());
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (400, Some(field)),
            "{body}: {err}"
        );
    }
    let (status, w) = send(
        &s,
        Method::POST,
        "/v1/webhooks",
        json!({"url": "https://hooks.example/prynt", "events": ["identification", "rule_match"],
               "filters": {"verdict": ["block", "challenge"]}}),
    );
    assert_eq!(status, 200, "{w}");
    let id = w["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("whk_"));
    let secret = w["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    let stored = store_query(
        &s.data_dir,
        &format!("SELECT secret FROM webhooks WHERE id = '{id}'"),
    );
    let stored = match &stored[..] {
        [row] => row[0].clone().expect("a stored secret"),
        rows => panic!("one webhook row for {id}: {rows:?}"),
    };
    assert!(!stored.is_empty(), "a secret is stored");
    assert!(
        !stored.contains(secret) && !stored.contains("whsec_"),
        "sealed at rest: {stored}"
    );
    assert_eq!(w["status"], "active");
    let (_, got) = s.json(&format!("/v1/webhooks/{id}"), &s.secret_key);
    assert!(
        got.get("secret").is_none(),
        "the secret is shown once: {got}"
    );
    assert_eq!(got["events"], json!(["identification", "rule_match"]));
    assert_eq!(got["successRate"], Value::Null);
    let (_, own) = send(
        &s,
        Method::POST,
        "/v1/webhooks",
        json!({"url": "https://hooks.example/b", "secret": "my-own-secret-123456"}),
    );
    assert_eq!(own["secret"], "my-own-secret-123456");
    assert_eq!(
        own["events"],
        json!(["identification", "rule_match", "list_update"]),
        "default: all"
    );

    let (status, up) = send(
        &s,
        Method::PATCH,
        &format!("/v1/webhooks/{id}"),
        json!({"status": "paused"}),
    );
    assert_eq!((status, up["status"].as_str()), (200, Some("paused")));
    let (_, page) = s.json("/v1/webhooks?status=active", &s.secret_key);
    assert_eq!(page["total"], 1);
    let (_, page) = s.json("/v1/webhooks", &s.secret_key);
    assert_eq!(
        (page["total"].as_u64(), &page["hasMore"]),
        (Some(2), &json!(false))
    );
    let (status, _) = send(
        &s,
        Method::PUT,
        &format!("/v1/webhooks/{id}"),
        json!({"url": "http://x.example"}),
    );
    assert_eq!(status, 400);
    assert_eq!(s.get("/v1/webhooks", &s.public_key).status(), 403);
    let (status, del) = send(&s, Method::DELETE, &format!("/v1/webhooks/{id}"), json!({}));
    assert_eq!(
        (status, del),
        (200, json!({"deleted": true, "webhookId": id}))
    );
    assert_eq!(s.json(&format!("/v1/webhooks/{id}"), &s.secret_key).0, 404);
}

#[test]
fn deliveries_are_signed_filtered_and_retried_with_the_same_id() {
    let (_tmp, s) = start(&[&["--dev-allow-loopback-webhooks"], FAST].concat());
    let flaky = Receiver::start(receiver::OK, 2);
    let rules = Receiver::start(receiver::OK, 0);
    let (flaky_id, flaky_secret) = create(
        &s,
        json!({"url": flaky.url("http"), "events": ["identification"], "filters": {"verdict": "block"}}),
    );
    let (_, rules_secret) = create(
        &s,
        json!({"url": rules.url("http"), "events": ["rule_match"]}),
    );
    let (status, _) = send(
        &s,
        Method::POST,
        "/v1/rules",
        json!({"name": "block signups", "status": "live",
        "conditions": {"operator": "AND", "rules": [{"field": "event.type", "operator": "equals", "value": "registration"}]},
        "action": {"verdict": "block"}}),
    );
    assert_eq!(status, 200);

    let blocked = identify(&s, 1, "registration");
    let allowed = identify(&s, 2, "login");
    let hits = flaky.wait(WAIT, "three attempts", |h| h.len() >= 3);
    assert_eq!(
        hits.iter().map(|h| h.answered).collect::<Vec<_>>(),
        vec![500, 500, 200]
    );
    let ids: HashSet<&str> = hits
        .iter()
        .map(|h| h.headers["x-prynt-delivery"].as_str())
        .collect();
    assert_eq!(ids.len(), 1, "one delivery, retried");
    let bodies: Vec<Value> = hits.iter().map(|h| h.json()).collect();
    assert!(
        bodies.iter().all(|b| b["id"] == bodies[0]["id"]),
        "the payload id is stable"
    );
    for (hit, body) in hits.iter().zip(&bodies) {
        assert!(verify(hit, &flaky_secret), "signature over the raw body");
        assert!(
            !verify(hit, &rules_secret),
            "another secret does not verify"
        );
        assert_eq!(body["event"], "identification");
        assert_eq!(body["data"]["requestId"], blocked.as_str());
        assert_eq!(body["data"]["verdict"], "block");
        assert!(body["timestamp"].is_string());
    }
    // The payload's event is the event exactly as the API reads it, first-seen time included.
    let (status, stored) = s.json(&format!("/v1/events/{blocked}"), &s.secret_key);
    assert_eq!(status, 200);
    assert!(stored["firstSeenAt"].is_string(), "{stored}");
    assert_eq!(bodies[0]["data"], stored);
    let r = rules.wait(WAIT, "the rule match", |h| !h.is_empty());
    assert_eq!(r[0].json()["event"], "rule_match");
    assert_eq!(r[0].json()["data"]["requestId"], blocked.as_str());
    assert!(verify(&r[0], &rules_secret));

    // The allowed login is filtered out everywhere.
    std::thread::sleep(Duration::from_millis(800));
    assert!(flaky
        .hits()
        .iter()
        .all(|h| h.json()["data"]["requestId"] != allowed.as_str()));
    assert_eq!(rules.hits().len(), 1);

    let (_, page) = s.json(
        &format!("/v1/webhooks/{flaky_id}/deliveries"),
        &s.secret_key,
    );
    let d = &page["data"][0];
    assert_eq!(d["status"], "succeeded", "{page}");
    let codes: Vec<Value> = d["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["statusCode"].clone())
        .collect();
    assert_eq!(codes, vec![json!(500), json!(500), json!(200)]);
    let (_, w) = s.json(&format!("/v1/webhooks/{flaky_id}"), &s.secret_key);
    assert!(
        (w["successRate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 0.01,
        "{w}"
    );
    assert!(w["lastDeliveryAt"].is_string());
}

#[test]
fn a_hanging_receiver_times_out_without_holding_up_another() {
    let (_tmp, s) = start(&["--dev-allow-loopback-webhooks", "--webhook-timeout", "1"]);
    let hanging = Receiver::start(receiver::HANG, 0);
    let fine = Receiver::start(receiver::OK, 0);
    let (hang_id, _) = create(
        &s,
        json!({"url": hanging.url("http"), "events": ["identification"]}),
    );
    create(
        &s,
        json!({"url": fine.url("http"), "events": ["identification"]}),
    );
    let started = std::time::Instant::now();
    for i in 0..5 {
        identify(&s, i, "login");
    }
    fine.wait(Duration::from_secs(5), "five deliveries", |h| h.len() == 5);
    assert!(started.elapsed() < Duration::from_secs(5));
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (_, page) = s.json(&format!("/v1/webhooks/{hang_id}/deliveries"), &s.secret_key);
        let timed_out = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["attempts"][0]["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("timed out"))
            })
            .count();
        if timed_out == 5 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{page}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Deleting the webhook cancels its pending retries at once.
    let pending = |status: &str| -> i64 {
        let rows = store_query(
            &s.data_dir,
            &format!(
                "SELECT COUNT(*) FROM deliveries WHERE webhook_id = '{hang_id}' AND status = '{status}'"
            ),
        );
        rows[0][0]
            .as_deref()
            .and_then(|n| n.parse().ok())
            .expect("a count")
    };
    assert_eq!(
        pending("pending"),
        5,
        "timed-out deliveries wait for their retry"
    );
    let (status, _) = send(
        &s,
        Method::DELETE,
        &format!("/v1/webhooks/{hang_id}"),
        json!({}),
    );
    assert_eq!(status, 200);
    assert_eq!((pending("pending"), pending("cancelled")), (0, 5));
}

#[test]
fn deliveries_acknowledged_before_a_sigkill_are_delivered_after_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["--dev-allow-loopback-webhooks", "--webhook-timeout", "5"];
    let mut s = TestServer::start_in(tmp.path(), &args);
    let r = Receiver::start(receiver::HANG, 0);
    create(
        &s,
        json!({"url": r.url("http"), "events": ["identification"]}),
    );
    let ids: Vec<String> = (0..8).map(|i| identify(&s, i, "login")).collect();
    s.kill_hard();
    assert!(r.hits().is_empty(), "nothing was delivered before the kill");
    r.set_mode(receiver::OK);
    let mut again = TestServer::start_in(tmp.path(), &args);
    again.public_key = s.public_key.clone();
    let hits = r.wait(WAIT, "every event", |h| h.len() >= 8);
    let got: HashSet<String> = hits
        .iter()
        .map(|h| h.json()["data"]["requestId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, ids.into_iter().collect::<HashSet<_>>());
    assert!(again.terminate().success());
}

#[test]
fn private_addresses_are_refused_at_delivery_time() {
    // No development flag: a name that resolves to loopback is refused when delivering.
    let (_tmp, s) = start(FAST);
    let r = Receiver::start(receiver::OK, 0);
    let (id, _) = create(
        &s,
        json!({"url": format!("https://localhost:{}/hook", r.port), "events": ["identification"]}),
    );
    identify(&s, 1, "login");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (_, page) = s.json(&format!("/v1/webhooks/{id}/deliveries"), &s.secret_key);
        if let Some(err) = page["data"][0]["attempts"][0]["error"].as_str() {
            assert!(err.contains("refused"), "{err}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{page}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(r.hits().is_empty(), "no connection reached the receiver");
}

#[test]
fn rotation_test_deliveries_gone_and_redelivery() {
    let (_tmp, s) = start(&[&["--dev-allow-loopback-webhooks"], FAST].concat());
    let r = Receiver::start(receiver::OK, 0);
    let (id, old) = create(&s, json!({"url": r.url("http"), "events": ["list_update"]}));
    let (status, test) = send(
        &s,
        Method::POST,
        &format!("/v1/webhooks/{id}/test"),
        json!({}),
    );
    assert_eq!(status, 200, "{test}");
    let hits = r.wait(WAIT, "the test delivery", |h| !h.is_empty());
    assert_eq!(hits[0].json()["event"], "test");
    assert_eq!(hits[0].json()["id"], test["payloadId"]);
    assert!(verify(&hits[0], &old));

    let (status, rot) = send(
        &s,
        Method::POST,
        &format!("/v1/webhooks/{id}/rotate-secret"),
        json!({}),
    );
    assert_eq!(status, 200, "{rot}");
    let new = rot["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let (_, list) = send(
        &s,
        Method::POST,
        "/v1/lists",
        json!({"name": "l", "type": "email"}),
    );
    let list_id = list["id"].as_str().unwrap();
    send(
        &s,
        Method::POST,
        &format!("/v1/lists/{list_id}/entries"),
        json!({"add": ["a@b.example"]}),
    );
    let hits = r.wait(WAIT, "the list update", |h| h.len() >= 2);
    let update = &hits[1];
    assert_eq!(update.json()["data"]["added"], json!(["a@b.example"]));
    // The main header is the new secret's bare hex digest, the previous secret's beside it
    // (the digest function itself is checked against independent vectors in its unit tests).
    let expected = |secret: &str| signing::signature(secret, &update.body);
    assert_eq!(update.headers["x-prynt-signature"], expected(&new));
    assert_eq!(update.headers["x-prynt-signature-previous"], expected(&old));
    assert_eq!(update.headers["webhook-signature"].split(' ').count(), 2);
    assert!(
        verify(update, &new) && verify(update, &old),
        "both secrets sign during rotation"
    );

    // 410 Gone pauses the webhook; a manual redelivery after resuming gets through.
    r.set_mode(receiver::GONE);
    send(
        &s,
        Method::POST,
        &format!("/v1/lists/{list_id}/entries"),
        json!({"add": ["c@d.example"]}),
    );
    r.wait(WAIT, "the 410", |h| h.iter().any(|x| x.answered == 410));
    let deadline = std::time::Instant::now() + WAIT;
    while s.json(&format!("/v1/webhooks/{id}"), &s.secret_key).1["status"] != "paused" {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
    r.set_mode(receiver::OK);
    send(
        &s,
        Method::PATCH,
        &format!("/v1/webhooks/{id}"),
        json!({"status": "active"}),
    );
    let (_, page) = s.json(&format!("/v1/webhooks/{id}/deliveries"), &s.secret_key);
    let failed = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["status"] == "failed")
        .unwrap();
    let dlv = failed["id"].as_str().unwrap();
    let (status, _) = send(
        &s,
        Method::POST,
        &format!("/v1/webhooks/{id}/deliveries/{dlv}/retry"),
        json!({}),
    );
    assert_eq!(status, 200);
    let hits = r.wait(WAIT, "the redelivery", |h| {
        h.iter().filter(|x| x.answered == 200).count() >= 3
    });
    assert_eq!(
        hits.last().unwrap().json()["data"]["added"],
        json!(["c@d.example"])
    );
}

#[test]
fn https_receivers_are_trusted_through_the_configured_ca() {
    let (ca_pem, tls) = receiver::test_ca();
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let s = TestServer::start_in(
        &tmp.path().join("data"),
        &[
            "--dev-allow-loopback-webhooks",
            "--webhook-ca",
            ca.to_str().unwrap(),
        ],
    );
    let r = Receiver::start_tls(tls);
    let (_, secret) = create(
        &s,
        json!({"url": r.url("https"), "events": ["identification"]}),
    );
    let request_id = identify(&s, 3, "login");
    let hits = r.wait(WAIT, "the HTTPS delivery", |h| !h.is_empty());
    assert_eq!(hits[0].json()["data"]["requestId"], request_id.as_str());
    assert!(verify(&hits[0], &secret));
}
