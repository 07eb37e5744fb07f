//! What the reliability runs (`crash-test`, `soak`) hold a real `prynt serve` with. Unlike the
//! load benchmarks' [`crate::server`], the store outlives the process: the crash test SIGKILLs
//! the server and starts it again on the same data dir or database, and the soak reads the
//! server's resident memory from `/proc`. Also here: a webhook receiver that records what
//! arrives, the synthetic identify payloads, a throwaway PostgreSQL database and the run's
//! temporary directory.

use std::collections::{HashMap, HashSet};
use std::fs::OpenOptions;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::synth::{Device, Rng};
use crate::BenchError;

/// Limits that never get in the way: the runs check durability and memory, not the plan's
/// budgets (the crash test's verification reads every event it was told about).
pub(crate) const UNLIMITED: &[&str] = &[
    "workspaces",
    "update",
    "default",
    "--plan",
    "enterprise",
    "--limits",
    "server=10000000,mgmt=10000000,burst=1000000,identify=1000000",
];

/// How long a start may take before the run gives up on it (a debug build on a busy machine
/// loads its matching index in a second or two).
const START_LIMIT: Duration = Duration::from_secs(60);

/// The store a run keeps its data in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// SQLite in the run's data dir.
    Sqlite,
    /// A fresh database on the PostgreSQL server of `--database-url`, dropped afterwards.
    Postgres,
}

impl StoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Sqlite => "sqlite",
            StoreKind::Postgres => "postgres",
        }
    }
}

fn io(what: &str) -> impl Fn(std::io::Error) -> BenchError + '_ {
    move |e| BenchError::Runtime(format!("{what}: {e}"))
}

/// The run's temporary directory (data dir, server log), removed at the end unless kept for a
/// failure to be looked into.
pub(crate) struct WorkDir {
    pub path: PathBuf,
    pub keep: bool,
}

impl WorkDir {
    pub fn create(prefix: &str) -> Result<WorkDir, BenchError> {
        let path =
            std::env::temp_dir().join(format!("prynt-{prefix}-{}", prynt_core::ids::random_hex(8)));
        std::fs::create_dir_all(path.join("data")).map_err(io("cannot create a work dir"))?;
        Ok(WorkDir { path, keep: false })
    }

    pub fn data(&self) -> PathBuf {
        self.path.join("data")
    }

    pub fn log(&self) -> PathBuf {
        self.path.join("server.log")
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Runs `f` on a runtime of its own thread, so it may be called from anywhere, a `Drop` too.
fn on_own_runtime<T: Send + 'static>(
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, BenchError> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| rt.block_on(f))
            .map_err(|e| BenchError::Runtime(e.to_string()))
    })
    .join()
    .map_err(|_| BenchError::Runtime("the database thread panicked".into()))?
}

/// A fresh database on the caller's PostgreSQL server, dropped (connections and all) with this.
pub(crate) struct Database {
    admin: String,
    name: String,
    pub url: String,
}

impl Database {
    pub fn create(admin: &str, prefix: &str) -> Result<Database, BenchError> {
        if !admin.starts_with("postgres://") && !admin.starts_with("postgresql://") {
            return Err(BenchError::Usage(
                "--database-url must be a postgres://… URL".into(),
            ));
        }
        let name = format!("prynt_{prefix}_{}", prynt_core::ids::random_hex(10));
        let (a, n) = (admin.to_owned(), name.clone());
        let url =
            on_own_runtime(
                async move { prynt_store::postgres::admin::create_database(&a, &n).await },
            )?
            .map_err(|e| {
                BenchError::Runtime(format!(
                    "cannot create a database on the --database-url server: {e}"
                ))
            })?;
        Ok(Database {
            admin: admin.to_owned(),
            name,
            url,
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let (a, n) = (self.admin.clone(), self.name.clone());
        let dropped =
            on_own_runtime(
                async move { prynt_store::postgres::admin::drop_database(&a, &n).await },
            );
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("warning: could not drop database {}", self.name);
        }
    }
}

/// The store flags of every `prynt` command of a run, and the database behind them if any.
pub(crate) struct Store {
    pub args: Vec<String>,
    _database: Option<Database>,
}

impl Store {
    /// SQLite in the data dir, or a fresh database on `database_url`'s server; `prefix` names
    /// the database. Every node of a PostgreSQL run seals webhook secrets with one key, so that
    /// a restart on a fresh data dir could open them too.
    pub fn open(
        kind: StoreKind,
        database_url: Option<&str>,
        prefix: &str,
    ) -> Result<Store, BenchError> {
        match kind {
            StoreKind::Sqlite => Ok(Store {
                args: Vec::new(),
                _database: None,
            }),
            StoreKind::Postgres => {
                let admin = database_url.ok_or_else(|| {
                    BenchError::Usage(
                        "--store postgres needs --database-url postgres://… (a server whose role \
                         may create databases; the run gets a fresh one, dropped afterwards)"
                            .into(),
                    )
                })?;
                let db = Database::create(admin, prefix)?;
                Ok(Store {
                    args: vec![
                        "--database-url".into(),
                        db.url.clone(),
                        "--webhook-secret-key".into(),
                        prynt_core::ids::random_hex(64),
                    ],
                    _database: Some(db),
                })
            }
        }
    }

    /// The store's flags that `prynt workspaces` and `prynt migrate` take (not the sealing key,
    /// which only `serve` knows).
    fn admin_args(&self) -> &[String] {
        &self.args[..self.args.len().min(2)]
    }
}

/// Runs `prynt ARGS --data-dir DIR STORE` (a workspace's limits, before the first start).
pub(crate) fn prynt_command(
    prynt: &Path,
    args: &[&str],
    dir: &Path,
    store: &Store,
) -> Result<(), BenchError> {
    let out = Command::new(prynt)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .args(store.admin_args())
        .output()
        .map_err(|e| BenchError::Runtime(format!("cannot start {}: {e}", prynt.display())))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(BenchError::Runtime(format!(
            "prynt {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Links the IP data that `prynt data fetch` installed under `from` into the data dir `dir`;
/// false when there is none.
pub(crate) fn link_ip_data(from: &Path, dir: &Path) -> Result<bool, BenchError> {
    let source = from.join("ipdata");
    if !source.is_dir() {
        return Ok(false);
    }
    let abs = std::fs::canonicalize(&source).map_err(io("cannot read the IP data"))?;
    std::os::unix::fs::symlink(abs, dir.join("ipdata")).map_err(io("cannot link the IP data"))?;
    Ok(true)
}

/// The test key pair (public, secret) that a new store's first start wrote to its data dir.
pub(crate) fn first_start_keys(data_dir: &Path) -> Result<(String, String), BenchError> {
    let path = data_dir.join("first-start-keys.txt");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        BenchError::Runtime(format!(
            "cannot read the first keys in {}: {e}",
            path.display()
        ))
    })?;
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .map(|k| k.trim().to_owned())
            .ok_or_else(|| BenchError::Runtime(format!("no `{prefix}` in {}", path.display())))
    };
    Ok((field("public key: ")?, field("secret key: ")?))
}

/// A running `prynt serve`; SIGKILLed when dropped unless stopped first.
pub(crate) struct Node {
    child: Child,
    pub addr: SocketAddr,
    /// The test key pair (public, secret) a store makes on its first start only.
    pub keys: Option<(String, String)>,
    ended: bool,
}

impl Node {
    /// Starts `prynt serve` on loopback with the data dir `dir`, the store's flags and `extra`,
    /// its log appended to `log`, and waits until it listens.
    pub fn start(
        prynt: &Path,
        dir: &Path,
        store: &Store,
        extra: &[&str],
        log: &Path,
    ) -> Result<Node, BenchError> {
        let log_file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(io("cannot open the server log"))?;
        let mut child = Command::new(prynt)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--no-demo",
                "--data-dir",
            ])
            .arg(dir)
            .args(&store.args)
            .args(extra)
            .env("PRYNT_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .map_err(|e| BenchError::Runtime(format!("cannot start {}: {e}", prynt.display())))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BenchError::Runtime("the server has no stdout".into()));
        };
        let mut node = Node {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            keys: None,
            ended: false,
        };
        // A thread reads the server's stdout to the end, so the server never blocks on it; the
        // lines up to "listening on" come here.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(line) => line,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    return Err(BenchError::Runtime(format!(
                        "the server did not listen within {START_LIMIT:?} (log: {})",
                        log.display()
                    )))
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(BenchError::Runtime(format!(
                        "the server stopped before listening (log: {})",
                        log.display()
                    )))
                }
            };
            let line = line.trim();
            if line.starts_with("first start: ") {
                node.keys = Some(first_start_keys(dir)?);
            } else if let Some(url) = line.strip_prefix("listening on http://") {
                node.addr = url
                    .parse()
                    .map_err(|_| BenchError::Runtime(format!("bad address {url}")))?;
                break;
            }
        }
        Ok(node)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown of any kind, as a crash or the kernel's OOM killer ends a process.
    pub fn kill(&mut self) -> Result<(), BenchError> {
        self.ended = true;
        self.child.kill().map_err(io("cannot kill the server"))?;
        self.child.wait().map_err(io("cannot reap the server"))?;
        Ok(())
    }

    /// SIGTERM, as an operator stops it, then SIGKILL if it is still there after 30 s.
    pub fn stop(&mut self) {
        self.ended = true;
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The server's resident memory now, from `/proc/<pid>/status`.
    pub fn memory(&self) -> Option<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let kb = |key: &str| -> Option<u64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        };
        Some(Memory {
            rss_kb: kb("VmRSS:")?,
            anon_kb: kb("RssAnon:").unwrap_or(0),
        })
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if !self.ended {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Resident memory of a process: in all, and the anonymous part (heap, stacks), which leaves
/// out the file pages of the store the kernel may count in and out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Memory {
    pub rss_kb: u64,
    pub anon_kb: u64,
}

/// What a [`Receiver`] got.
#[derive(Debug, Default)]
pub(crate) struct Received {
    /// Requests answered.
    pub total: u64,
    /// Distinct payload ids (hashed: the soak receives millions).
    pub distinct: HashSet<u64>,
    /// With [`Receiver::start`]`(true)`: receipts of each `identification` payload by the
    /// event's `requestId`, of each `list_update` by entry added, and of every payload by id.
    pub events: HashMap<String, u32>,
    pub list_values: HashMap<String, u32>,
    pub payloads: HashMap<String, u32>,
}

impl Received {
    /// Receipts beyond the first of each payload.
    pub fn duplicates(&self) -> u64 {
        self.total.saturating_sub(self.distinct.len() as u64)
    }
}

/// A webhook receiver on loopback, on a thread of its own: reads each delivery whole, records
/// it and answers 200 at once.
pub(crate) struct Receiver {
    pub port: u16,
    received: Arc<Mutex<Received>>,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    /// `detailed`: parse every payload and record what it is about (the crash test); else only
    /// count them and their distinct ids (the soak, where parsing would take CPU from the
    /// server).
    pub fn start(detailed: bool) -> Result<Receiver, BenchError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(io("cannot start the receiver's runtime"))?;
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .map_err(io("cannot start a webhook receiver"))?;
        let port = listener
            .local_addr()
            .map_err(io("cannot start a webhook receiver"))?
            .port();
        let received = Arc::new(Mutex::new(Received::default()));
        let into = Arc::clone(&received);
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let into = Arc::clone(&into);
                tokio::spawn(async move {
                    let _ = serve(stream, &into, detailed).await;
                });
            }
        });
        Ok(Receiver {
            port,
            received,
            _runtime: runtime,
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    pub fn received(&self) -> MutexGuard<'_, Received> {
        self.received.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The payload's `id`: the first member of every payload the server sends.
fn payload_id(body: &[u8]) -> Option<&str> {
    const KEY: &[u8] = b"\"id\":\"";
    let start = body.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let len = body[start..].iter().position(|&b| b == b'"')?;
    std::str::from_utf8(&body[start..start + len]).ok()
}

fn record(into: &Mutex<Received>, body: &[u8], detailed: bool) {
    let parsed: Option<Value> = if detailed {
        serde_json::from_slice(body).ok()
    } else {
        None
    };
    let mut r = into.lock().unwrap_or_else(|e| e.into_inner());
    r.total += 1;
    if let Some(id) = payload_id(body) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        id.hash(&mut h);
        r.distinct.insert(h.finish());
        if detailed {
            *r.payloads.entry(id.to_owned()).or_default() += 1;
        }
    }
    let Some(p) = parsed else { return };
    match p["event"].as_str() {
        Some("identification") => {
            if let Some(id) = p["data"]["requestId"].as_str() {
                *r.events.entry(id.to_owned()).or_default() += 1;
            }
        }
        Some("list_update") => {
            for v in p["data"]["added"].as_array().into_iter().flatten() {
                if let Some(v) = v.as_str() {
                    *r.list_values.entry(v.to_owned()).or_default() += 1;
                }
            }
        }
        _ => {}
    }
}

/// Serves keep-alive requests on one connection: head, body (`Content-Length`), record, 200.
async fn serve(mut s: TcpStream, into: &Mutex<Received>, detailed: bool) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(16 * 1024);
    while let Some((body_start, end)) = read_request(&mut s, &mut buf).await? {
        record(into, &buf[body_start..end], detailed);
        buf.drain(..end);
        s.write_all(OK_EMPTY).await?;
    }
    Ok(())
}

/// The answer of the benchmarks' webhook receivers.
pub(crate) const OK_EMPTY: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

/// Reads the next request of a keep-alive connection into `buf` (which may already hold the
/// start of it): its head, then as many body bytes as its `Content-Length` says. Gives where
/// the body starts and where the request ends in `buf`, or `None` once the peer has closed the
/// connection; the caller drains `..end` before reading the next.
pub(crate) async fn read_request(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<(usize, usize)>> {
    let mut chunk = vec![0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(Some((head_end, head_end + len)))
}

/// `n` synthetic browsers' first identify payloads, as `prynt-bench identify` sends them: a
/// device's measurements with the worker's and iframe's views and the input before
/// `identify()`.
pub(crate) fn payloads(seed: u64, n: usize) -> Vec<Value> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let mut p =
                json!({ "type": "login", "components": Device::random(&mut rng).components() });
            crate::identify::add_realms_and_input(&mut p["components"]);
            p
        })
        .collect()
}

/// The management client of a run: no retries (an answer is the only acknowledgement the
/// crash test counts, and a retry would blur which attempt it belongs to), a short time limit.
pub(crate) fn api(
    node: &Node,
    public: &str,
    secret: &str,
) -> Result<prynt_client::Client, BenchError> {
    prynt_client::Client::builder(secret)
        .public_key(public)
        .base_url(format!("http://{}", node.addr))
        .max_retries(0)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| BenchError::Runtime(format!("cannot build the API client: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_ids_are_read_from_the_start_of_the_body() {
        let body = br#"{"id":"evt_0123456789ab","event":"identification","data":{"id":"x"}}"#;
        assert_eq!(payload_id(body), Some("evt_0123456789ab"));
        assert_eq!(payload_id(b"{}"), None);
    }

    #[test]
    fn a_detailed_receiver_records_events_entries_and_duplicates() {
        let into = Mutex::new(Received::default());
        let event = br#"{"id":"evt_1","event":"identification","data":{"requestId":"req_1"}}"#;
        let list = br#"{"id":"evt_2","event":"list_update","data":{"added":["a@example.com"]}}"#;
        for body in [&event[..], &list[..], &event[..]] {
            record(&into, body, true);
        }
        let r = into.into_inner().unwrap();
        assert_eq!(r.total, 3);
        assert_eq!(r.duplicates(), 1);
        assert_eq!(r.events.get("req_1"), Some(&2));
        assert_eq!(r.list_values.get("a@example.com"), Some(&1));
        assert_eq!(r.payloads.get("evt_2"), Some(&1));
    }
}
