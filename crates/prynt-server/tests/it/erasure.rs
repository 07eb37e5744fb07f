//! Erasure (`DELETE /v1/visitors/{id}`) is erasure: once it answers, what the visitor's events
//! carried (linked account, tag, page URL) cannot be read back from the store, neither through
//! the API nor from its files: on SQLite not from `prynt.db`'s free space, nor from the
//! write-ahead log, nor from any other file of the data dir. Every table is searched too, so a
//! copy kept beside the events (a webhook payload in the outbox, an identify answer kept for
//! an `Idempotency-Key` replay) counts. The erasure must not disturb identifications running at
//! the same time.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{client, on_postgres, payload, store_query, TestServer};

/// A string that appears nowhere but where the test put it.
fn unique(prefix: &str) -> String {
    format!("{prefix}{}", prynt_core::ids::random_hex(12))
}

/// Every regular file under `dir`, however deep.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("read the data dir").flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => todo.push(path),
                Ok(t) if t.is_file() => out.push(path),
                _ => {}
            }
        }
    }
    out
}

/// The files of `dir` whose bytes hold `needle` anywhere (as written: SQLite keeps text as
/// UTF-8, so the bytes of a string are what a forensic read of the file would look for).
fn files_holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let needle = needle.as_bytes();
    files_under(dir)
        .into_iter()
        .filter(|f| {
            std::fs::read(f).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        })
        .collect()
}

/// For each of `needles`, the tables of the store that hold it in any column of any row. One
/// query per table (per column on SQLite) looks for every needle at once.
fn tables_holding_each(dir: &Path, needles: &[&str]) -> Vec<Vec<String>> {
    let mut found = vec![Vec::new(); needles.len()];
    let quoted = |n: &str| format!("'{}'", n.replace('\'', "''"));
    let mut note = |table: &str, rows: Vec<Vec<Option<String>>>| {
        for hit in rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
        {
            if let Some(i) = needles.iter().position(|n| *n == hit) {
                if !found[i].iter().any(|t: &String| t == table) {
                    found[i].push(table.to_owned());
                }
            }
        }
    };
    if on_postgres() {
        let array = needles
            .iter()
            .map(|n| quoted(n))
            .collect::<Vec<_>>()
            .join(",");
        let tables = store_query(
            dir,
            "SELECT table_name FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
        );
        for t in tables
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
        {
            let sql = format!(
                "SELECT n FROM unnest(ARRAY[{array}]::text[]) AS n
                 WHERE EXISTS (SELECT 1 FROM \"{t}\" x WHERE strpos(x::text, n) > 0)"
            );
            note(&t, store_query(dir, &sql));
        }
        return found;
    }
    let values = needles
        .iter()
        .map(|n| format!("({})", quoted(n)))
        .collect::<Vec<_>>()
        .join(",");
    let tables = store_query(
        dir,
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    );
    for t in tables
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
    {
        let columns = store_query(dir, &format!("SELECT name FROM pragma_table_info('{t}')"));
        for c in columns
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
        {
            let sql = format!(
                "WITH n(v) AS (VALUES {values}) SELECT v FROM n WHERE EXISTS
                 (SELECT 1 FROM \"{t}\" WHERE instr(CAST(\"{c}\" AS BLOB), CAST(v AS BLOB)) > 0)"
            );
            note(&t, store_query(dir, &sql));
        }
    }
    found
}

/// The tables of the store that hold `needle` in any column of any row.
fn tables_holding(dir: &Path, needle: &str) -> Vec<String> {
    tables_holding_each(dir, &[needle]).remove(0)
}

fn post(s: &TestServer, path: &str, body: Value) -> Value {
    let r = s
        .req(Method::POST, path, &s.secret_key)
        .json(&body)
        .send()
        .expect("request");
    let status = r.status().as_u16();
    let body: Value = r.json().unwrap_or(Value::Null);
    assert_eq!(status, 200, "POST {path}: {body}");
    body
}

/// What one browser sends, made recognisable: a unique linked account (an email address), a
/// unique marker in its tag and page URL, and a unique event type.
struct Person {
    seed: u32,
    email: String,
    marker: String,
}

impl Person {
    fn new(seed: u32, prefix: &str) -> Self {
        Person {
            seed,
            email: format!("{}@example.com", unique(prefix)),
            marker: unique(&format!("{prefix}marker-")),
        }
    }

    fn body(&self, visit: u32) -> Value {
        let mut body = payload(self.seed);
        body["linkedId"] = json!(self.email);
        body["type"] = json!("checkout");
        body["url"] = json!(format!(
            "https://shop.example/checkout?ref={}&visit={visit}",
            self.marker
        ));
        body["tag"] = json!({"note": self.marker, "visit": visit,
            "address": {"line": format!("{} street", self.marker)}});
        body
    }

    /// Identifies once; the answer's visitor ID and request ID.
    fn identify(
        &self,
        s: &TestServer,
        visit: u32,
        idempotency_key: Option<&str>,
    ) -> (String, String) {
        let mut req = client()
            .post(s.url("/v1/identify"))
            .bearer_auth(&s.public_key)
            .json(&self.body(visit));
        if let Some(k) = idempotency_key {
            req = req.header("idempotency-key", k);
        }
        let r = req.send().expect("identify");
        assert_eq!(r.status(), 200, "identify");
        let v: Value = r.json().expect("identify answer");
        (
            v["visitorId"].as_str().unwrap_or_default().to_owned(),
            v["requestId"].as_str().unwrap_or_default().to_owned(),
        )
    }

    fn strings(&self) -> [&str; 2] {
        [&self.email, &self.marker]
    }
}

/// A subscriber and a live rule with a list side effect, so that the erased visitor's
/// identifications also leave webhook payloads (rule matches, list updates) in the outbox.
fn subscribe_and_rule(s: &TestServer) {
    post(
        s,
        "/v1/webhooks",
        json!({"url": "https://hooks.example.invalid/prynt",
               "events": ["identification", "rule_match", "list_update"]}),
    );
    post(
        s,
        "/v1/lists",
        json!({"name": "checkouts", "type": "visitor"}),
    );
    post(
        s,
        "/v1/rules",
        json!({"name": "watch checkouts", "priority": 1, "status": "live",
               "conditions": {"operator": "AND", "rules": [
                   {"field": "event.type", "operator": "equals", "value": "checkout"}]},
               "action": {"verdict": "allow",
                          "sideEffects": [{"type": "addToList", "list": "checkouts"}]}}),
    );
}

#[test]
fn an_erased_visitor_cannot_be_read_back_from_the_store_or_its_files() {
    let s = TestServer::start();
    subscribe_and_rule(&s);
    let gone = Person::new(7, "gone-");
    let kept = Person::new(8, "kept-");
    // The erased visitor's events among many others, so its rows share pages with rows that
    // stay (and page splits move them around while they are written).
    let mut visitor = String::new();
    let mut requests = Vec::new();
    for visit in 0..60 {
        if visit % 5 == 0 {
            let key = (visit == 10).then(|| unique("idem-"));
            let (v, r) = gone.identify(&s, visit, key.as_deref());
            visitor = v;
            requests.push(r);
        }
        kept.identify(&s, visit, None);
    }
    assert_eq!(requests.len(), 12);
    let visitor_events = s.json(&format!("/v1/visitors/{visitor}"), &s.secret_key);
    assert_eq!(visitor_events.0, 200);
    assert_eq!(
        visitor_events.1["linkedAccounts"], 1,
        "{}",
        visitor_events.1
    );

    let del = s.delete(&format!("/v1/visitors/{visitor}"), &s.secret_key);
    assert_eq!(del.status(), 200);

    // Straight after the answer: the files first, before anything else touches them.
    if !on_postgres() {
        let files = files_under(&s.data_dir);
        let names: Vec<_> = files.iter().filter_map(|f| f.file_name()).collect();
        eprintln!("data dir files: {names:?}");
        for needle in gone.strings() {
            assert_eq!(
                files_holding(&s.data_dir, needle),
                Vec::<PathBuf>::new(),
                "{needle} is still in the data dir's files after the erasure"
            );
        }
        // The search sees what it looks for: the visitor that stays is found.
        for needle in kept.strings() {
            assert!(
                !files_holding(&s.data_dir, needle).is_empty(),
                "{needle} of the visitor that stays is found"
            );
        }
    }
    for needle in gone.strings() {
        assert_eq!(
            tables_holding(&s.data_dir, needle),
            Vec::<String>::new(),
            "{needle} is still in a table after the erasure"
        );
    }
    // Only the erasure's own notice for other nodes names the visitor now; its request IDs
    // only the record of which webhook deliveries were due and the change feed.
    assert_eq!(tables_holding(&s.data_dir, &visitor), ["change_log"]);
    let request_ids: Vec<&str> = requests.iter().map(String::as_str).collect();
    for (r, tables) in requests
        .iter()
        .zip(tables_holding_each(&s.data_dir, &request_ids))
    {
        for t in tables {
            assert!(
                ["change_log", "deliveries", "fanout"].contains(&t.as_str()),
                "{r} is still in {t}"
            );
        }
    }
    for needle in kept.strings() {
        assert!(!tables_holding(&s.data_dir, needle).is_empty());
    }
}

#[test]
fn erasures_while_identifications_run_lose_nothing_else_and_leave_nothing_behind() {
    let s = Arc::new(TestServer::start());
    let stop = Arc::new(AtomicBool::new(false));
    // Three browsers identifying as fast as they can while visitors are erased.
    let workers: Vec<_> = (0..3u32)
        .map(|w| {
            let (s, stop) = (Arc::clone(&s), Arc::clone(&stop));
            std::thread::spawn(move || {
                let person = Person::new(100 + w, "busy-");
                let mut done = Vec::new();
                let mut failures = Vec::new();
                let mut latencies = Vec::new();
                let mut visit = 0;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let r = client()
                        .post(s.url("/v1/identify"))
                        .bearer_auth(&s.public_key)
                        .json(&person.body(visit))
                        .send();
                    latencies.push(t.elapsed());
                    match r {
                        Ok(r) if r.status() == 200 => {
                            let v: Value = r.json().unwrap_or(Value::Null);
                            done.push(v["requestId"].as_str().unwrap_or_default().to_owned());
                        }
                        Ok(r) => failures.push(format!("status {}", r.status())),
                        Err(e) => failures.push(e.to_string()),
                    }
                    visit += 1;
                }
                (person, done, failures, latencies)
            })
        })
        .collect();

    let erased: Vec<Person> = (0..6).map(|i| Person::new(200 + i, "erased-")).collect();
    let erase_times = Mutex::new(Vec::new());
    for p in &erased {
        let mut visitor = String::new();
        for visit in 0..4 {
            visitor = p.identify(&s, visit, None).0;
        }
        let t = Instant::now();
        let del = s.delete(&format!("/v1/visitors/{visitor}"), &s.secret_key);
        erase_times.lock().unwrap().push(t.elapsed());
        assert_eq!(del.status(), 200);
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    let mut busy = Vec::new();
    let mut latencies = Vec::new();
    for w in workers {
        let (person, done, failures, l) = w.join().expect("worker");
        assert_eq!(failures, Vec::<String>::new(), "identifications failed");
        assert!(done.len() > 10, "the workload ran: {}", done.len());
        busy.push((person, done));
        latencies.extend(l);
    }
    latencies.sort();
    let erase_times = erase_times.into_inner().unwrap();
    eprintln!(
        "{} identifications beside 6 erasures: p50 {:?}, p99 {:?}, max {:?}; erasures took {:?}",
        latencies.len(),
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100],
        latencies[latencies.len() - 1],
        erase_times
    );

    // Every event of the workload is there.
    let total: usize = busy.iter().map(|(_, done)| done.len()).sum();
    assert_eq!(s.event_count(&s.secret_key), total);
    for (_, done) in &busy {
        for r in done.iter().step_by(25) {
            assert_eq!(s.json(&format!("/v1/events/{r}"), &s.secret_key).0, 200);
        }
    }
    if !on_postgres() {
        for p in &erased {
            for needle in p.strings() {
                assert_eq!(
                    files_holding(&s.data_dir, needle),
                    Vec::<PathBuf>::new(),
                    "{needle} is still in the data dir's files"
                );
            }
        }
    }
    let needles: Vec<&str> = erased.iter().flat_map(|p| p.strings()).collect();
    for (needle, tables) in needles
        .iter()
        .zip(tables_holding_each(&s.data_dir, &needles))
    {
        assert_eq!(tables, Vec::<String>::new(), "{needle} is still in a table");
    }
    for (p, _) in &busy {
        assert!(!tables_holding(&s.data_dir, &p.email).is_empty());
    }
}
