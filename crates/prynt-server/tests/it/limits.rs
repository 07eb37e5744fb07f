//! Rate limits end to end: a starter key's management budget (30 a minute) and burst (10 a
//! second) refuse with the reference's 429, other keys, environments and budgets unaffected;
//! the headers on every answer; the wait `Retry-After` names is enough; identify is limited
//! per workspace.

use std::time::{Duration, Instant};

use reqwest::blocking::Response;
use serde_json::Value;

use crate::harness::{payload, TestServer};

fn header(r: &Response, name: &str) -> u64 {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A starter key's burst: 10 calls a second.
const STARTER_BURST: u64 = 10;

/// Whether `r` was refused by a starter key's burst: its headers then describe the burst.
fn burst_refusal(r: &Response) -> bool {
    r.status() == 429 && header(r, "x-ratelimit-limit") == STARTER_BURST
}

/// Calls `path` with a starter key until it is refused (at most `max` calls), pacing by the
/// burst's refill; returns the answers.
fn until_refused(s: &TestServer, key: &str, path: &str, max: usize) -> Vec<Response> {
    let mut out = Vec::new();
    for _ in 0..max {
        let r = s.get(path, key);
        let refused = r.status() == 429;
        // A burst refusal asks for under a second and leaves window budget: wait for the
        // burst to refill and go on.
        if burst_refusal(&r) {
            assert_eq!(header(&r, "x-ratelimit-remaining"), 0);
            std::thread::sleep(Duration::from_millis(120));
            continue;
        }
        out.push(r);
        if refused {
            break;
        }
    }
    out
}

#[test]
fn a_starter_key_gets_thirty_management_calls_a_minute_and_others_are_unaffected() {
    let s = TestServer::start();
    let out = s.cli(&["workspaces", "create", "shop", "--plan", "starter"]);
    assert!(out.status.success(), "{out:?}");
    let key = s.create_key("test", "secret", "shop");
    let other_key = s.create_key("test", "secret", "shop");
    let live_key = s.create_key("live", "secret", "shop");

    let started = Instant::now();
    let answers = until_refused(&s, &key, "/v1/rules", 300);
    let elapsed = started.elapsed().as_secs_f64();
    let accepted = answers.iter().filter(|r| r.status() == 200).count();
    // GCRA: 30 at once, then one more every 2 s of the run.
    assert!(accepted >= 30, "{accepted}");
    assert!(
        accepted as f64 <= 30.0 + (elapsed / 2.0).ceil(),
        "{accepted} in {elapsed:.1} s"
    );
    for r in &answers {
        assert_eq!(header(r, "x-ratelimit-limit"), 30);
        let reset = header(r, "x-ratelimit-reset");
        assert!(reset >= now_s() - 1 && reset <= now_s() + 61, "{reset}");
    }
    let last = answers.last().unwrap();
    assert_eq!(last.status(), 429);
    assert_eq!(header(last, "x-ratelimit-remaining"), 0);
    let retry = header(last, "retry-after");
    assert!((1..=2).contains(&retry), "{retry}");
    let last = answers.into_iter().last().unwrap();
    let body: Value = last.json().unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(body["error"]["retryAfter"], retry);
    assert_eq!(
        body["error"]["message"],
        format!("Rate limit exceeded. Retry in {retry}s.")
    );

    // Another key, the other environment and the server API are separate budgets.
    assert_eq!(s.get("/v1/rules", &other_key).status(), 200);
    assert_eq!(s.get("/v1/rules", &live_key).status(), 200);
    let r = s.get("/v1/events", &key);
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "x-ratelimit-limit"),
        100,
        "the server API budget"
    );

    // Waiting as told is enough.
    std::thread::sleep(Duration::from_secs(retry));
    let r = s.get("/v1/rules", &key);
    assert_eq!(
        r.status(),
        200,
        "after Retry-After {retry}: {:?} {}",
        r.headers().clone(),
        r.text().unwrap_or_default()
    );
}

#[test]
fn the_burst_is_enforced_and_identify_is_limited_per_workspace() {
    let s = TestServer::start();
    let out = s.cli(&["workspaces", "create", "tiny", "--plan", "starter"]);
    assert!(out.status.success(), "{out:?}");
    let key = s.create_key("test", "secret", "tiny");
    let mut codes = Vec::new();
    for _ in 0..15 {
        let r = s.get("/v1/events", &key);
        codes.push(r.status().as_u16());
        if r.status() == 429 {
            // The headers describe the burst that refused, not the minute's window.
            assert_eq!(
                (
                    header(&r, "x-ratelimit-limit"),
                    header(&r, "x-ratelimit-remaining")
                ),
                (STARTER_BURST, 0),
                "refused by the burst, not the window"
            );
            let reset = header(&r, "x-ratelimit-reset");
            assert!(reset >= now_s() && reset <= now_s() + 2, "{reset}");
            assert_eq!(header(&r, "retry-after"), 1);
            break;
        }
    }
    assert_eq!(codes.last(), Some(&429), "{codes:?}");
    assert!(
        codes.iter().filter(|c| **c == 200).count() >= 10,
        "{codes:?}"
    );

    // Identify is limited per workspace, whichever of its keys is used: 3 a second here.
    let out = s.cli(&[
        "workspaces",
        "update",
        "tiny",
        "--plan",
        "enterprise",
        "--limits",
        "identify=3",
    ]);
    assert!(out.status.success(), "{out:?}");
    let public = s.create_key("test", "public", "tiny");
    let other_public = s.create_key("live", "public", "tiny");
    // Keys are cached with their workspace for a second: let the new plan show.
    std::thread::sleep(Duration::from_millis(1100));
    let mut codes = Vec::new();
    for i in 0..10 {
        let key = if i % 2 == 0 { &public } else { &other_public };
        let r = s.identify(key, &payload(i));
        codes.push(r.status().as_u16());
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
            assert_eq!(header(&r, "x-ratelimit-limit"), 3);
        }
    }
    assert!(
        codes.iter().filter(|c| **c == 200).count() >= 3,
        "{codes:?}"
    );
    assert!(codes.contains(&429), "{codes:?}");
    // The default (pro) workspace is not touched by the starter workspace's traffic.
    let (res, _) = s.identify_ok(&s.public_key, &payload(1));
    assert!(res["visitorId"].is_string());
}
