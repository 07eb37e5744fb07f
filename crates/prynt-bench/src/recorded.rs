//! Recorded populations for `prynt-bench accuracy --population FILE`: visits read from a JSON
//! Lines file rather than drawn by the built-in generator. `browser-tests/population.mjs` makes
//! such files from real-world fingerprint data (npm `fingerprint-generator` and `user-agents`)
//! with drift of its own, written without reference to the identification model, so that the
//! benchmark does not measure the model against a mirror of its own assumptions.
//!
//! Format: a first line `{"meta": {...}}` (kept as it is and echoed in the output), then one
//! line per visit, in time order within each workspace:
//! `{"ws": 0, "day": 1.25, "browser": 7, "token": true, "private": false,
//!   "changes": ["zoom"], "components": {...}, "ip": "81.12.200.7"}`:
//! the workspace (independent populations, each identified from scratch), the day of the
//! visit, the browser's index in its workspace (the truth), whether the browser still holds
//! the storage of its last visit (and so sends its visitor token), whether the visit is in a
//! private window (nothing is kept afterwards), what changed since the browser's previous
//! visit, the agent's components as the agent sends them, and (optional) the client address
//! the server saw.

use std::io::BufRead;
use std::path::Path;

use prynt_core::agent::Components;
use prynt_identify::Fingerprint;
use prynt_signals::device::DeviceParser;
use serde::Deserialize;
use serde_json::Value;

use super::accuracy::Visit;
use crate::BenchError;

/// One visit and what the server makes of it.
pub(super) struct RecordedVisit {
    pub(super) visit: Visit,
    pub(super) components: Components,
    pub(super) fingerprint: Fingerprint,
}

pub(super) struct Recorded {
    pub(super) meta: Value,
    /// Browsers per workspace (the largest browser index plus one over all workspaces).
    pub(super) browsers: usize,
    pub(super) workspaces: Vec<Vec<RecordedVisit>>,
}

impl Recorded {
    pub(super) fn visits(&self) -> usize {
        self.workspaces.iter().map(Vec::len).sum()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    ws: usize,
    day: f64,
    browser: usize,
    token: bool,
    private: bool,
    #[serde(default)]
    changes: Vec<String>,
    components: Components,
    /// The client address the server saw, when the population has a network model.
    #[serde(default)]
    ip: Option<String>,
}

/// Workspaces and browsers beyond these are a malformed file, not a population.
const MAX_WORKSPACES: usize = 100_000;
const MAX_BROWSERS: usize = 10_000_000;

/// Reads a recorded population; every line must parse, and visits must be in time order
/// within their workspace.
pub(super) fn load(path: &Path, parser: &DeviceParser) -> Result<Recorded, BenchError> {
    let file = std::fs::File::open(path)
        .map_err(|e| BenchError::Usage(format!("cannot open {}: {e}", path.display())))?;
    let bad = |n: usize, m: String| BenchError::Usage(format!("{}:{n}: {m}", path.display()));
    let mut meta = Value::Null;
    let mut workspaces: Vec<Vec<RecordedVisit>> = Vec::new();
    let mut browsers = 0usize;
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let n = i + 1;
        let line = line.map_err(|e| bad(n, e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        if n == 1 {
            if let Ok(Value::Object(mut o)) = serde_json::from_str::<Value>(&line) {
                if let Some(m) = o.remove("meta") {
                    meta = m;
                    continue;
                }
            }
        }
        let l: Line = serde_json::from_str(&line).map_err(|e| bad(n, e.to_string()))?;
        if l.ws >= MAX_WORKSPACES || l.browser >= MAX_BROWSERS {
            return Err(bad(n, "workspace or browser index out of range".into()));
        }
        if !l.day.is_finite() || l.day < 0.0 {
            return Err(bad(n, "day must be a finite number of days from 0".into()));
        }
        if workspaces.len() <= l.ws {
            workspaces.resize_with(l.ws + 1, Vec::new);
        }
        let ws = &mut workspaces[l.ws];
        if ws.last().is_some_and(|p| p.visit.day > l.day) {
            return Err(bad(
                n,
                "visits must be in time order within a workspace".into(),
            ));
        }
        browsers = browsers.max(l.browser + 1);
        let ip = match l.ip.as_deref().map(str::parse::<std::net::IpAddr>) {
            None => None,
            Some(Ok(ip)) => Some(ip),
            Some(Err(_)) => return Err(bad(n, "ip is not an IP address".into())),
        };
        let fingerprint = super::fingerprint(parser, &l.components).with_network(ip);
        ws.push(RecordedVisit {
            visit: Visit {
                day: l.day,
                device: l.browser,
                tokenless: !l.token,
                incognito: l.private,
                travel: None,
                changes: l.changes,
            },
            components: l.components,
            fingerprint,
        });
    }
    if workspaces.iter().all(Vec::is_empty) {
        return Err(BenchError::Usage(format!(
            "{} holds no visits",
            path.display()
        )));
    }
    Ok(Recorded {
        meta,
        browsers,
        workspaces,
    })
}
