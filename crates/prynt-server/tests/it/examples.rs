//! The axum example app (examples/axum) against the real server: a page's identification
//! reaches the backend as a requestId, and the backend allows, challenges, blocks or rejects
//! the action on what Prynt decided.

use reqwest::blocking::Response;
use serde_json::{json, Value};

use crate::harness::{client, payload, TestServer};

/// The example app served on a loopback port of its own runtime; the runtime lives as long as
/// the returned value.
fn serve_example(s: &TestServer) -> (tokio::runtime::Runtime, String) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let prynt = prynt_client::Client::builder(s.secret_key.clone())
        .base_url(s.base.clone())
        .build()
        .expect("client");
    let app = prynt_example_axum::app(prynt_example_axum::Config {
        prynt,
        public_key: s.public_key.clone(),
        prynt_url: s.base.clone(),
    });
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    rt.spawn(async move { axum::serve(listener, app).await });
    (rt, url)
}

/// Identifies browser `seed` for `action` on behalf of `email`; `bot` makes it an automated
/// browser. Returns the requestId.
fn identify(s: &TestServer, seed: u32, action: &str, email: &str, bot: bool) -> String {
    let mut body = payload(seed);
    body["type"] = json!(action);
    body["linkedId"] = json!(email);
    let r = if bot {
        body["components"]["automation"]["webdriver"] = json!(true);
        s.identify(&s.public_key, &body)
    } else {
        s.identify_as_browser(&body)
    };
    assert_eq!(r.status(), 200);
    let res: Value = r.json().expect("json");
    res["requestId"].as_str().expect("requestId").to_owned()
}

/// Posts the example's form as the browser does; returns the status and the decision shown.
fn submit(app: &str, action: &str, email: &str, request_id: &str) -> (u16, String) {
    let r: Response = client()
        .post(format!("{app}/{action}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(
            serde_urlencoded::to_string([
                ("email", email),
                ("password", "hunter22"),
                ("requestId", request_id),
            ])
            .expect("form"),
        )
        .send()
        .expect("form post");
    let status = r.status().as_u16();
    let html = r.text().unwrap_or_default();
    let decision = html
        .split("data-decision=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("")
        .to_owned();
    (status, decision)
}

#[test]
fn the_axum_example_acts_on_prynts_decision() {
    let s = TestServer::start();
    let (_rt, app) = serve_example(&s);

    // The form pages load the agent from the Prynt server with the public key.
    let page = client()
        .get(format!("{app}/login"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains(&format!("{}/v1/agent.js", s.base)), "{page}");
    assert!(page.contains(&s.public_key) && !page.contains(&s.secret_key));

    // No rule yet: a bot's sign-up is blocked on the bot signal, a person's is allowed.
    let bot = identify(&s, 1, "signup", "bot@example.com", true);
    assert_eq!(
        submit(&app, "signup", "bot@example.com", &bot),
        (403, "block".into())
    );
    let person = identify(&s, 2, "signup", "ana@example.com", false);
    assert_eq!(
        submit(&app, "signup", "ana@example.com", &person),
        (200, "allow".into())
    );

    // A rule that challenges every login decides, whatever the signals.
    let rule = client()
        .post(s.url("/v1/rules"))
        .bearer_auth(&s.secret_key)
        .json(&json!({
            "name": "Challenge logins", "status": "live",
            "conditions": {"operator": "AND", "rules": [{"field": "event.type", "operator": "equals", "value": "login"}]},
            "action": {"verdict": "challenge"}
        }))
        .send()
        .unwrap();
    assert_eq!(rule.status(), 200);
    let login = identify(&s, 2, "login", "ana@example.com", false);
    assert_eq!(
        submit(&app, "login", "ana@example.com", &login),
        (200, "challenge".into())
    );

    // What the backend refuses: a requestId used twice, one made for another action or
    // account, an unknown one, none at all.
    assert_eq!(
        submit(&app, "login", "ana@example.com", &login),
        (400, "reject".into())
    );
    let other = identify(&s, 2, "login", "ana@example.com", false);
    assert_eq!(
        submit(&app, "signup", "ana@example.com", &other),
        (400, "reject".into())
    );
    let theirs = identify(&s, 2, "login", "ana@example.com", false);
    assert_eq!(
        submit(&app, "login", "eve@example.com", &theirs),
        (400, "reject".into())
    );
    assert_eq!(
        submit(&app, "login", "ana@example.com", "req_1700000000_abcdef"),
        (400, "reject".into())
    );
    assert_eq!(
        submit(&app, "login", "ana@example.com", ""),
        (400, "reject".into())
    );

    // The decisions came from the events Prynt stored for those requests.
    let (status, event): (u16, Value) = s.json(&format!("/v1/events/{login}"), &s.secret_key);
    assert_eq!(
        (status, event["verdict"].as_str()),
        (200, Some("challenge"))
    );
}
