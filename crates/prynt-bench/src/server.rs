//! A real `prynt serve` process for the load benchmarks: started from the `prynt` binary on a
//! fresh data dir and a loopback port, reached only over HTTP, stopped when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::BenchError;

/// The data dir's subdirectory that `prynt data fetch` installs the IP data into.
const IPDATA: &str = "ipdata";

/// A running `prynt serve`, with the keys it created for its default workspace.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub public_key: String,
    pub secret_key: String,
    dir: PathBuf,
}

impl Drop for Server {
    /// SIGTERM (a graceful shutdown, as an operator would stop it), then the data dir goes.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The `prynt` binary to run: `explicit` if given, else the one beside this executable (cargo
/// builds both into the same `target/<profile>/`).
pub fn prynt_binary(explicit: Option<&Path>) -> Result<PathBuf, BenchError> {
    if let Some(path) = explicit {
        return Ok(path.to_owned());
    }
    let exe = std::env::current_exe().map_err(|e| BenchError::Runtime(e.to_string()))?;
    let beside = exe.with_file_name("prynt");
    if beside.is_file() {
        Ok(beside)
    } else {
        Err(BenchError::Usage(format!(
            "no prynt binary at {}: build it (cargo build --release --bin prynt) or pass --prynt",
            beside.display()
        )))
    }
}

/// Links the IP data that `prynt data fetch` installed under `from` into the server's data dir
/// `dir`; false when `from` has none.
fn link_ip_data(from: &Path, dir: &Path) -> Result<bool, BenchError> {
    let io = |e: std::io::Error| BenchError::Runtime(e.to_string());
    let Ok(entries) = std::fs::read_dir(from.join(IPDATA)) else {
        return Ok(false);
    };
    let files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    // The city databases are what makes the signals run with IP data; without them the
    // server's IP data is empty whatever else is there.
    let has_city = files.iter().any(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("dbip-city-") && n.ends_with(".mmdb"))
    });
    if !has_city {
        return Ok(false);
    }
    let target = dir.join(IPDATA);
    std::fs::create_dir_all(&target).map_err(io)?;
    for f in files {
        let abs = std::fs::canonicalize(&f).map_err(io)?;
        if let Some(name) = abs.file_name() {
            std::os::unix::fs::symlink(&abs, target.join(name)).map_err(io)?;
        }
    }
    Ok(true)
}

/// Starts `prynt serve` from `prynt` on a fresh data dir with the benchmark endpoints
/// (`--bench-endpoints`) and `extra` flags, with the IP data installed under `ip_data` if there
/// is any; also says whether there was.
pub fn start(prynt: &Path, ip_data: &Path, extra: &[&str]) -> Result<(Server, bool), BenchError> {
    start_with(prynt, ip_data, &[], &[], extra)
}

/// [`start`] on the store that `store` names (`--database-url …`, or nothing for the data dir's
/// SQLite), after running each of `setup` (`prynt ARGS --data-dir DIR STORE`, such as a
/// workspace's limits) on it.
pub fn start_with(
    prynt: &Path,
    ip_data: &Path,
    store: &[&str],
    setup: &[&[&str]],
    extra: &[&str],
) -> Result<(Server, bool), BenchError> {
    let dir = std::env::temp_dir().join(format!("prynt-bench-{}", prynt_core::ids::random_hex(8)));
    let with_ip_data = link_ip_data(ip_data, &dir)?;
    for args in setup {
        let out = Command::new(prynt)
            .args(*args)
            .arg("--data-dir")
            .arg(&dir)
            .args(store)
            .output();
        let failed = match out {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(String::from_utf8_lossy(&o.stderr).trim().to_owned()),
            Err(e) => Some(format!("cannot start {}: {e}", prynt.display())),
        };
        if let Some(why) = failed {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(BenchError::Runtime(format!(
                "prynt {}: {why}",
                args.join(" ")
            )));
        }
    }
    let mut child = Command::new(prynt)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--bench-endpoints",
            "--data-dir",
        ])
        .arg(&dir)
        .args(store)
        .args(extra)
        .env("PRYNT_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| {
            let _ = std::fs::remove_dir_all(&dir);
            BenchError::Runtime(format!("cannot start {}: {e}", prynt.display()))
        })?;
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        return Err(BenchError::Runtime("no stdout".into()));
    };
    // From here on the server is stopped and its data dir removed on every way out.
    let mut server = Server {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        public_key: String::new(),
        secret_key: String::new(),
        dir,
    };
    let mut lines = BufReader::new(stdout).lines();
    server.addr = loop {
        let Some(Ok(line)) = lines.next() else {
            return Err(BenchError::Runtime(
                "the server stopped before listening".into(),
            ));
        };
        if line.starts_with("first start: ") {
            (server.public_key, server.secret_key) = crate::node::first_start_keys(&server.dir)?;
        }
        if let Some(url) = line.trim().strip_prefix("listening on http://") {
            break url
                .parse()
                .map_err(|_| BenchError::Runtime(format!("bad address {url}")))?;
        }
    };
    // Keep draining stdout so the server never blocks on it.
    std::thread::spawn(move || for _ in lines {});
    Ok((server, with_ip_data))
}
