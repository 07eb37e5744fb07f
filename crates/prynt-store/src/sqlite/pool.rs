//! A small pool of read-only SQLite connections; WAL lets them read while the writer commits.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::Connection;

use crate::StoreResult;

/// Connections kept for reuse; more are opened under load and dropped afterwards.
const KEEP: usize = 8;

pub(crate) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    pub(crate) fn new(path: PathBuf) -> Self {
        ReadPool {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn with<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let pooled = self.idle.lock().ok().and_then(|mut v| v.pop());
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = super::open_connection(&self.path)?;
                c.execute_batch("PRAGMA query_only = ON")?;
                c
            }
        };
        let out = f(&conn);
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < KEEP {
                idle.push(conn);
            }
        }
        out
    }
}
