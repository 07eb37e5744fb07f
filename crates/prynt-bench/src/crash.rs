//! `prynt-bench crash-test`: identify load and management writes against a real `prynt serve`
//! that is SIGKILLed at random moments and started again on the same store, then a check that
//! nothing the server acknowledged was lost.
//!
//! Load: identify clients sending `prynt-bench identify`'s synthetic browsers (80% of visits
//! with the token of the browser's last answer) and one client making management writes in
//! turn: a rule created, a rule renamed, an entry added to an email list. A 2xx answer is an
//! acknowledgement and is recorded (the event's `requestId`, the rule's id and version, the
//! entry); a failure is not, whether or not the change was committed. One webhook, subscribed
//! to identifications and list changes, points at a receiver in this process.
//!
//! Each life of the server lasts a random 0.2 to 2 s of load, then SIGKILL and a restart on the
//! same data dir (SQLite) or database (PostgreSQL). After the last kill and restart the load
//! stops and every acknowledgement is checked: each event is found by `GET /v1/events/{id}`,
//! each rule version is among the rule's versions, each list entry is in the list, and the
//! receiver gets the webhook payload of each event and list change before a deadline. Delivery
//! is at least once: payloads that arrive again are counted as duplicates, not failures.
//!
//! The last line is `{"kills", "acknowledged", "lost", "deliveriesLost", …}`; the run fails when
//! anything acknowledged is lost or a delivery does not arrive.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use prynt_client::{
    Action, Client, Condition, ListType, NewList, NewRule, NewWebhook, PageParams, RuleStatus,
    RuleUpdate, Verdict, WebhookEvent,
};
use rand::Rng as _;
use serde_json::{json, Value};

pub use crate::node::StoreKind;

use crate::node::{self, Node, Receiver, Store, WorkDir};
use crate::synth::Rng;
use crate::BenchError;

/// Distinct browsers of the identify load.
const BROWSERS: usize = 2_000;

/// Pause between two management writes of the write client: a steady trickle of changes beside
/// the identify load, not a second load (every rule created is evaluated on every later
/// identification).
const WRITE_PAUSE: Duration = Duration::from_millis(15);

/// A client whose request failed waits this long before the next, so a server that is down
/// is not hammered with connection attempts.
const FAILED_PAUSE: Duration = Duration::from_millis(20);

/// What a run is asked to do.
pub struct Options<'a> {
    pub prynt: &'a Path,
    pub kills: usize,
    pub store: StoreKind,
    /// A PostgreSQL server whose role may create databases (with `store` PostgreSQL).
    pub database_url: Option<&'a str>,
    /// Concurrent identify clients.
    pub clients: usize,
    /// Shortest and longest life of the server between two kills.
    pub min_life: Duration,
    pub max_life: Duration,
    /// How long after the last restart every acknowledged delivery may take to arrive.
    pub delivery_deadline: Duration,
}

/// A rule change the server acknowledged: the version its answer named.
#[derive(Debug, Clone)]
struct RuleChange {
    rule_id: String,
    version: Option<i64>,
    name: String,
}

#[derive(Debug, Default)]
struct Acks {
    events: Vec<String>,
    rule_changes: Vec<RuleChange>,
    entries: Vec<String>,
}

/// What the load clients share with the driver.
struct Shared {
    /// The client of the server's current life.
    api: RwLock<Client>,
    stop: AtomicBool,
    acks: Mutex<Acks>,
    failed: AtomicU64,
    /// Failed requests by what went wrong.
    failures: Mutex<BTreeMap<String, u64>>,
}

impl Shared {
    fn api(&self) -> Client {
        self.api.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn acks(&self) -> std::sync::MutexGuard<'_, Acks> {
        self.acks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn failed(&self, e: &prynt_client::Error) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let kind = match e.status() {
            Some(status) => format!("HTTP {status}"),
            None => "no answer (refused, cut off or timed out)".to_owned(),
        };
        *self
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(kind)
            .or_default() += 1;
    }

    fn counts(&self) -> (usize, usize) {
        let a = self.acks();
        (a.events.len(), a.rule_changes.len() + a.entries.len())
    }
}

/// One identify client: its share of the browsers in turn, each keeping the token of its last
/// answer and sending it on 80% of its visits.
async fn identify_client(shared: Arc<Shared>, browsers: Arc<Vec<Value>>, c: usize, of: usize) {
    let mine: Vec<usize> = (c..browsers.len()).step_by(of).collect();
    if mine.is_empty() {
        return;
    }
    let mut tokens: Vec<Option<String>> = vec![None; mine.len()];
    let mut rng = Rng::new(1_000 + c as u64);
    let mut k = 0;
    while !shared.stop.load(Ordering::Relaxed) {
        let i = k % mine.len();
        k += 1;
        let mut payload = browsers[mine[i]].clone();
        if let (Some(t), true) = (&tokens[i], rng.chance(0.8)) {
            payload["token"] = json!(t);
        }
        match shared.api().identify(&payload).await {
            Ok(answer) => {
                if answer.visitor_token.is_some() {
                    tokens[i] = answer.visitor_token;
                }
                shared.acks().events.push(answer.request_id);
            }
            Err(e) => {
                shared.failed(&e);
                tokio::time::sleep(FAILED_PAUSE).await;
            }
        }
    }
}

/// The write client: a rule created, a rule renamed, an entry added to the list, in turn.
async fn write_client(shared: Arc<Shared>, list_id: String) {
    let mut rules: Vec<String> = Vec::new();
    let mut rng = Rng::new(99);
    let mut n: u64 = 0;
    while !shared.stop.load(Ordering::Relaxed) {
        n += 1;
        let api = shared.api();
        let done = match n % 3 {
            0 => {
                let name = format!("crash-test rule {n}");
                let rule = NewRule {
                    name: name.clone(),
                    // Never true: the rules are there to be written, not to decide anything.
                    conditions: Condition::all([Condition::equals(
                        "event.type",
                        format!("crash-test-never-{n}"),
                    )]),
                    action: Action::new(Verdict::Allow),
                    priority: None,
                    status: Some(RuleStatus::Live),
                };
                api.create_rule(&rule).await.map(|created| {
                    rules.push(created.id.clone());
                    shared.acks().rule_changes.push(RuleChange {
                        rule_id: created.id,
                        version: created.version,
                        name,
                    });
                })
            }
            1 if !rules.is_empty() => {
                let id = rules[rng.below(rules.len())].clone();
                let name = format!("crash-test rule renamed {n}");
                let change = RuleUpdate {
                    name: Some(name.clone()),
                    ..RuleUpdate::default()
                };
                api.patch_rule(&id, &change).await.map(|updated| {
                    shared.acks().rule_changes.push(RuleChange {
                        rule_id: updated.id,
                        version: updated.version,
                        name,
                    });
                })
            }
            _ => {
                let value = format!("crash-{n}@example.com");
                api.add_list_entries(&list_id, [value.clone()])
                    .await
                    .map(|_| shared.acks().entries.push(value))
            }
        };
        if let Err(e) = done {
            shared.failed(&e);
            tokio::time::sleep(FAILED_PAUSE).await;
        }
        tokio::time::sleep(WRITE_PAUSE).await;
    }
}

/// Tries `f` until it succeeds or `tries` attempts failed (setting up, on a server that has
/// just started).
async fn until_ok<T, F, Fut>(what: &str, tries: usize, mut f: F) -> Result<T, BenchError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, prynt_client::Error>>,
{
    let mut last = None;
    for _ in 0..tries {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(BenchError::Runtime(format!(
        "{what}: {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    )))
}

/// Whether the event is stored: `Some(false)` on a 404, `None` when the server could not say.
async fn event_found(api: &Client, request_id: &str) -> Option<bool> {
    for _ in 0..5 {
        match api.get_event(request_id).await {
            Ok(_) => return Some(true),
            Err(e) if e.is_not_found() => return Some(false),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    None
}

/// The acknowledged events the store does not have (or would not say it had).
async fn lost_events(api: &Client, ids: &[String]) -> Vec<String> {
    const READERS: usize = 8;
    let ids = Arc::new(ids.to_vec());
    let mut tasks = tokio::task::JoinSet::new();
    for r in 0..READERS {
        let (api, ids) = (api.clone(), Arc::clone(&ids));
        tasks.spawn(async move {
            let mut lost = Vec::new();
            for id in ids.iter().skip(r).step_by(READERS) {
                if event_found(&api, id).await != Some(true) {
                    lost.push(id.clone());
                }
            }
            lost
        });
    }
    let mut lost = Vec::new();
    while let Some(part) = tasks.join_next().await {
        lost.extend(part.unwrap_or_default());
    }
    lost
}

/// The acknowledged rule changes whose version is not among the rule's stored versions.
async fn lost_rule_changes(api: &Client, changes: &[RuleChange]) -> Vec<String> {
    let mut by_rule: BTreeMap<&str, Vec<&RuleChange>> = BTreeMap::new();
    for c in changes {
        by_rule.entry(&c.rule_id).or_default().push(c);
    }
    let mut lost = Vec::new();
    for (rule, changes) in by_rule {
        let mut versions = None;
        for _ in 0..5 {
            match api.rule_versions(rule).await {
                Ok(v) => {
                    versions = Some(v);
                    break;
                }
                Err(e) if e.is_not_found() => {
                    versions = Some(Vec::new());
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        let versions = versions.unwrap_or_default();
        for c in changes {
            let kept = versions
                .iter()
                .any(|v| c.version.is_none_or(|want| v.version == want) && v.name == c.name);
            if !kept {
                lost.push(format!("{rule} v{:?} {:?}", c.version, c.name));
            }
        }
    }
    lost
}

/// The acknowledged entries the list does not hold.
async fn lost_entries(
    api: &Client,
    list_id: &str,
    entries: &[String],
) -> Result<Vec<String>, BenchError> {
    const PAGE: u32 = 100;
    let mut held = HashSet::new();
    let mut offset = 0;
    loop {
        let page = PageParams {
            limit: Some(PAGE),
            offset: Some(offset),
        };
        let list = until_ok("cannot read the list", 5, || api.get_list(list_id, &page)).await?;
        let n = list.entries.data.len() as u64;
        held.extend(list.entries.data.into_iter().map(|e| e.value));
        if !list.entries.has_more || n == 0 {
            break;
        }
        offset += n;
    }
    Ok(entries
        .iter()
        .filter(|e| !held.contains(*e))
        .cloned()
        .collect())
}

/// The p50 and largest of some durations, in milliseconds.
fn p50_max_ms(v: &[Duration]) -> (f64, f64) {
    let mut ms: Vec<f64> = v.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let p50 = ms.get(ms.len() / 2).copied().unwrap_or(0.0);
    (p50.round(), ms.last().copied().unwrap_or(0.0).round())
}

/// A few of `items`, for a message.
fn some(items: &[String]) -> String {
    let shown: Vec<&str> = items.iter().take(5).map(String::as_str).collect();
    let more = items.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

/// Runs the crash test.
pub fn run(o: &Options) -> Result<(), BenchError> {
    if o.kills == 0 {
        return Err(BenchError::Usage("--kills must be at least 1".into()));
    }
    if o.min_life > o.max_life {
        return Err(BenchError::Usage(
            "the shortest life must not be longer than the longest".into(),
        ));
    }
    let mut work = WorkDir::create("crash-test")?;
    let store = Store::open(o.store, o.database_url, "crash_test")?;
    let outcome = drive(o, &work, &store);
    if !matches!(outcome, Ok(true)) {
        work.keep = true;
        eprintln!(
            "the run's data dir and server log are kept in {}",
            work.path.display()
        );
    }
    match outcome {
        Ok(true) => Ok(()),
        Ok(false) => Err(BenchError::Runtime(
            "acknowledged changes or deliveries were lost".into(),
        )),
        Err(e) => Err(e),
    }
}

/// The run on its store; true when nothing was lost.
fn drive(o: &Options, work: &WorkDir, store: &Store) -> Result<bool, BenchError> {
    let data = work.data();
    node::prynt_command(o.prynt, node::UNLIMITED, &data, store)?;
    // Deliveries go to loopback; a killed node's claims on PostgreSQL come due when their
    // lease (the time limit + 30 s) runs out, so the time limit is short; a failed attempt is
    // tried again within seconds rather than the production schedule's minutes.
    let extra = [
        "--dev-allow-loopback-webhooks",
        "--webhook-timeout",
        "2",
        "--webhook-retry-schedule",
        "1s,2s,5s,10s,30s",
    ];
    let start = || Node::start(o.prynt, &data, store, &extra, &work.log());
    let receiver = Receiver::start(true)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| BenchError::Runtime(e.to_string()))?;

    let mut node = start()?;
    let (public, secret) = node.keys.clone().ok_or_else(|| {
        BenchError::Runtime("the server printed no keys on its first start".into())
    })?;
    let first = node::api(&node, &public, &secret)?;
    let list_id = rt.block_on(async {
        let hook = NewWebhook {
            events: Some(vec![WebhookEvent::Identification, WebhookEvent::ListUpdate]),
            ..NewWebhook::new(receiver.url())
        };
        until_ok("cannot create the webhook", 25, || {
            first.create_webhook(&hook)
        })
        .await?;
        let list = NewList::new("crash-test", ListType::Email);
        let list = until_ok("cannot create the list", 25, || first.create_list(&list)).await?;
        Ok::<_, BenchError>(list.id)
    })?;

    let shared = Arc::new(Shared {
        api: RwLock::new(first),
        stop: AtomicBool::new(false),
        acks: Mutex::new(Acks::default()),
        failed: AtomicU64::new(0),
        failures: Mutex::new(BTreeMap::new()),
    });
    let browsers = Arc::new(node::payloads(11, BROWSERS));
    let mut load = Vec::new();
    for c in 0..o.clients {
        load.push(rt.spawn(identify_client(
            Arc::clone(&shared),
            Arc::clone(&browsers),
            c,
            o.clients,
        )));
    }
    load.push(rt.spawn(write_client(Arc::clone(&shared), list_id.clone())));

    let started = Instant::now();
    let mut restarts = Vec::new();
    let mut rng = rand::rng();
    let life_ms = (o.min_life.as_millis() as u64, o.max_life.as_millis() as u64);
    for k in 1..=o.kills {
        let (events_before, writes_before) = shared.counts();
        let life = Duration::from_millis(rng.random_range(life_ms.0..=life_ms.1));
        std::thread::sleep(life);
        node.kill()?;
        let (events, writes) = shared.counts();
        eprintln!(
            "kill {k}/{}: SIGKILL after {} ms of load; {} events and {} writes acknowledged \
             in that life",
            o.kills,
            life.as_millis(),
            events - events_before,
            writes - writes_before,
        );
        let killed = Instant::now();
        node = start()?;
        restarts.push(killed.elapsed());
        *shared.api.write().unwrap_or_else(|e| e.into_inner()) =
            node::api(&node, &public, &secret)?;
    }
    shared.stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for task in load {
            let _ = task.await;
        }
    });
    let load_secs = started.elapsed().as_secs_f64();
    let acks = std::mem::take(&mut *shared.acks());
    let failed = shared.failed.load(Ordering::Relaxed);
    eprintln!(
        "load stopped after {load_secs:.1} s: {} events, {} rule changes and {} list entries \
         acknowledged, {failed} requests failed; checking the restarted server",
        acks.events.len(),
        acks.rule_changes.len(),
        acks.entries.len(),
    );
    if acks.events.is_empty() || acks.rule_changes.is_empty() || acks.entries.is_empty() {
        return Err(BenchError::Runtime(
            "the load got no acknowledgement of some kind: nothing to check".into(),
        ));
    }

    let api = node::api(&node, &public, &secret)?;
    let checked = Instant::now();
    let (events_lost, rules_lost, entries_lost) = rt.block_on(async {
        let events = lost_events(&api, &acks.events).await;
        let rules = lost_rule_changes(&api, &acks.rule_changes).await;
        let entries = lost_entries(&api, &list_id, &acks.entries).await?;
        Ok::<_, BenchError>((events, rules, entries))
    })?;
    eprintln!(
        "stored state checked in {:.1} s",
        checked.elapsed().as_secs_f64()
    );
    // The checks must be able to fail: an event and an entry that were never made are missing.
    let (event_control, entry_control) = rt.block_on(async {
        let e = event_found(&api, "req_1000000000_0f0f0f").await;
        let l = lost_entries(&api, &list_id, &["never@example.com".to_owned()]).await?;
        Ok::<_, BenchError>((e, l.len()))
    })?;
    if event_control != Some(false) || entry_control != 1 {
        return Err(BenchError::Runtime(
            "the checks found an event or a list entry that was never made: they cannot be \
             trusted"
                .into(),
        ));
    }

    // Deliveries: every acknowledged event's and entry's payload, by the deadline.
    let mut due_events: HashSet<&str> = acks.events.iter().map(String::as_str).collect();
    let mut due_entries: HashSet<&str> = acks.entries.iter().map(String::as_str).collect();
    let waited = Instant::now();
    loop {
        {
            let r = receiver.received();
            due_events.retain(|id| !r.events.contains_key(*id));
            due_entries.retain(|v| !r.list_values.contains_key(*v));
        }
        if (due_events.is_empty() && due_entries.is_empty())
            || waited.elapsed() >= o.delivery_deadline
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let delivery_wait = waited.elapsed().as_secs_f64();
    node.stop();

    let (received_total, duplicates, unacknowledged) = {
        let r = receiver.received();
        let acked: HashSet<&str> = acks.events.iter().map(String::as_str).collect();
        let unacknowledged = r
            .events
            .keys()
            .filter(|id| !acked.contains(id.as_str()))
            .count();
        (r.total, r.duplicates(), unacknowledged)
    };
    let acknowledged = acks.events.len() + acks.rule_changes.len() + acks.entries.len();
    let lost = events_lost.len() + rules_lost.len() + entries_lost.len();
    let deliveries_due = acks.events.len() + acks.entries.len();
    let deliveries_lost = due_events.len() + due_entries.len();
    for (kind, n) in shared
        .failures
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        eprintln!("failed x{n}: {kind}");
    }
    for (what, items) in [
        ("events", events_lost.clone()),
        ("rule changes", rules_lost.clone()),
        ("list entries", entries_lost.clone()),
        (
            "event deliveries",
            due_events.iter().map(|s| s.to_string()).collect(),
        ),
        (
            "entry deliveries",
            due_entries.iter().map(|s| s.to_string()).collect(),
        ),
    ] {
        if !items.is_empty() {
            eprintln!("LOST {} {what}: {}", items.len(), some(&items));
        }
    }
    let (restart_p50, restart_max) = p50_max_ms(&restarts);
    crate::emit(
        &format!(
            "crash test on {}: {} SIGKILLs in {load_secs:.0} s of load ({} identify clients and \
             one writer); {acknowledged} acknowledged ({} events, {} rule changes, {} list \
             entries), {lost} lost; {deliveries_due} deliveries due, {deliveries_lost} lost \
             ({delivery_wait:.1} s of waiting after the checks of the store); {received_total} payloads \
             received, {duplicates} of them again (at least once), {unacknowledged} events \
             delivered whose answer was cut off by a kill; {failed} requests failed; restart \
             p50 {restart_p50} ms, max {restart_max} ms",
            o.store.as_str(),
            o.kills,
            o.clients,
            acks.events.len(),
            acks.rule_changes.len(),
            acks.entries.len(),
        ),
        json!({
            "kills": o.kills,
            "acknowledged": acknowledged,
            "lost": lost,
            "deliveriesLost": deliveries_lost,
            "store": o.store.as_str(),
            "events": acks.events.len(),
            "ruleChanges": acks.rule_changes.len(),
            "listEntries": acks.entries.len(),
            "eventsLost": events_lost.len(),
            "ruleChangesLost": rules_lost.len(),
            "listEntriesLost": entries_lost.len(),
            "deliveriesDue": deliveries_due,
            "duplicateDeliveries": duplicates,
            "unacknowledgedDelivered": unacknowledged,
            "failedRequests": failed,
            "deliveryWaitSeconds": (delivery_wait * 10.0).round() / 10.0,
            "restartP50Ms": restart_p50,
            "restartMaxMs": restart_max,
        }),
    );
    Ok(lost == 0 && deliveries_lost == 0)
}
