//! Auth, environment isolation, error bodies and request limits.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{assert_error, client, send_chunked, send_declared, TestServer};

#[test]
fn first_start_makes_a_working_test_key_pair() {
    let s = TestServer::start();
    // Read by the harness from the file the start names (never from the output).
    assert!(s.public_key.starts_with("pk_test_"), "{}", s.public_key);
    assert!(s.secret_key.starts_with("sk_test_"), "{}", s.secret_key);
    let out = s.stdout().join("\n");
    assert!(
        out.contains("first-start-keys.txt") && out.contains("delete the file"),
        "the start says where the keys are: {out}"
    );
    assert!(!out.contains(&s.secret_key) && !out.contains(&s.public_key));
    let r = s.get("/v1/workspace", &s.secret_key);
    assert_eq!(r.status(), 200);
    assert!(r.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .starts_with("req_"));
    let body: Value = r.json().unwrap();
    assert_eq!(body["name"], "default");
    assert_eq!(body["environment"], "test");
    assert_eq!(body["plan"], "pro");
    assert_eq!(body["limits"]["managementApiPerMinute"], 100);
}

#[test]
fn requests_without_a_usable_key_are_refused() {
    let s = TestServer::start();
    assert_error(s.get("/v1/workspace", ""), 401, "invalid_api_key");
    let bare = client()
        .get(s.url("/v1/workspace"))
        .header("authorization", "Bearer")
        .send()
        .unwrap();
    assert_error(bare, 401, "invalid_api_key");
    let blank = client()
        .get(s.url("/v1/workspace"))
        .header("authorization", "Bearer    ")
        .send()
        .unwrap();
    assert_error(blank, 401, "invalid_api_key");
    let basic = client()
        .get(s.url("/v1/workspace"))
        .header("authorization", format!("Basic {}", s.secret_key))
        .send()
        .unwrap();
    assert_error(basic, 401, "invalid_api_key");
    for bad in [
        "xk_test_0123456789abcdefghijklmnop",
        "sk_prod_0123456789abcdefghijklmnop",
        "sk_test_short",
        "sk_test_0123456789abcdefghijklmnop", // well formed, never issued
    ] {
        assert_error(s.get("/v1/workspace", bad), 401, "invalid_api_key");
    }
    // The same random part under another prefix is a different key.
    let swapped = s.secret_key.replacen("sk_test_", "sk_live_", 1);
    assert_error(s.get("/v1/workspace", &swapped), 401, "invalid_api_key");
}

#[test]
fn keys_made_by_the_cli_work_at_once_and_revoked_ones_stop_within_a_second() {
    let s = TestServer::start();
    let key = s.create_key("live", "secret", "default");
    assert!(key.starts_with("sk_live_"));
    assert_eq!(s.get("/v1/workspace", &key).status(), 200);

    let list = s.cli(&["keys", "list"]);
    assert!(list.status.success());
    let listing = String::from_utf8_lossy(&list.stdout).to_string();
    assert!(
        !listing.contains(&key),
        "keys list must never show a full key"
    );
    let id = listing
        .lines()
        .find(|l| l.contains("live") && l.contains("secret"))
        .and_then(|l| l.split_whitespace().next())
        .expect("the live key is listed")
        .to_owned();
    let revoke = s.cli(&["keys", "revoke", &id]);
    assert!(
        revoke.status.success(),
        "{}",
        String::from_utf8_lossy(&revoke.stderr)
    );
    // Verified keys are remembered for at most a second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(1500);
    while s.get("/v1/workspace", &key).status() == 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "a revoked key stops working within a second"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_error(s.get("/v1/workspace", &key), 401, "invalid_api_key");
    let listing = String::from_utf8_lossy(&s.cli(&["keys", "list"]).stdout).to_string();
    assert!(listing
        .lines()
        .any(|l| l.starts_with(&id) && l.contains("revoked")));
    // Other keys are unaffected.
    assert_eq!(s.get("/v1/workspace", &s.secret_key).status(), 200);
    // Revoking an unknown id fails clearly.
    let missing = s.cli(&["keys", "revoke", "key_000000000000"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no key"));
}

#[test]
fn public_keys_are_refused_outside_identify() {
    let s = TestServer::start();
    let body = assert_error(
        s.get("/v1/workspace", &s.public_key),
        403,
        "insufficient_permissions",
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("identify"));
    let patch = s
        .req(Method::PATCH, "/v1/workspace", &s.public_key)
        .json(&json!({"allowedOrigins": []}))
        .send()
        .unwrap();
    assert_error(patch, 403, "insufficient_permissions");
}

#[test]
fn live_and_test_environments_and_workspaces_are_isolated() {
    let s = TestServer::start();
    let live = s.create_key("live", "secret", "default");
    let set = s
        .req(Method::PATCH, "/v1/workspace", &s.secret_key)
        .json(&json!({"allowedOrigins": ["https://Shop.Example:443", "http://localhost:3000"]}))
        .send()
        .unwrap();
    assert_eq!(set.status(), 200);
    let v: Value = set.json().unwrap();
    assert_eq!(
        v["allowedOrigins"],
        json!(["https://shop.example", "http://localhost:3000"])
    );

    let seen_live: Value = s.get("/v1/workspace", &live).json().unwrap();
    assert_eq!(seen_live["environment"], "live");
    assert_eq!(
        seen_live["allowedOrigins"],
        json!([]),
        "live must not see test settings"
    );
    let seen_test: Value = s.get("/v1/workspace", &s.secret_key).json().unwrap();
    assert_eq!(seen_test["allowedOrigins"].as_array().unwrap().len(), 2);

    let made = s.cli(&["workspaces", "create", "acme", "--plan", "starter"]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let other = s.create_key("test", "secret", "acme");
    let seen_other: Value = s.get("/v1/workspace", &other).json().unwrap();
    assert_eq!(seen_other["name"], "acme");
    assert_eq!(seen_other["plan"], "starter");
    assert_eq!(seen_other["limits"]["managementApiPerMinute"], 30);
    assert_eq!(seen_other["allowedOrigins"], json!([]));
}

#[test]
fn malformed_bodies_are_validation_errors_naming_the_field() {
    let s = TestServer::start();
    let send = |body: &str| {
        s.req(Method::PATCH, "/v1/workspace", &s.secret_key)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .unwrap()
    };
    let b = assert_error(
        send("{\"allowedOrigins\": [\"https://a.example\""),
        400,
        "validation_error",
    );
    assert_eq!(b["error"]["field"], "body");
    let b = assert_error(send("[1, 2, 3]"), 400, "validation_error");
    assert_eq!(b["error"]["field"], "body");
    let b = assert_error(send(""), 400, "validation_error");
    assert_eq!(b["error"]["field"], "body");
    let b = assert_error(
        send("{\"allowedOrigins\": \"https://a.example\"}"),
        400,
        "validation_error",
    );
    assert_eq!(b["error"]["field"], "allowedOrigins");
    let b = assert_error(
        send("{\"allowedOrigins\": [\"https://a.example\", 7]}"),
        400,
        "validation_error",
    );
    assert_eq!(b["error"]["field"], "allowedOrigins[1]");
    let b = assert_error(send("{\"allowedOrigin\": []}"), 400, "validation_error");
    assert_eq!(b["error"]["field"], "allowedOrigin");
    let b = assert_error(
        send("{\"allowedOrigins\": [\"ftp://a.example\"]}"),
        400,
        "validation_error",
    );
    assert_eq!(b["error"]["field"], "allowedOrigins[0]");
    let b = assert_error(send("{} {}"), 400, "validation_error");
    assert_eq!(b["error"]["field"], "body");
    let many: Vec<String> = (0..101).map(|i| format!("https://h{i}.example")).collect();
    let b = assert_error(
        send(&json!({"allowedOrigins": many}).to_string()),
        400,
        "validation_error",
    );
    assert_eq!(b["error"]["field"], "allowedOrigins");
    // Nothing of the refused bodies was applied.
    let v: Value = s.get("/v1/workspace", &s.secret_key).json().unwrap();
    assert_eq!(v["allowedOrigins"], json!([]));

    let text = s
        .req(Method::PATCH, "/v1/workspace", &s.secret_key)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .unwrap();
    assert_error(text, 415, "unsupported_media_type");
}

#[test]
fn oversized_bodies_are_refused_with_413() {
    let s = TestServer::start();
    // A declared length over the limit is refused before the body is read, even unauthenticated.
    for key in [s.secret_key.as_str(), ""] {
        let answer = send_declared(&s, "PATCH", "/v1/workspace", key, 2 << 20);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("payload_too_large"), "{answer}");
    }
    // Without a declared length the body is cut off while it is read.
    let answer = send_chunked(&s, "PATCH", "/v1/workspace", &s.secret_key, 2 << 20);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
    // Just under the limit is read and judged on its content.
    let near = format!("{{\"allowedOrigins\": [\"{}\"]}}", "a".repeat(1000 * 1000));
    let r = s
        .req(Method::PATCH, "/v1/workspace", &s.secret_key)
        .header("content-type", "application/json")
        .body(near)
        .send()
        .unwrap();
    assert_error(r, 400, "validation_error");
}

#[test]
fn unknown_routes_and_wrong_methods_answer_json() {
    let s = TestServer::start();
    assert_error(s.get("/v1/nope", &s.secret_key), 404, "not_found");
    assert_error(s.get("/definitely/not/here", ""), 404, "not_found");
    assert_error(
        s.delete("/v1/workspace", &s.secret_key),
        405,
        "method_not_allowed",
    );
    let post = client().post(s.url("/healthz")).send().unwrap();
    assert_error(post, 405, "method_not_allowed");
}

#[test]
fn error_catalogue_and_openapi_document_are_served() {
    let s = TestServer::start();
    let docs = client().get(s.url("/docs/errors")).send().unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().unwrap();
    for code in [
        "validation_error",
        "invalid_api_key",
        "insufficient_permissions",
        "not_found",
        "method_not_allowed",
        "payload_too_large",
        "unsupported_media_type",
        "internal_error",
        "service_unavailable",
    ] {
        assert!(
            html.contains(&format!("id=\"{code}\"")),
            "{code} documented"
        );
    }
    let spec: Value = client()
        .get(s.url("/v1/openapi.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    assert!(spec["paths"]["/v1/workspace"]["get"].is_object());
    assert!(spec["paths"]["/v1/workspace"]["patch"].is_object());
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(spec["components"]["schemas"]["ErrorBody"].is_object());
}

/// What the OpenAPI document allows the server takes, and what it refuses the server refuses:
/// the cases a schema fuzzer found where the two disagreed.
#[test]
fn the_server_takes_exactly_what_its_openapi_document_allows() {
    let s = TestServer::start();
    let key = &s.secret_key;
    let send = |method: Method, path: &str, body: Value| {
        let r = s.req(method, path, key).json(&body).send().unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().unwrap_or(Value::Null))
    };

    // JSON Schema's integers include `7.0`: integer members take a float without a fraction.
    let (status, list) = send(
        Method::POST,
        "/v1/lists",
        json!({"name": "doc_list", "type": "email", "ttl": 60.0}),
    );
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["ttl"], 60);
    let list_id = list["id"].as_str().unwrap().to_owned();
    let (status, body) = send(
        Method::POST,
        "/v1/rules",
        json!({"name": "r", "priority": 5.0, "conditions": {"operator": "AND", "rules": [
            {"field": "visitorFound", "operator": "exists"}]},
            "action": {"verdict": "allow", "sideEffects": [{"type": "addToList", "list": "doc_list", "ttl": 30.0}]}}),
    );
    assert_eq!(status, 200, "{body}");
    let rule_id = body["id"].as_str().unwrap().to_owned();
    let (status, body) = send(
        Method::POST,
        &format!("/v1/rules/{rule_id}/backtest"),
        json!({"days": 7.0, "sampleSize": 0.0}),
    );
    assert_eq!(status, 200, "{body}");
    let mut p = crate::harness::payload(1);
    p["components"]["maxTouchPoints"] = json!(5.0);
    assert_eq!(s.identify(&s.public_key, &p).status(), 200);
    let (status, body) = send(
        Method::PATCH,
        "/v1/workspace",
        json!({"suspectWeights": {"bot": 9.0}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["suspectWeights"]["bot"], 9);
    let (status, _) = send(
        Method::PATCH,
        "/v1/workspace",
        json!({"suspectWeights": {"bot": 9.5}}),
    );
    assert_eq!(status, 400);

    // Members documented as objects are objects: an array is not read as a tuple of fields.
    let (status, body) = send(
        Method::PATCH,
        "/v1/workspace",
        json!({"suspectWeights": [1, 2, 3]}),
    );
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("suspectWeights"))
    );
    let mut p = crate::harness::payload(2);
    p["components"]["uaData"] = json!({"brands": [["Chromium", "120"]]});
    let r = s.identify(&s.public_key, &p);
    assert_error(r, 400, "validation_error");

    // `remove` takes any string of up to 1,024 characters, however many bytes they take.
    let (status, body) = send(
        Method::POST,
        &format!("/v1/lists/{list_id}/entries"),
        json!({"remove": ["é".repeat(1024)]}),
    );
    assert_eq!(status, 200, "{body}");
    let (status, _) = send(
        Method::POST,
        &format!("/v1/lists/{list_id}/entries"),
        json!({"remove": ["é".repeat(1025)]}),
    );
    assert_eq!(status, 400);

    // Only a cursor the listing minted is taken: one of another shape, and one of the
    // documented shape that this server did not sign, are refused alike.
    for bad in [
        "cur_0000018d9f4a6e3b00659c1a31a7f2c9",
        "cur_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "cur_0000018d9f4a6e3b00659c1a31a7f2cZ",
        "cur_MTIzNA",
        "cur_0000018D9F4A6E3B00659C1A31A7F2C9",
    ] {
        assert_eq!(
            s.json(&format!("/v1/events?cursor={bad}"), key).0,
            400,
            "{bad}"
        );
    }

    // A delivery id is `dlv_` and 12 lower-case hex digits, nothing else.
    let (status, hook) = send(
        Method::POST,
        "/v1/webhooks",
        json!({"url": "https://hooks.example.com/p"}),
    );
    assert_eq!(status, 200, "{hook}");
    let hook_id = hook["id"].as_str().unwrap();
    for (delivery, want) in [
        ("dlv_00000000002a", 409),
        ("dlv_00000000002A", 400),
        ("dlv_+0000000002a", 400),
    ] {
        let (status, body) = send(
            Method::POST,
            &format!("/v1/webhooks/{hook_id}/deliveries/{delivery}/retry"),
            json!({}),
        );
        assert_eq!(status, want, "{delivery}: {body}");
    }
    // Test deliveries and redeliveries answer 200, like every success.
    let (status, _) = send(
        Method::POST,
        &format!("/v1/webhooks/{hook_id}/test"),
        json!({}),
    );
    assert_eq!(status, 200);

    // The document itself: the refusals every authenticated operation can give.
    let spec: Value = client()
        .get(s.url("/v1/openapi.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let op = &spec["paths"]["/v1/rules/{ruleId}"]["get"];
    for status in ["200", "400", "401", "403", "404", "429", "500"] {
        assert!(
            op["responses"][status].is_object(),
            "GET /v1/rules/{{ruleId}} {status}"
        );
    }
    assert_eq!(
        op["responses"]["429"]["$ref"],
        "#/components/responses/Error429"
    );
    assert_eq!(
        spec["components"]["responses"]["Error429"]["headers"]["Retry-After"]["$ref"],
        "#/components/headers/Retry-After"
    );
    assert_eq!(
        spec["components"]["headers"]["Retry-After"]["required"],
        true
    );
    assert_eq!(
        op["parameters"][0]["schema"]["pattern"],
        "^rul_[0-9a-f]{12}$"
    );
}
