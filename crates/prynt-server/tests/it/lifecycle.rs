//! Process lifecycle: start-up errors, configuration, TLS, health and metrics, graceful shutdown.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{block_on, client, prynt, wait_timeout, TestServer};

#[test]
fn an_invalid_listen_address_exits_with_2_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let out = prynt()
        .args(["serve", "--listen", "not-an-address", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--listen") && err.contains("not-an-address"),
        "{err}"
    );

    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "listen = \"999.1.1.1:80\"\n").unwrap();
    let out = prynt()
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid listen address"));

    std::fs::write(&cfg, "lisen = \"127.0.0.1:0\"\n").unwrap();
    let out = prynt()
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "unknown config keys are refused"
    );
}

#[test]
fn settings_come_from_the_config_file_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("from-config");
    let cfg = dir.path().join("prynt.toml");
    std::fs::write(
        &cfg,
        format!("listen = \"127.0.0.1:0\"\ndata_dir = {:?}\n", data),
    )
    .unwrap();
    let mut child = prynt()
        .args(["serve", "--config"])
        .arg(&cfg)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut url = None;
    while std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0 {
        if let Some(u) = line.trim().strip_prefix("listening on ") {
            url = Some(u.to_owned());
            break;
        }
        line.clear();
    }
    let url = url.expect("server announced its address");
    assert!(url.starts_with("http://127.0.0.1:"));
    assert!(
        data.join("prynt.db").exists(),
        "data_dir from the config file is used"
    );
    let _ = child.kill();
    let _ = child.wait();

    // PRYNT_DATA_DIR is honoured by the CLI too.
    let env_dir = dir.path().join("from-env");
    let out = prynt()
        .args(["workspaces", "create", "envws"])
        .env("PRYNT_DATA_DIR", &env_dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(env_dir.join("prynt.db").exists());
}

#[test]
fn workspaces_cli_creates_updates_and_lists() {
    let s = TestServer::start();
    assert!(s.cli(&["workspaces", "create", "shop"]).status.success());
    let dup = s.cli(&["workspaces", "create", "shop"]);
    assert_eq!(dup.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("exists"));
    assert_eq!(
        s.cli(&["workspaces", "create", "bad name!"]).status.code(),
        Some(2)
    );
    let key = s.create_key("test", "secret", "shop");
    let v: Value = s.get("/v1/workspace", &key).json().unwrap();
    assert_eq!(v["plan"], "pro", "a new workspace starts on pro");

    assert_eq!(
        s.cli(&[
            "workspaces",
            "update",
            "shop",
            "--plan",
            "pro",
            "--limits",
            "server=5"
        ])
        .status
        .code(),
        Some(2),
        "custom limits are for enterprise only"
    );
    let up = s.cli(&[
        "workspaces",
        "update",
        "shop",
        "--plan",
        "enterprise",
        "--limits",
        "server=5000,mgmt=500,burst=200",
    ]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    // Plans are read with the key, which the server remembers for up to a second.
    let w = eventually(&s, &key, |w| w.plan == "enterprise");
    assert_eq!(w.limits.server_api_per_minute, 5000);
    assert_eq!(w.limits.management_api_per_minute, 500);
    assert_eq!(w.limits.burst_per_second, 200);
    assert!(s
        .cli(&["workspaces", "update", "shop", "--plan", "starter"])
        .status
        .success());
    let w = eventually(&s, &key, |w| w.plan == "starter");
    assert_eq!(w.limits.server_api_per_minute, 100);

    let missing = s.cli(&["workspaces", "update", "ghost", "--plan", "pro"]);
    assert_eq!(missing.status.code(), Some(1));
    let missing_ws_key = s.cli(&[
        "keys",
        "create",
        "--env",
        "test",
        "--type",
        "secret",
        "--workspace",
        "ghost",
    ]);
    assert_eq!(missing_ws_key.status.code(), Some(1));
    assert!(missing_ws_key.stdout.is_empty());

    let list = String::from_utf8_lossy(&s.cli(&["workspaces", "list"]).stdout).to_string();
    assert!(list.contains("default") && list.contains("shop") && list.contains("starter"));
}

#[test]
fn health_readiness_and_metrics() {
    let s = TestServer::start();
    let h: Value = client()
        .get(s.url("/healthz"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(h["status"], "ok");
    let r = client().get(s.url("/readyz")).send().unwrap();
    assert_eq!(r.status(), 200);
    for _ in 0..3 {
        assert_eq!(s.get("/v1/workspace", &s.secret_key).status(), 200);
    }
    assert_eq!(s.get("/v1/workspace", "").status(), 401);
    assert_eq!(s.get("/v1/nowhere", "").status(), 404);
    let text = client()
        .get(s.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let count_of = |status: &str| -> f64 {
        text.lines()
            .find(|l| {
                l.starts_with("prynt_http_requests_total{")
                    && l.contains("route=\"/v1/workspace\"")
                    && l.contains(&format!("status=\"{status}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    assert_eq!(count_of("200"), 3.0, "{text}");
    assert_eq!(count_of("401"), 1.0, "{text}");
    assert!(text.contains("route=\"unmatched\""), "{text}");
    assert!(
        text.contains("prynt_http_request_duration_seconds_bucket{"),
        "{text}"
    );
}

#[test]
fn tls_serves_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let data = dir.path().join("data");
    let s = TestServer::start_in(
        &data,
        &[
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ],
    );
    assert!(s.base.starts_with("https://127.0.0.1:"), "{}", s.base);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let root = reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap();
    let tls_client = reqwest::blocking::Client::builder()
        .tls_certs_only([root])
        .build()
        .unwrap();
    let r = tls_client
        .get(s.url("/v1/workspace"))
        .bearer_auth(&s.secret_key)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = client()
        .get(s.base.replacen("https://", "http://", 1) + "/healthz")
        .send();
    assert!(plain.is_err() || !plain.unwrap().status().is_success());

    let bad = prynt()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("d2"))
        .args([
            "--tls-cert",
            key_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        bad.status.code(),
        Some(2),
        "a broken certificate is a clear start-up error"
    );
    let only_cert = prynt()
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert", "x.pem"])
        .output()
        .unwrap();
    assert_eq!(only_cert.status.code(), Some(2));
}

#[test]
fn sigterm_finishes_in_flight_requests_and_keeps_written_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = TestServer::start_in(dir.path(), &[]);
    let first_keys = (s.public_key.clone(), s.secret_key.clone());
    let addr = s.base.trim_start_matches("http://").to_owned();

    // Start a request and hold back the end of its body while the server is told to stop.
    let body = json!({"allowedOrigins": ["https://inflight.example"]}).to_string();
    let (head, tail) = body.split_at(10);
    let mut conn = TcpStream::connect(&addr).unwrap();
    write!(
        conn,
        "PATCH /v1/workspace HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
        s.secret_key,
        body.len()
    )
    .unwrap();
    conn.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &s.pid().to_string()])
        .status();
    std::thread::sleep(Duration::from_millis(300));
    conn.write_all(tail.as_bytes()).unwrap();
    let mut answer = String::new();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    conn.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "in-flight request completed: {answer}"
    );

    let status = s.terminate();
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
    assert!(s.stdout().iter().any(|l| l == "shutdown complete"));

    // The data written by the in-flight request survived, and no second key pair is printed.
    let again = TestServer::start_in(dir.path(), &[]);
    assert!(again.public_key.is_empty() && again.secret_key.is_empty());
    let v: Value = again.get("/v1/workspace", &first_keys.1).json().unwrap();
    assert_eq!(v["allowedOrigins"], json!(["https://inflight.example"]));
    drop(again);

    // A second start on the same address fails clearly rather than hanging.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut child = prynt()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let st = wait_timeout(&mut child, Duration::from_secs(20)).expect("exits");
    assert_eq!(st.code(), Some(1));
}

/// The key's workspace (`GET /v1/workspace`) once `ok` holds, for at most 1.5 s.
fn eventually(
    s: &TestServer,
    key: &str,
    ok: impl Fn(&prynt_client::Workspace) -> bool,
) -> prynt_client::Workspace {
    let api = s.api(key);
    let deadline = std::time::Instant::now() + Duration::from_millis(1500);
    loop {
        let w = block_on(api.get_workspace()).expect("workspace");
        if ok(&w) {
            return w;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not applied within a second: {w:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
