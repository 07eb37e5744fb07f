//! Scores and velocity end to end: the suspect score follows the workspace's weights, velocity
//! counts what came before an event (and forgets an erased visitor), and masked addresses.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{client, payload, store_execute, TestServer};

/// Identifies `body` as if from `ip` (the server trusts loopback as its proxy); returns the
/// stored event.
fn identify_from(s: &TestServer, body: &Value, ip: &str) -> Value {
    s.event_of(&s.identify_from_ip(body, ip))
}

/// Waits until the restarted server has loaded every environment's account history.
fn wait_for_account_history(s: &TestServer) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let text = client()
            .get(s.url("/metrics"))
            .send()
            .and_then(|r| r.text())
            .unwrap_or_default();
        if text.lines().any(|l| l == "prynt_account_history_loading 0") {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "account history still loading: {text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Starts the server again on the stopped `s`'s data dir, with `s`'s keys.
fn start_again(s: &TestServer, args: &[&str]) -> TestServer {
    let mut again = TestServer::start_in(&s.data_dir, args);
    // Keys are printed on the first start only.
    again.public_key = s.public_key.clone();
    again.secret_key = s.secret_key.clone();
    again
}

fn patch(s: &TestServer, body: Value) -> (u16, Value) {
    let r = s
        .req(Method::PATCH, "/v1/workspace", &s.secret_key)
        .json(&body)
        .send()
        .expect("patch");
    (r.status().as_u16(), r.json().expect("json"))
}

#[test]
fn suspect_follows_the_workspace_weights_and_addresses_can_be_masked() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(tmp.path(), &["--trust-proxy", "127.0.0.1/32"]);
    // This test's HTTP client is no browser: the bot signal alone fires.
    let ev = identify_from(&s, &payload(1), "198.51.100.1");
    assert_eq!(ev["signals"]["bot"]["detected"], true);
    assert_eq!(ev["scores"]["suspect"], 7, "{}", ev["scores"]);
    for p in ["bot", "abuse", "ato"] {
        let v = ev["scores"][p].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{p}: {v}");
    }
    assert!(
        ev["scores"]["bot"].as_f64().unwrap() > 0.8,
        "a detected bot is a likely bot"
    );

    let (status, ws) = patch(&s, json!({"suspectWeights": {"bot": 2}, "maskIp": true}));
    assert_eq!(status, 200, "{ws}");
    assert_eq!(ws["suspectWeights"]["bot"], 2);
    assert_eq!(ws["suspectWeights"]["tor"], 14, "left out: the default");
    assert_eq!(ws["maskIp"], true);
    let ev = identify_from(&s, &payload(1), "198.51.100.1");
    assert_eq!(ev["scores"]["suspect"], 2);
    assert_eq!(ev["ip"]["address"], "198.51.xxx.xxx");
    let ev6 = identify_from(&s, &payload(1), "2001:db8:85a3::8a2e:370:7334");
    assert_eq!(
        ev6["ip"]["address"],
        "2001:db8:85a3:xxxx:xxxx:xxxx:xxxx:xxxx"
    );

    // Bad weights are refused with the field named, and nothing changes.
    for (body, field) in [
        (
            json!({"suspectWeights": {"bot": 101}}),
            "suspectWeights.bot",
        ),
        (json!({"suspectWeights": {"bot": -1}}), "suspectWeights.bot"),
        (json!({"suspectWeights": {"martian": 1}}), "suspectWeights"),
        (json!({"maskIp": "yes"}), "maskIp"),
    ] {
        let (status, err) = patch(&s, body.clone());
        assert_eq!(status, 400, "{body}: {err}");
        assert_eq!(err["error"]["code"], "validation_error");
        assert!(
            err["error"]["field"]
                .as_str()
                .unwrap_or("")
                .starts_with(field),
            "{body}: {err}"
        );
    }
    let (_, ws) = s.json("/v1/workspace", &s.secret_key);
    assert_eq!(ws["suspectWeights"]["bot"], 2);
}

#[test]
fn velocity_counts_what_came_before_and_forgets_an_erased_visitor() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(tmp.path(), &["--trust-proxy", "127.0.0.1/32"]);
    let mut login = payload(7);
    login["linkedId"] = json!("alice");
    let first = identify_from(&s, &login, "198.51.100.1");
    let v = &first["velocity"];
    assert_eq!(
        v["distinctIp"]["5m"], 0,
        "nothing before the first event: {v}"
    );
    assert_eq!(v["newDeviceForAccount"], false);
    let second = identify_from(&s, &login, "198.51.100.2");
    assert_eq!(second["visitorId"], first["visitorId"]);
    assert_eq!(second["velocity"]["distinctIp"]["5m"], 1);
    let third = identify_from(&s, &login, "198.51.100.3");
    assert_eq!(third["velocity"]["distinctIp"]["1h"], 2);
    assert_eq!(third["velocity"]["distinctLinkedId"]["24h"], 1);

    // Another browser on the same account and address: a new device for alice.
    let mut other = payload(300);
    other["linkedId"] = json!("alice");
    let ev = identify_from(&s, &other, "198.51.100.3");
    assert_ne!(ev["visitorId"], first["visitorId"]);
    assert_eq!(ev["velocity"]["newDeviceForAccount"], true);
    assert_eq!(ev["velocity"]["visitorsPerLinkedId"]["5m"], 1);
    assert_eq!(ev["velocity"]["visitorsPerIp"]["5m"], 1);
    assert!(
        ev["scores"]["ato"].as_f64().unwrap() > third["scores"]["ato"].as_f64().unwrap(),
        "a new device on the account raises ato"
    );

    // Erasing the first visitor erases what the counters knew of it.
    let del = client()
        .delete(s.url(&format!(
            "/v1/visitors/{}",
            first["visitorId"].as_str().unwrap()
        )))
        .bearer_auth(&s.secret_key)
        .send()
        .unwrap();
    assert!(del.status().is_success(), "{}", del.status());
    let mut third_browser = payload(600);
    third_browser["linkedId"] = json!("alice");
    let ev = identify_from(&s, &third_browser, "198.51.100.3");
    assert_eq!(
        ev["velocity"]["visitorsPerIp"]["5m"], 1,
        "only the second browser is left"
    );
    assert_eq!(ev["velocity"]["visitorsPerLinkedId"]["5m"], 1);
}

#[test]
fn velocity_counts_survive_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_in(tmp.path(), &["--trust-proxy", "127.0.0.1/32"]);
    let mut login = payload(8);
    login["linkedId"] = json!("bob");
    let first = identify_from(&s, &login, "198.51.100.1");
    identify_from(&s, &login, "198.51.100.2");
    assert!(s.terminate().success());
    let mut again = TestServer::start_in(tmp.path(), &["--trust-proxy", "127.0.0.1/32"]);
    // Keys are printed on the first start only.
    again.public_key = s.public_key.clone();
    again.secret_key = s.secret_key.clone();
    let s = again;
    let ev = identify_from(&s, &login, "198.51.100.3");
    assert_eq!(ev["visitorId"], first["visitorId"]);
    assert_eq!(
        ev["velocity"]["distinctIp"]["1h"], 2,
        "the two addresses before the restart: {}",
        ev["velocity"]
    );
    let mut other = payload(301);
    other["linkedId"] = json!("bob");
    wait_for_account_history(&s);
    let ev = identify_from(&s, &other, "198.51.100.3");
    assert_eq!(ev["velocity"]["newDeviceForAccount"], true);
    assert_eq!(ev["velocity"]["visitorsPerLinkedId"]["24h"], 1);
}

#[test]
fn new_device_for_account_looks_back_90_days_across_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    // A year of retention, so that events older than 90 days stay in the store.
    let args = ["--trust-proxy", "127.0.0.1/32", "--retention-days", "365"];
    let mut s = TestServer::start_in(tmp.path(), &args);
    let login = |seed: u32, account: &str| {
        let mut body = payload(seed);
        body["linkedId"] = json!(account);
        body
    };
    let (a, b, c, d) = (21, 22, 23, 24);
    let first_a = identify_from(&s, &login(a, "carol"), "198.51.100.1");
    let first_c = identify_from(&s, &login(c, "dave"), "198.51.100.3");
    identify_from(&s, &login(d, "frank"), "198.51.100.4");
    assert_eq!(first_a["velocity"]["newDeviceForAccount"], false);
    assert!(s.terminate().success());
    // Age the visits as time passing would: frank's by 91 days, beyond the account window;
    // the others by three days, beyond the 24-hour counters.
    let aged = store_execute(
        tmp.path(),
        // BIGINT: on PostgreSQL 91 days of milliseconds overflow a plain integer.
        "UPDATE events SET ts_ms = ts_ms - 86400000 *
            CAST(CASE linked_id WHEN 'frank' THEN 91 ELSE 3 END AS BIGINT)",
    );
    assert_eq!(aged, 3, "the three logins");
    let s = start_again(&s, &args);
    wait_for_account_history(&s);

    // B on carol, which A used three days ago: a new device.
    let ev = identify_from(&s, &login(b, "carol"), "198.51.100.2");
    assert_ne!(ev["visitorId"], first_a["visitorId"]);
    assert_eq!(
        ev["velocity"]["visitorsPerLinkedId"]["24h"], 0,
        "the 24-hour counters know nothing of carol: {}",
        ev["velocity"]
    );
    assert_eq!(ev["velocity"]["newDeviceForAccount"], true, "A used carol");
    // A back on carol: only B used carol in the last 24 hours, but A is a known device.
    let ev = identify_from(&s, &login(a, "carol"), "198.51.100.1");
    assert_eq!(ev["visitorId"], first_a["visitorId"]);
    assert_eq!(ev["velocity"]["visitorsPerLinkedId"]["24h"], 1);
    assert_eq!(ev["velocity"]["newDeviceForAccount"], false, "A used carol");
    // C back on dave: known.
    let ev = identify_from(&s, &login(c, "dave"), "198.51.100.3");
    assert_eq!(ev["visitorId"], first_c["visitorId"]);
    assert_eq!(ev["velocity"]["newDeviceForAccount"], false);
    // frank's only use is 91 days old: not used within the window, so nothing is new on it.
    let ev = identify_from(&s, &login(b, "frank"), "198.51.100.2");
    assert_eq!(ev["velocity"]["newDeviceForAccount"], false);
    // An account never used before is not a new device either.
    let ev = identify_from(&s, &login(b, "erin"), "198.51.100.2");
    assert_eq!(ev["velocity"]["newDeviceForAccount"], false);
}

#[test]
fn a_payload_that_lies_about_itself_is_tampered_not_an_error() {
    let s = TestServer::start();
    // A Windows user agent with macOS fonts and an Apple GPU.
    let mut body = payload(3);
    body["components"]["userAgent"] = json!(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36"
    );
    body["components"]["fonts"] = json!(["Helvetica Neue", "Menlo", "Apple Color Emoji", "Arial"]);
    let ev = identify_from(&s, &body, "198.51.100.9");
    let sig = &ev["signals"];
    assert_eq!(sig["tampered"], true, "{sig}");
    let reasons = sig["tamperedReasons"].to_string();
    for needle in [
        "navigator.platform",
        "Apple GPU",
        "fonts belong to another system",
    ] {
        assert!(reasons.contains(needle), "{needle} in {reasons}");
    }
    assert!(
        ev["scores"]["suspect"].as_u64().unwrap() >= 8,
        "tampered weighs 8"
    );
    // The honest payload of the same seed is not tampered.
    let honest = identify_from(&s, &payload(3), "198.51.100.9");
    assert_eq!(
        honest["signals"]["tampered"], false,
        "{}",
        honest["signals"]
    );

    // Realms that contradict the page, and input no hand makes, are evidence too: 200 with the
    // contradictions named, never an error.
    let mut body = payload(4);
    let ua = body["components"]["userAgent"].clone();
    body["components"]["integrity"] = json!({
        "lies": ["Navigator.hardwareConcurrency"],
        "navigatorOwn": [],
        "webdriverMissing": false,
        "worker": {"userAgent": ua, "platform": "Linux x86_64", "hardwareConcurrency": 64},
        "iframe": null
    });
    body["components"]["behavior"] = json!({"pointerClicks": 1, "centredJumps": 1});
    let ev = identify_from(&s, &body, "198.51.100.9");
    let sig = &ev["signals"];
    let reasons = sig["tamperedReasons"].to_string();
    for needle in [
        "built-in functions were replaced by script",
        "in a Web Worker",
    ] {
        assert!(reasons.contains(needle), "{needle} in {reasons}");
    }
    assert_eq!(sig["bot"]["type"], "automation", "{sig}");
    assert!(sig["bot"]["reasons"].to_string().contains("exact centre"));
}
