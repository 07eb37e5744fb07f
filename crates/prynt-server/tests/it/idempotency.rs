//! `Idempotency-Key` end to end: a retried POST gets the first answer back and creates nothing
//! twice; keys are per credential, bound to one request, and only successes are kept.

use serde_json::{json, Value};

use crate::harness::{assert_error, client, on_postgres, payload, store_query, TestServer};

fn post(
    s: &TestServer,
    path: &str,
    key: &str,
    idem: Option<&str>,
    body: &Value,
) -> reqwest::blocking::Response {
    let mut r = client().post(s.url(path)).bearer_auth(key).json(body);
    if let Some(k) = idem {
        r = r.header("Idempotency-Key", k);
    }
    r.send().expect("request")
}

fn rule(name: &str) -> Value {
    json!({
        "name": name,
        "conditions": {"operator": "AND", "rules": [{"field": "event.type", "operator": "equals", "value": "login"}]},
        "action": {"verdict": "challenge"}
    })
}

fn rule_count(s: &TestServer, key: &str) -> u64 {
    let (status, page) = s.json("/v1/rules", key);
    assert_eq!(status, 200);
    page["total"].as_u64().expect("total")
}

#[test]
fn a_retried_post_gets_the_first_answer_and_creates_nothing_twice() {
    let s = TestServer::start();
    let key = s.secret_key.clone();

    let first = post(&s, "/v1/rules", &key, Some("create-rule-1"), &rule("one"));
    assert_eq!(first.status(), 200);
    assert!(!first.headers().contains_key("idempotent-replayed"));
    let first_id = first.headers()["x-request-id"].to_str().unwrap().to_owned();
    let first: Value = first.json().unwrap();

    let again = post(&s, "/v1/rules", &key, Some("create-rule-1"), &rule("one"));
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_ne!(
        again.headers()["x-request-id"].to_str().unwrap(),
        first_id,
        "a new request id"
    );
    assert!(again.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(again.json::<Value>().unwrap(), first, "the same answer");
    assert_eq!(rule_count(&s, &key), 1, "one rule, not two");

    // Another request under the same key is refused; without a key, or with another, it runs.
    let b = assert_error(
        post(&s, "/v1/rules", &key, Some("create-rule-1"), &rule("two")),
        400,
        "validation_error",
    );
    assert_eq!(b["error"]["field"], "Idempotency-Key");
    let b = assert_error(
        post(&s, "/v1/lists", &key, Some("create-rule-1"), &rule("one")),
        400,
        "validation_error",
    );
    assert_eq!(b["error"]["field"], "Idempotency-Key");
    assert_eq!(
        post(&s, "/v1/rules", &key, Some("create-rule-2"), &rule("two")).status(),
        200
    );
    assert_eq!(
        post(&s, "/v1/rules", &key, None, &rule("three")).status(),
        200
    );
    assert_eq!(
        post(&s, "/v1/rules", &key, None, &rule("three")).status(),
        200
    );
    assert_eq!(rule_count(&s, &key), 4);

    // Keys belong to the credential: another key's same Idempotency-Key is its own.
    let other = s.create_key("live", "secret", "default");
    let theirs = post(&s, "/v1/rules", &other, Some("create-rule-1"), &rule("one"));
    assert_eq!(theirs.status(), 200);
    assert!(!theirs.headers().contains_key("idempotent-replayed"));
    assert_ne!(theirs.json::<Value>().unwrap()["id"], first["id"]);

    // A failure is not kept: the corrected retry under the same key runs.
    let bad = json!({"name": "bad", "action": {"verdict": "challenge"}});
    assert_error(
        post(&s, "/v1/rules", &key, Some("fix-me"), &bad),
        400,
        "validation_error",
    );
    assert_error(
        post(&s, "/v1/rules", &key, Some("fix-me"), &bad),
        400,
        "validation_error",
    );

    // Bad keys are refused before anything runs.
    for k in ["", "has space", &"k".repeat(256)] {
        let b = assert_error(
            post(&s, "/v1/rules", &key, Some(k), &rule("x")),
            400,
            "validation_error",
        );
        assert_eq!(b["error"]["field"], "Idempotency-Key");
    }
    assert_eq!(rule_count(&s, &key), 4);

    // Identify: the replay carries the answer's visitor token too, and records one event.
    let before = s.event_count(&key);
    let send = || {
        client()
            .post(s.url("/v1/identify"))
            .bearer_auth(&s.public_key)
            .header("Idempotency-Key", "identify-1")
            .json(&payload(3))
            .send()
            .unwrap()
    };
    let (a, b) = (send(), send());
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    assert_eq!(b.headers()["idempotent-replayed"], "true");
    assert_eq!(
        a.headers()["x-prynt-visitor-token"],
        b.headers()["x-prynt-visitor-token"]
    );
    assert_eq!(a.json::<Value>().unwrap(), b.json::<Value>().unwrap());
    assert_eq!(s.event_count(&key), before + 1);
}

#[test]
fn a_kept_answer_is_sealed_and_replayed_only_while_the_key_works() {
    let s = TestServer::start();
    let key = s.create_key("test", "secret", "default");
    let hook = json!({"url": "https://hooks.example/idem", "events": ["identification"]});
    let first = post(&s, "/v1/webhooks", &key, Some("hook-1"), &hook);
    assert_eq!(first.status(), 200);
    let first: Value = first.json().unwrap();
    let secret = first["secret"].as_str().expect("the secret").to_owned();
    let again = post(&s, "/v1/webhooks", &key, Some("hook-1"), &hook);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(
        again.json::<Value>().unwrap(),
        first,
        "the kept answer opens"
    );

    // The kept answer (it carries the webhook's secret) is not readable from the database.
    let body = if on_postgres() {
        "SELECT convert_from(body, 'UTF8') FROM idempotency_keys"
    } else {
        "SELECT CAST(body AS TEXT) FROM idempotency_keys"
    };
    let kept = store_query(&s.data_dir, body);
    assert_eq!(kept.len(), 1);
    let kept = kept[0][0].clone().expect("a kept body");
    assert!(kept.starts_with("v1.") && !kept.contains(&secret), "{kept}");
    if !on_postgres() {
        for name in ["prynt.db", "prynt.db-wal"] {
            let bytes = std::fs::read(s.data_dir.join(name)).unwrap_or_default();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "the webhook secret is readable in {name}"
            );
        }
    }

    // Revoked: the retry is refused like any request of the key, not answered from the store.
    let listing = s.cli(&["keys", "list"]);
    let listing = String::from_utf8_lossy(&listing.stdout).to_string();
    // Listed by its display prefix, the key's first 12 characters.
    let id = listing
        .lines()
        .find(|l| l.contains(&key[..12]))
        .and_then(|l| l.split_whitespace().next())
        .expect("the key is listed")
        .to_owned();
    assert!(s.cli(&["keys", "revoke", &id]).status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(1500);
    while s.get("/v1/workspace", &key).status() == 200 {
        assert!(std::time::Instant::now() < deadline, "revoked within 1 s");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let retry = post(&s, "/v1/webhooks", &key, Some("hook-1"), &hook);
    assert!(!retry.headers().contains_key("idempotent-replayed"));
    assert_error(retry, 401, "invalid_api_key");
}
