//! Secrets at rest: the data dir and everything in it are the owner's alone, the first keys go
//! to a private file rather than to the output, the visitor-token key is stored sealed (also
//! when an earlier version stored it in the clear), and with the sealing key kept outside the
//! data dir, the data dir alone opens nothing.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::harness::{on_postgres, prynt, store_args, store_execute, store_query, TestServer};

/// Every file under `dir` is 0600 or narrower and every directory 0700 or narrower.
#[cfg(unix)]
fn assert_private(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "{} is {:o}", dir.display(), mode & 0o777);
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = std::fs::symlink_metadata(entry.path()).unwrap();
        if meta.is_dir() {
            assert_private(&entry.path());
        } else if meta.is_file() && entry.file_name() != ".test-database-url" {
            // (that one is the harness's note of a PostgreSQL run's database, not the server's)
            let mode = meta.permissions().mode();
            assert_eq!(
                mode & 0o077,
                0,
                "{} is {:o}",
                entry.path().display(),
                mode & 0o777
            );
        }
    }
}

/// The token key as stored, as text (a sealed key is `v1.` and base64).
fn stored_token_key(dir: &Path) -> String {
    let sql = if on_postgres() {
        "SELECT convert_from(value, 'UTF8') FROM server_secrets WHERE name = 'token_key'"
    } else {
        "SELECT CAST(value AS TEXT) FROM server_secrets WHERE name = 'token_key'"
    };
    let rows = store_query(dir, sql);
    rows.first()
        .and_then(|r| r.first().cloned().flatten())
        .expect("the store has a token key")
}

/// Runs `prynt serve` on `dir` expecting it to refuse to start: its exit code and stderr.
fn refused_start(dir: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut child = prynt()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-demo",
            "--data-dir",
        ])
        .arg(dir)
        .args(store_args(dir))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn prynt serve");
    let status = crate::harness::wait_timeout(&mut child, Duration::from_secs(30));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("prynt serve started although it should have refused");
    }
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        use std::io::Read;
        let _ = err.read_to_string(&mut stderr);
    }
    (status.and_then(|s| s.code()), stderr)
}

#[test]
fn a_new_install_keeps_its_secrets_to_its_owner_and_its_first_keys_off_the_output() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("deep/data");
    let s = TestServer::start_in(&dir, &[]);
    // The harness read the keys from the file (and checked no output line holds a secret key).
    assert!(s.secret_key.starts_with("sk_test_"), "{:?}", s.stdout());
    let path = dir.join("first-start-keys.txt");
    assert!(
        s.printed(&path.display().to_string()),
        "the start says where the keys are: {:?}",
        s.stdout()
    );
    let workspace = s.get("/v1/workspace", &s.secret_key);
    assert_eq!(workspace.status(), 200, "the keys of the file work");
    let list = s
        .req(reqwest::Method::POST, "/v1/lists", &s.secret_key)
        .json(&serde_json::json!({"name": "vips", "type": "visitor"}))
        .send()
        .unwrap();
    assert_eq!(list.status(), 200, "a write, so the WAL exists too");
    #[cfg(unix)]
    assert_private(&dir);
    assert!(
        dir.join("webhook-secrets.key").exists(),
        "no sealing key configured: one is made in the data dir"
    );
    assert!(
        stored_token_key(&dir).starts_with("v1."),
        "the token key is stored sealed"
    );
    let restarted = {
        drop(s);
        TestServer::start_in(&dir, &[])
    };
    assert!(
        restarted.public_key.is_empty() && !restarted.printed("first start"),
        "a second start makes no keys"
    );
}

#[test]
fn a_token_key_stored_in_the_clear_is_sealed_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(dir.path(), &[]);
    drop(s);
    // What an earlier version left: the key in the clear.
    let clear = "an-earlier-clear-token-key-0123456789abcdef";
    let set = if on_postgres() {
        format!("UPDATE server_secrets SET value = convert_to('{clear}', 'UTF8') WHERE name = 'token_key'")
    } else {
        format!(
            "UPDATE server_secrets SET value = CAST('{clear}' AS BLOB) WHERE name = 'token_key'"
        )
    };
    assert_eq!(store_execute(dir.path(), &set), 1);
    assert_eq!(stored_token_key(dir.path()), clear);

    let again = TestServer::start_in(dir.path(), &[]);
    let sealed = stored_token_key(dir.path());
    assert!(sealed.starts_with("v1."), "sealed at the start: {sealed}");
    assert!(!sealed.contains(clear));
    drop(again);
    if !on_postgres() {
        // Nor is it left in the database file's free space or in the write-ahead log.
        for name in ["prynt.db", "prynt.db-wal"] {
            let Ok(bytes) = std::fs::read(dir.path().join(name)) else {
                continue;
            };
            assert!(
                !bytes.windows(clear.len()).any(|w| w == clear.as_bytes()),
                "the clear key is still readable in {name}"
            );
        }
    }
    // Sealed once: a further start opens it and leaves it as it is.
    let third = TestServer::start_in(dir.path(), &[]);
    assert_eq!(stored_token_key(dir.path()), sealed);
    drop(third);
}

#[test]
fn with_the_sealing_key_outside_the_data_dir_the_data_dir_alone_opens_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let key_file = root.path().join("sealing.key");
    std::fs::write(&key_file, format!("{}\n", "ab".repeat(32))).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let flag = ["--sealing-key-file", key_file.to_str().unwrap()];
    let s = TestServer::start_in(&dir, &flag);
    assert_eq!(s.get("/v1/workspace", &s.secret_key).status(), 200);
    let secret_key = s.secret_key.clone();
    drop(s);
    assert!(
        !dir.join("webhook-secrets.key").exists(),
        "with a key file no key is kept in the data dir"
    );

    // The data dir (and its database) without the key file: the start refuses, and says why.
    let (code, stderr) = refused_start(&dir, &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("sealed with another key") && stderr.contains("--sealing-key-file"),
        "{stderr}"
    );
    // Given both ways at once, the key is ambiguous.
    let (code, stderr) = refused_start(
        &dir,
        &[flag[0], flag[1], "--webhook-secret-key", &"cd".repeat(32)],
    );
    assert_eq!(code, Some(2), "{stderr}");
    // A key file that is not there, or that holds no key, is refused and named.
    let missing = root.path().join("no-such.key");
    let (code, stderr) = refused_start(&dir, &[flag[0], missing.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot read sealing_key_file") && stderr.contains("no-such.key"),
        "{stderr}"
    );
    let garbage = root.path().join("garbage.key");
    std::fs::write(&garbage, "not a key\n").unwrap();
    let (code, stderr) = refused_start(&dir, &[flag[0], garbage.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("invalid sealing key"), "{stderr}");
    // With its key the data dir works again.
    let again = TestServer::start_in(&dir, &flag);
    assert_eq!(again.get("/v1/workspace", &secret_key).status(), 200);
}
