//! The backend conformance suite run against the embedded SQLite store, each check on a fresh
//! database in its own temporary directory.

use std::sync::Arc;

use prynt_store::sqlite::SqliteStore;
use prynt_store::Store;

prynt_store::conformance_tests!(|| async {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path()).expect("a fresh SQLite store");
    (Arc::new(store) as Arc<dyn Store>, dir)
});
