//! The crash test at a small size: the real `prynt` binary is SIGKILLed under identify load and
//! management writes and restarted on its store, on SQLite and on PostgreSQL, and nothing it
//! acknowledged is lost. (`scripts/crash-test` runs the full size.) Needs the `prynt` binary
//! beside `prynt-bench` (`cargo build -p prynt-server`) and, for PostgreSQL,
//! `PRYNT_TEST_DATABASE_URL` (run through `scripts/test`, or `eval "$(scripts/services start)"`
//! first).

use std::process::Command;

use serde_json::Value;

/// Runs `prynt-bench crash-test ARGS` with none of the caller's `PRYNT_*` settings; its last
/// line, parsed, and whether it exited with success.
fn crash_test(args: &[&str]) -> (Value, bool) {
    let bench = env!("CARGO_BIN_EXE_prynt-bench");
    let prynt = std::path::Path::new(bench).with_file_name("prynt");
    assert!(
        prynt.is_file(),
        "no prynt binary at {}: build it first (cargo build -p prynt-server)",
        prynt.display()
    );
    let mut c = Command::new(bench);
    for (k, _) in std::env::vars() {
        if k.starts_with("PRYNT_") {
            c.env_remove(k);
        }
    }
    let out = c
        .arg("crash-test")
        .args(args)
        .output()
        .expect("run prynt-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stdout.lines().last().unwrap_or_default();
    let json = serde_json::from_str(last)
        .unwrap_or_else(|_| panic!("the last line is not JSON: {stdout}\n{stderr}"));
    (json, out.status.success())
}

/// Every figure of a run that nothing was lost in, each kind of change acknowledged many times.
fn assert_nothing_lost(r: &Value, ok: bool, kills: u64) {
    assert_eq!(r["kills"], kills, "{r}");
    assert_eq!(r["lost"], 0, "acknowledged changes lost: {r}");
    assert_eq!(r["deliveriesLost"], 0, "deliveries lost: {r}");
    for key in ["eventsLost", "ruleChangesLost", "listEntriesLost"] {
        assert_eq!(r[key], 0, "{key}: {r}");
    }
    // The load ran in every life: a run without acknowledgements would prove nothing.
    assert!(r["events"].as_u64().unwrap_or(0) >= 50, "{r}");
    for key in ["ruleChanges", "listEntries"] {
        assert!(r[key].as_u64().unwrap_or(0) >= 3, "{key}: {r}");
    }
    let parts = ["events", "ruleChanges", "listEntries"]
        .iter()
        .map(|k| r[k].as_u64().unwrap_or(0))
        .sum::<u64>();
    assert_eq!(r["acknowledged"].as_u64(), Some(parts), "{r}");
    assert!(r["duplicateDeliveries"].is_u64(), "{r}");
    assert!(ok, "the run failed: {r}");
}

#[test]
fn nothing_acknowledged_is_lost_when_the_server_is_killed_on_sqlite() {
    let (r, ok) = crash_test(&["--kills", "3", "--delivery-deadline", "40"]);
    assert_eq!(r["store"], "sqlite", "{r}");
    assert_nothing_lost(&r, ok, 3);
}

#[test]
fn nothing_acknowledged_is_lost_when_the_server_is_killed_on_postgres() {
    let url = std::env::var("PRYNT_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "PRYNT_TEST_DATABASE_URL is not set: the PostgreSQL crash test needs a PostgreSQL \
             server; run it through scripts/test, or `eval \"$(scripts/services start)\"` first"
        )
    });
    let (r, ok) = crash_test(&[
        "--kills",
        "2",
        "--store",
        "postgres",
        "--database-url",
        &url,
        "--delivery-deadline",
        "45",
    ]);
    assert_eq!(r["store"], "postgres", "{r}");
    assert_nothing_lost(&r, ok, 2);
}

#[test]
fn bad_input_is_refused_before_anything_runs() {
    // No database for PostgreSQL, and no kills: usage errors (exit code 2), with what is wrong.
    for (args, says) in [
        (&["--store", "postgres"][..], "--database-url"),
        (&["--kills", "0"][..], "--kills"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_prynt-bench"))
            .arg("crash-test")
            .args(args)
            .env_remove("PRYNT_DATABASE_URL")
            .output()
            .expect("run prynt-bench");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
