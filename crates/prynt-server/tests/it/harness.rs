//! The integration-test harness: starts the real `prynt` binary on a free loopback port with a
//! temporary data dir, runs its CLI against the same store, and offers HTTP helpers.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_prynt");

pub struct TestServer {
    pub base: String,
    pub data_dir: PathBuf,
    /// The first-start test key pair printed by the server.
    pub public_key: String,
    pub secret_key: String,
    child: Option<Child>,
    stdout: Arc<Mutex<Vec<String>>>,
    _tmp: Option<tempfile::TempDir>,
}

/// A `prynt` command with the test environment cleared of `PRYNT_*` settings.
pub fn prynt() -> Command {
    let mut c = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("PRYNT_") {
            c.env_remove(k);
        }
    }
    c.env("PRYNT_LOG", "warn");
    c
}

impl TestServer {
    /// A server on a fresh data dir.
    pub fn start() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_in(&dir, &[]);
        s._tmp = Some(tmp);
        s
    }

    /// A server on `dir` (which may hold an existing store) with extra `serve` arguments.
    pub fn start_in(dir: &Path, extra: &[&str]) -> Self {
        let mut cmd = prynt();
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("spawn prynt serve");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let (mut public_key, mut secret_key, mut base) = (String::new(), String::new(), None);
        while base.is_none() {
            let line = match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(l) => l,
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "prynt serve did not announce its address; output: {:?}",
                        lines.lock().unwrap()
                    );
                }
            };
            if let Some(k) = line.trim().strip_prefix("public key: ") {
                public_key = k.to_owned();
            } else if let Some(k) = line.trim().strip_prefix("secret key: ") {
                secret_key = k.to_owned();
            } else if let Some(url) = line.trim().strip_prefix("listening on ") {
                base = Some(url.to_owned());
            }
        }
        TestServer {
            base: base.unwrap_or_default(),
            data_dir: dir.to_path_buf(),
            public_key,
            secret_key,
            child: Some(child),
            stdout: lines,
            _tmp: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Everything the server printed on stdout so far.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// Runs `prynt ARGS --data-dir <this server's dir>`.
    pub fn cli(&self, args: &[&str]) -> Output {
        prynt()
            .args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .output()
            .expect("run prynt cli")
    }

    /// Creates a key through the CLI and returns it.
    pub fn create_key(&self, env: &str, key_type: &str, workspace: &str) -> String {
        let out = self.cli(&[
            "keys",
            "create",
            "--env",
            env,
            "--type",
            key_type,
            "--workspace",
            workspace,
        ]);
        assert!(
            out.status.success(),
            "keys create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).expect("utf8");
        assert_eq!(
            text.lines().count(),
            1,
            "keys create must print the key alone: {text:?}"
        );
        text.trim().to_owned()
    }

    pub fn get(&self, path: &str, key: &str) -> Response {
        self.req(reqwest::Method::GET, path, key)
            .send()
            .expect("request")
    }

    pub fn req(&self, method: reqwest::Method, path: &str, key: &str) -> RequestBuilder {
        let mut r = client().request(method, self.url(path));
        if !key.is_empty() {
            r = r.bearer_auth(key);
        }
        r
    }

    /// Sends SIGTERM and waits for the process to exit, returning its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        wait_timeout(&mut child, Duration::from_secs(40)).expect("server exits after SIGTERM")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    None
}

pub fn client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Asserts the reference's error body and returns it.
pub fn assert_error(resp: Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status, "status for {code}");
    assert!(
        resp.headers().contains_key("x-request-id"),
        "X-Request-Id on error"
    );
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert!(
        ct.starts_with("application/json"),
        "JSON content type, got {ct:?}"
    );
    let body: Value = resp.json().expect("JSON error body");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "message: {body}"
    );
    assert_eq!(body["error"]["docs"], format!("/docs/errors#{code}"));
    body
}
