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

/// Whether the tests run on PostgreSQL (`PRYNT_TEST_STORE=postgres`): every test server and CLI
/// call of a data dir then uses a database of its own on the server of
/// `PRYNT_TEST_DATABASE_URL`, besides the data dir's local files.
pub fn on_postgres() -> bool {
    std::env::var("PRYNT_TEST_STORE").is_ok_and(|v| v == "postgres")
}

/// The file of a data dir that names its test database.
const TEST_DATABASE_FILE: &str = ".test-database-url";

/// Runs `f` on a runtime of its own thread: the harness is called from synchronous and
/// asynchronous tests alike, and a runtime cannot be blocked on from inside another.
fn on_own_runtime<T: Send + 'static>(
    f: impl FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f())
    })
    .join()
    .expect("database setup thread")
}

/// The store arguments of `prynt` for a data dir: none on SQLite; on PostgreSQL
/// `--database-url` of the dir's own database, created on first use.
pub fn store_args(dir: &Path) -> Vec<String> {
    if !on_postgres() {
        return Vec::new();
    }
    let marker = dir.join(TEST_DATABASE_FILE);
    if let Ok(url) = std::fs::read_to_string(&marker) {
        return vec!["--database-url".into(), url.trim().to_owned()];
    }
    let admin = std::env::var("PRYNT_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "PRYNT_TEST_STORE=postgres needs PRYNT_TEST_DATABASE_URL: run the tests through \
             scripts/test, or `eval \"$(scripts/services start)\"` first"
        )
    });
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| drop_databases_of_finished_runs(&admin));
    // Named by this process, so that a later run can tell which databases are left over.
    let name = format!(
        "prynt_it_{}_{}",
        std::process::id(),
        prynt_core::ids::random_hex(8)
    );
    let url = on_own_runtime(move || {
        Box::pin(async move { prynt_store::postgres::admin::create_database(&admin, &name).await })
    })
    .expect("create a test database");
    std::fs::create_dir_all(dir).expect("create the data dir");
    std::fs::write(&marker, &url).expect("name the test database in the data dir");
    vec!["--database-url".into(), url]
}

/// Drops the test databases that earlier test processes, now ended, left behind (a data dir
/// the test made itself goes with the test, but not its database).
fn drop_databases_of_finished_runs(admin: &str) {
    let admin = admin.to_owned();
    let _ = on_own_runtime(move || {
        Box::pin(async move {
            use prynt_store::postgres::admin;
            let rows = admin::query_text(
                &admin,
                "SELECT datname FROM pg_database WHERE datname LIKE 'prynt\\_it\\_%'",
            )
            .await?;
            for name in rows
                .into_iter()
                .filter_map(|r| r.into_iter().next().flatten())
            {
                let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
                let ended = pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists());
                if ended {
                    admin::drop_database(&admin, &name).await?;
                }
            }
            Ok::<(), prynt_store::StoreError>(())
        })
    });
}

/// A data dir for test servers that outlives any one of them; on a PostgreSQL run the database
/// the harness made for it is dropped with it.
pub struct DataDir(tempfile::TempDir);

impl DataDir {
    pub fn new() -> Self {
        DataDir(tempfile::tempdir().expect("tempdir"))
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// A server on this dir with extra `serve` arguments.
    pub fn start(&self, extra: &[&str]) -> TestServer {
        TestServer::start_in(self.path(), extra)
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        drop_test_database(self.path());
    }
}

/// Drops the test database of a data dir, if it has one.
fn drop_test_database(dir: &Path) {
    let (Ok(url), Ok(admin)) = (
        std::fs::read_to_string(dir.join(TEST_DATABASE_FILE)),
        std::env::var("PRYNT_TEST_DATABASE_URL"),
    ) else {
        return;
    };
    let Some(name) = url.trim().rsplit('/').next().map(str::to_owned) else {
        return;
    };
    let _ = on_own_runtime(move || {
        Box::pin(async move { prynt_store::postgres::admin::drop_database(&admin, &name).await })
    });
}

/// Runs SQL (no parameters; it must suit both stores) on a data dir's store: the SQLite file, or
/// its PostgreSQL database. For tests that age or inspect stored rows; how many rows changed.
pub fn store_execute(dir: &Path, sql: &str) -> u64 {
    if on_postgres() {
        let url = store_args(dir).pop().expect("the test database's URL");
        let sql = sql.to_owned();
        return on_own_runtime(move || {
            Box::pin(async move { prynt_store::postgres::admin::execute(&url, &sql).await })
        })
        .expect("run SQL on the test database");
    }
    let db = rusqlite::Connection::open(dir.join("prynt.db")).expect("open prynt.db");
    db.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    db.execute(sql, []).expect("run SQL on prynt.db") as u64
}

/// The rows of a query (no parameters; it must suit both stores) on a data dir's store, every
/// value as text.
pub fn store_query(dir: &Path, sql: &str) -> Vec<Vec<Option<String>>> {
    if on_postgres() {
        let url = store_args(dir).pop().expect("the test database's URL");
        let sql = sql.to_owned();
        return on_own_runtime(move || {
            Box::pin(async move { prynt_store::postgres::admin::query_text(&url, &sql).await })
        })
        .expect("query the test database");
    }
    use rusqlite::types::ValueRef;
    let db = rusqlite::Connection::open(dir.join("prynt.db")).expect("open prynt.db");
    db.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    let mut st = db.prepare(sql).expect("prepare the query");
    let columns = st.column_count();
    st.query_map([], |r| {
        (0..columns)
            .map(|i| {
                Ok(match r.get_ref(i)? {
                    ValueRef::Null => None,
                    ValueRef::Integer(n) => Some(n.to_string()),
                    ValueRef::Real(x) => Some(x.to_string()),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        Some(String::from_utf8_lossy(t).into_owned())
                    }
                })
            })
            .collect()
    })
    .expect("run the query")
    .collect::<Result<_, _>>()
    .expect("read the rows")
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
            .args(store_args(dir))
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
            assert!(
                !line.contains("sk_test_") && !line.contains("sk_live_"),
                "a secret key never goes to the output: {line}"
            );
            if line.starts_with("first start: ") {
                (public_key, secret_key) = first_start_keys(dir);
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

    /// Whether this server's stdout so far has `needle` in some line.
    pub fn printed(&self, needle: &str) -> bool {
        self.stdout
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(needle))
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

    /// Runs `prynt ARGS --data-dir <this server's dir>` (and its database on PostgreSQL).
    pub fn cli(&self, args: &[&str]) -> Output {
        prynt()
            .args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(store_args(&self.data_dir))
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

    pub fn delete(&self, path: &str, key: &str) -> Response {
        self.req(reqwest::Method::DELETE, path, key)
            .send()
            .expect("request")
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
        // A data dir of its own goes with the server, and so does its database.
        if self._tmp.is_some() {
            drop_test_database(&self.data_dir);
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

/// A client that reports redirects instead of following them.
pub fn client_no_redirects() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Asserts a 200 HTML page and returns its content security policy and its body.
pub fn html_page(resp: Response) -> (String, String) {
    assert_eq!(resp.status().as_u16(), 200, "{}", resp.url());
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let ct = header("content-type");
    assert!(ct.starts_with("text/html"), "HTML content type, got {ct:?}");
    let csp = header("content-security-policy");
    (csp, resp.text().expect("body"))
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

/// A realistic agent payload; `seed` varies the device so different seeds are different
/// browsers, and the same seed is the same browser.
pub fn payload(seed: u32) -> Value {
    let langs = [
        ["en-US", "en"],
        ["de-DE", "de"],
        ["fr-FR", "fr"],
        ["ja-JP", "ja"],
        ["es-ES", "es"],
    ];
    let tzs = [
        "America/New_York",
        "Europe/Berlin",
        "Europe/Paris",
        "Asia/Tokyo",
        "Europe/Madrid",
    ];
    let screens = [
        (1920, 1080),
        (2560, 1440),
        (1440, 900),
        (3840, 2160),
        (1366, 768),
    ];
    let i = seed as usize;
    serde_json::json!({
        "components": {
            "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36",
            "platform": "MacIntel",
            "vendor": "Google Inc.",
            "productSub": "20030107",
            "languages": langs[i % 5],
            "timezone": tzs[(i / 5) % 5],
            "timezoneOffset": 0,
            "screen": {"w": screens[(i / 25) % 5].0, "h": screens[(i / 25) % 5].1, "availW": 1920, "availH": 1050, "colorDepth": 30, "pixelRatio": 2},
            "window": {"innerW": 1200, "innerH": 800, "outerW": 1200, "outerH": 900},
            "hardwareConcurrency": 8 + (seed % 3) * 2,
            "deviceMemory": 8,
            "maxTouchPoints": 0,
            "cookieEnabled": true,
            "canvas": {"text": format!("c{seed:08x}"), "geometry": format!("g{seed:08x}"), "winding": true},
            "webgl": {"vendor": "WebKit", "renderer": "WebKit WebGL", "unmaskedVendor": "Google Inc. (Apple)",
                      "unmaskedRenderer": "ANGLE (Apple, ANGLE Metal Renderer: Apple M3 Pro, Unspecified Version)",
                      "params": format!("p{}", seed % 7), "extensions": "e1", "render": format!("r{seed:08x}")},
            "audio": {"hash": format!("a{seed:08x}"), "sum": 124.04},
            "fonts": (0..20).map(|f| format!("Font{}", (seed as usize * 7 + f) % 60)).collect::<Vec<_>>(),
            "math": "m1",
            "storage": {"localStorage": true, "sessionStorage": true, "indexedDB": true, "quota": 2.9e11},
            "plugins": ["PDF Viewer::internal-pdf-viewer"],
            "mimeTypes": ["application/pdf"],
            "automation": {"webdriver": false},
            "timing": {"collectMs": 40.0}
        }
    })
}

impl TestServer {
    /// POSTs an identify payload with `key` in the Authorization header.
    pub fn identify(&self, key: &str, body: &Value) -> Response {
        client()
            .post(self.url("/v1/identify"))
            .bearer_auth(key)
            .json(body)
            .send()
            .expect("identify")
    }

    /// POSTs an identify payload with the public key and what a browser's fetch sends beside
    /// it (its own User-Agent, Sec-Fetch headers): without them the request is a script.
    pub fn identify_as_browser(&self, body: &Value) -> Response {
        let ua = body["components"]["userAgent"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        client()
            .post(self.url("/v1/identify"))
            .bearer_auth(&self.public_key)
            .header("user-agent", ua)
            .header("sec-fetch-mode", "cors")
            .header("sec-fetch-site", "cross-site")
            .header("sec-fetch-dest", "empty")
            .json(body)
            .send()
            .expect("identify")
    }

    /// Identifies device `seed` with the public key as coming from `ip` (through
    /// X-Forwarded-For), with an event type and an optional linked id; returns the stored event.
    pub fn identify_event(&self, seed: u32, kind: &str, linked: Option<&str>, ip: &str) -> Value {
        let mut body = payload(seed);
        body["type"] = serde_json::json!(kind);
        if let Some(l) = linked {
            body["linkedId"] = serde_json::json!(l);
        }
        self.event_of(&self.identify_from_ip(&body, ip))
    }

    /// Identifies `body` with the public key as coming from `ip` (through X-Forwarded-For, so
    /// the server must trust loopback as its proxy); returns the answer, asserting success.
    pub fn identify_from_ip(&self, body: &Value, ip: &str) -> Value {
        let r = client()
            .post(self.url("/v1/identify"))
            .bearer_auth(&self.public_key)
            .header("x-forwarded-for", ip)
            .json(body)
            .send()
            .expect("identify");
        assert_eq!(r.status(), 200);
        r.json().expect("json")
    }

    /// The stored event of an identify answer, asserting it is there.
    pub fn event_of(&self, answer: &Value) -> Value {
        let (status, ev) = self.json(
            &format!(
                "/v1/events/{}",
                answer["requestId"].as_str().expect("requestId")
            ),
            &self.secret_key,
        );
        assert_eq!(status, 200);
        ev
    }

    /// Identifies and returns the JSON answer and the visitor token, asserting success.
    pub fn identify_ok(&self, key: &str, body: &Value) -> (Value, String) {
        let r = self.identify(key, body);
        assert_eq!(r.status(), 200, "identify failed");
        let token = r
            .headers()
            .get("x-prynt-visitor-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (r.json().expect("json"), token)
    }

    pub fn json(&self, path: &str, key: &str) -> (u16, Value) {
        let r = self.get(path, key);
        let status = r.status().as_u16();
        (status, r.json().unwrap_or(Value::Null))
    }

    /// Number of events the key can list (follows every page).
    pub fn event_count(&self, key: &str) -> usize {
        let params = prynt_client::EventListParams {
            limit: Some(100),
            ..Default::default()
        };
        let pager = self.api(key).events_pager(params).expect("pager");
        block_on(pager.collect_all()).expect("every page").len()
    }

    /// The Rust client on this server with `key`; identify sends the first-start public key.
    pub fn api(&self, key: &str) -> prynt_client::Client {
        prynt_client::Client::builder(key)
            .base_url(&self.base)
            .public_key(&self.public_key)
            .build()
            .expect("client")
    }

    /// Sends SIGKILL: no graceful shutdown, no flushing.
    pub fn kill_hard(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs a client call to completion from a synchronous test.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Streams `size` bytes of a JSON string as a chunked body over a raw connection and returns the
/// raw response; the server may answer before the body is complete.
pub fn send_chunked(s: &TestServer, method: &str, path: &str, key: &str, size: usize) -> String {
    use std::io::Write;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let _ = write!(
        conn,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let mut sent = 0;
    let chunk = vec![b'a'; 64 * 1024];
    let prefix = "{\"field\": \"";
    let _ = write!(conn, "{:x}\r\n{prefix}\r\n", prefix.len());
    while sent < size {
        if write!(conn, "{:x}\r\n", chunk.len()).is_err()
            || conn.write_all(&chunk).is_err()
            || conn.write_all(b"\r\n").is_err()
        {
            break;
        }
        sent += chunk.len();
    }
    let _ = conn.write_all(b"0\r\n\r\n");
    read_response(&mut conn)
}

/// Declares a `Content-Length` of `size` but sends only the head, and returns the raw response.
pub fn send_declared(s: &TestServer, method: &str, path: &str, key: &str, size: usize) -> String {
    use std::io::Write;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let auth = if key.is_empty() {
        String::new()
    } else {
        format!("Authorization: Bearer {key}\r\n")
    };
    write!(
        conn,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n{{\"field\": ["
    )
    .unwrap();
    read_response(&mut conn)
}

fn read_response(conn: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    let mut buf = Vec::new();
    let mut part = [0u8; 4096];
    while let Ok(n) = conn.read(&mut part) {
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&part[..n]);
        if String::from_utf8_lossy(&buf).contains("}}") {
            break;
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// The first key pair a new store's server wrote to its data dir: (public, secret).
pub fn first_start_keys(data_dir: &Path) -> (String, String) {
    let path = data_dir.join("first-start-keys.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the first keys are in {}: {e}", path.display()));
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in {}", path.display()))
            .trim()
            .to_owned()
    };
    (field("public key: "), field("secret key: "))
}
