//! Erasure on the embedded SQLite store: once `delete_visitor` resolves, the visitor's rows are
//! gone from every file of the data dir (the database's free space and the write-ahead log
//! included), also when a reader on an older snapshot keeps the log from being emptied for a
//! while; other writes go on meanwhile.

use std::path::Path;
use std::time::{Duration, Instant};

use prynt_core::{Environment, Scope};
use prynt_store::sqlite::SqliteStore;
use prynt_store::{EventStore, NewIdentification, StoreLifecycle};

fn scope() -> Scope {
    Scope {
        workspace_id: "ws_erasure".into(),
        env: Environment::Live,
    }
}

/// An identification whose event carries `marker` in its tag and page URL and `email` as its
/// linked account.
fn identification(
    request_id: &str,
    visitor_id: &str,
    ts_ms: i64,
    email: &str,
    marker: &str,
) -> NewIdentification {
    let body = serde_json::json!({
        "requestId": request_id,
        "visitorId": visitor_id,
        "firstSeenAt": null,
        "linkedId": email,
        "url": format!("https://shop.example/checkout?ref={marker}"),
        "tag": {"note": marker, "padding": "x".repeat(600)},
        "device": {"platform": "macOS", "browser": "Chrome", "gpu": "Apple M1"},
        "ip": {"address": "192.0.2.1"},
    });
    NewIdentification {
        scope: scope(),
        request_id: request_id.to_owned(),
        visitor_id: visitor_id.to_owned(),
        ts_ms,
        profile: marker.as_bytes().to_vec(),
        matched: false,
        linked_id: Some(email.to_owned()),
        verdict: None,
        bot: None,
        event_type: Some("checkout".into()),
        country: None,
        ip: Some("192.0.2.1".into()),
        body: body.to_string(),
        list_effects: vec![],
        rule_matches: vec![],
        outbox: vec![],
    }
}

/// The files of `dir` whose bytes hold `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let needle = needle.as_bytes();
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the data dir").flatten() {
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        if bytes.windows(needle.len()).any(|w| w == needle) {
            out.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_resolves_once_no_file_holds_the_visitor_even_behind_an_old_reader() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path()).expect("a fresh store");
    let (gone_email, gone_marker) = ("gone-3f9a1c@example.com", "gone-marker-7d2e4b");
    let (kept_email, kept_marker) = ("kept-51b0aa@example.com", "kept-marker-c08e19");
    let t0 = 1_760_000_000_000;
    for i in 0..120 {
        let rec = if i % 4 == 0 {
            identification(
                &format!("req_{t0}_{i:06x}"),
                "pv_gone",
                t0 + i,
                gone_email,
                gone_marker,
            )
        } else {
            identification(
                &format!("req_{t0}_{i:06x}"),
                "pv_kept",
                t0 + i,
                kept_email,
                kept_marker,
            )
        };
        store.record_identification(rec).await.expect("recorded");
    }

    // A reader that keeps its snapshot from before the erasure: the log cannot be emptied
    // (the database file must stay as that reader sees it) until it ends.
    let reader = rusqlite::Connection::open(dir.path().join("prynt.db")).expect("a reader");
    reader.execute_batch("BEGIN").expect("begin");
    let before: i64 = reader
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .expect("read");
    assert_eq!(before, 120);

    let store = std::sync::Arc::new(store);
    let eraser = {
        let store = std::sync::Arc::clone(&store);
        tokio::spawn(async move { store.delete_visitor(&scope(), "pv_gone").await })
    };
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        !eraser.is_finished(),
        "the erasure waits while the log still holds the visitor's rows"
    );
    // Other writes are not held up behind it.
    let t = Instant::now();
    store
        .record_identification(identification(
            &format!("req_{t0}_ffffff"),
            "pv_kept",
            t0 + 500,
            kept_email,
            kept_marker,
        ))
        .await
        .expect("a write while the erasure waits");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());

    reader.execute_batch("COMMIT").expect("end the read");
    drop(reader);
    let erased = tokio::time::timeout(Duration::from_secs(10), eraser)
        .await
        .expect("the erasure resolves once the reader is gone")
        .expect("the erasure task")
        .expect("the erasure");
    assert!(erased);

    for needle in [gone_email, gone_marker] {
        assert_eq!(
            files_holding(dir.path(), needle),
            Vec::<String>::new(),
            "{needle} is still in the data dir"
        );
    }
    // The search finds what is there.
    assert!(!files_holding(dir.path(), kept_marker).is_empty());
    assert!(!files_holding(dir.path(), kept_email).is_empty());
    assert!(store
        .event(&scope(), &format!("req_{t0}_000001"), 0)
        .await
        .unwrap()
        .is_some());
    store.close().await.expect("close");
}
