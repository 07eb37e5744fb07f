//! Tests of what is SQLite's own: group commit, durability across a reopen, and a closed
//! store. Behaviour every backend shares is checked by the conformance suite
//! (`tests/conformance_sqlite.rs`).

use prynt_core::Plan;

use super::SqliteStore;
use crate::prelude::*;
use crate::StoreError;

#[tokio::test]
async fn concurrent_writes_are_grouped_and_all_durable() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SqliteStore::open(dir.path()).unwrap());
    store.create_workspace("taken", Plan::Pro).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = store.clone();
        let name = if i == 100 {
            "taken".to_owned()
        } else {
            format!("ws{i}")
        };
        tasks.push(tokio::spawn(async move {
            s.create_workspace(&name, Plan::Pro).await
        }));
    }
    let mut failed = 0;
    for t in tasks {
        // One failing write in the middle of a group must not spoil the others.
        if t.await.unwrap().is_err() {
            failed += 1;
        }
    }
    assert_eq!(failed, 1);
    store.close().await.unwrap();
    let reopened = SqliteStore::open(dir.path()).unwrap();
    // default + taken + 199 new ones
    assert_eq!(reopened.list_workspaces().await.unwrap().len(), 201);
}

#[tokio::test]
async fn a_reopened_store_keeps_its_token_key_and_a_closed_one_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let key = store.token_key().await.unwrap();
    store.close().await.unwrap();
    assert!(matches!(
        store.create_workspace("late", Plan::Pro).await,
        Err(StoreError::Closed)
    ));
    let reopened = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(reopened.token_key().await.unwrap(), key);
    assert_eq!(
        reopened.list_workspaces().await.unwrap().len(),
        1,
        "reopening does not make a second default workspace"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_dir_and_database_files_are_the_owners_alone() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("new/data");
    let store = SqliteStore::open(&dir).unwrap();
    store.create_workspace("acme", Plan::Pro).await.unwrap();
    assert_eq!(mode(&dir), 0o700, "a new data dir");
    for name in ["prynt.db", "prynt.db-wal", "prynt.db-shm"] {
        assert_eq!(mode(&dir.join(name)), 0o600, "a new {name}");
    }
    store.close().await.unwrap();
    drop(store);

    // An install made world-readable (say, by an earlier version) is narrowed when opened.
    let wide = |p: &std::path::Path, m| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    wide(&dir, 0o755);
    for name in ["prynt.db", "prynt.db-wal", "prynt.db-shm"] {
        if dir.join(name).exists() {
            wide(&dir.join(name), 0o644);
        }
    }
    let reopened = SqliteStore::open(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700);
    for name in ["prynt.db", "prynt.db-wal", "prynt.db-shm"] {
        let path = dir.join(name);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "an existing {name}");
        }
    }
    reopened.close().await.unwrap();
}

/// The store checkpoints from a connection of its own while the writer commits: SQLite before
/// 3.51.3 (3.50.7 on the 3.50 line) has a race between those that can corrupt the database
/// (the "WAL-reset bug"); a soak at 3,900 identifications a second hit it once.
#[test]
fn the_bundled_sqlite_has_the_wal_reset_fix() {
    let version = rusqlite::version_number();
    assert!(
        version >= 3_051_003,
        "SQLite {} predates the WAL-reset fix",
        rusqlite::version()
    );
}
