//! The decision policy of each workspace environment, held in memory: the compiled rules,
//! the lists' contents and, once a backtest has asked for it, the event table backtests
//! replay. Loaded from the store on first use; a change made through this node updates it
//! before the change is acknowledged, so the next identification already sees it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use prynt_core::Scope;
use prynt_rules::backtest::EventTable;
use prynt_rules::condition::{self, Action, ListCatalog};
use prynt_rules::eval::{self, CompiledRule, ListLookup, RuleSet, Status};
use prynt_rules::facts::Facts;
use prynt_rules::fields::ListType;
use prynt_rules::lists::{ListData, ListSet};
use prynt_store::{ListEntry, ListRecord, RuleRecord, Store, StoreError, WebhookRecord};

/// Backtests look back at most this far.
pub const MAX_BACKTEST_DAYS: i64 = 30;
/// Events read from the store per query while the backtest table loads.
const LOAD_PAGE: usize = 5_000;

/// What the policy knows of a list besides its entries.
#[derive(Debug, Clone)]
pub struct ListMeta {
    pub id: String,
    pub list_type: ListType,
    pub ttl_s: Option<i64>,
    pub purpose: Option<String>,
}

/// The lists of one scope: contents by name, and what each is.
#[derive(Default)]
pub struct Lists {
    pub set: ListSet,
    pub meta: HashMap<String, ListMeta>,
}

impl Lists {
    pub fn by_id(&self, id: &str) -> Option<(&str, &ListMeta)> {
        self.meta
            .iter()
            .find(|(_, m)| m.id == id)
            .map(|(n, m)| (n.as_str(), m))
    }

    /// Takes a stored list and its live entries in (replacing one of the same name).
    pub fn insert(&mut self, rec: &ListRecord, entries: &[ListEntry]) {
        let Some(ty) = ListType::parse(&rec.list_type) else {
            return;
        };
        let mut data = ListData::new(ty);
        for e in entries {
            data.insert(e.value.clone(), e.expires_s);
        }
        self.set.insert_list(rec.name.clone(), data);
        self.meta.insert(
            rec.name.clone(),
            ListMeta {
                id: rec.id.clone(),
                list_type: ty,
                ttl_s: rec.ttl_s,
                purpose: rec.purpose.clone(),
            },
        );
    }

    /// Whether an IP list the workspace marks as a blocklist holds this address now.
    pub fn ip_blocklisted(&self, address: &str, now_s: i64) -> bool {
        self.meta.iter().any(|(name, m)| {
            m.list_type == ListType::Ip
                && m.purpose.as_deref() == Some("block")
                && self
                    .set
                    .get(name)
                    .is_some_and(|d| d.contains(address, now_s))
        })
    }

    pub fn has_ip_blocklists(&self) -> bool {
        self.meta
            .values()
            .any(|m| m.list_type == ListType::Ip && m.purpose.as_deref() == Some("block"))
    }

    /// Lists the workspace marks as allow-type: membership is evidence of legitimacy.
    pub fn allow_lists(&self) -> Vec<&ListData> {
        self.meta
            .iter()
            .filter(|(_, m)| m.purpose.as_deref() == Some("allow"))
            .filter_map(|(n, _)| self.set.get(n))
            .collect()
    }
}

impl ListCatalog for Lists {
    fn list_type(&self, name: &str) -> Option<ListType> {
        self.set.list_type(name)
    }
}

impl ListLookup for Lists {
    fn contains(&self, list: &str, value: &str, now_s: i64) -> Option<bool> {
        self.set.contains(list, value, now_s)
    }
}

/// A saved rule may name a list deleted since; it still loads, and that condition is unknown.
struct AnyList;

impl ListCatalog for AnyList {
    fn list_type(&self, _: &str) -> Option<ListType> {
        None
    }
    fn accepts_unknown(&self) -> bool {
        true
    }
}

/// Parses a stored rule's definition, as saved (validated at save time).
pub fn stored_definition(
    rec: &RuleRecord,
) -> Result<(condition::Condition, Action), condition::RuleError> {
    let conditions: serde_json::Value =
        serde_json::from_str(&rec.conditions).map_err(|e| condition::RuleError {
            field: "conditions".into(),
            message: e.to_string(),
        })?;
    let action: serde_json::Value =
        serde_json::from_str(&rec.action).map_err(|e| condition::RuleError {
            field: "action".into(),
            message: e.to_string(),
        })?;
    Ok((
        condition::parse_conditions(&conditions, "conditions", &AnyList)?,
        condition::parse_action(&action, "action", &AnyList)?,
    ))
}

fn compile_rule(rec: &RuleRecord) -> Option<CompiledRule> {
    let status = Status::parse(&rec.status)?;
    match stored_definition(rec) {
        Ok((cond, action)) => Some(CompiledRule {
            id: rec.id.clone(),
            name: rec.name.clone(),
            version: rec.version as u32,
            priority: rec.priority,
            created_ms: rec.created_ms,
            status,
            condition: eval::compile(&cond),
            action,
        }),
        Err(e) => {
            tracing::error!(rule = %rec.id, "stored rule does not parse: {e}");
            None
        }
    }
}

/// A webhook's subscription, as identifications and list changes pick their receivers.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub id: String,
    pub events: Vec<String>,
    pub verdicts: Option<Vec<String>>,
    pub rule_ids: Option<Vec<String>>,
    pub bot: Option<bool>,
}

/// What a payload says about the event behind it, for filters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Traits<'a> {
    pub verdict: Option<&'a str>,
    pub rule_id: Option<&'a str>,
    pub bot: Option<bool>,
}

impl Subscription {
    pub fn from_record(rec: &WebhookRecord) -> Option<Self> {
        let events: Vec<String> = serde_json::from_str(&rec.events).ok()?;
        let filters: serde_json::Value = serde_json::from_str(&rec.filters).ok()?;
        let words = |key: &str| {
            filters.get(key).and_then(|v| {
                v.as_array().map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
            })
        };
        Some(Subscription {
            id: rec.id.clone(),
            events,
            verdicts: words("verdict"),
            rule_ids: words("ruleId"),
            bot: filters
                .get("botDetected")
                .and_then(serde_json::Value::as_bool),
        })
    }

    /// Filters concern identifications and rule matches; list updates and tests go to every
    /// webhook subscribed to them.
    pub fn wants(&self, kind: &str, t: Traits<'_>) -> bool {
        if !self.events.iter().any(|e| e == kind) {
            return false;
        }
        if !matches!(kind, "identification" | "rule_match") {
            return true;
        }
        let listed = |want: &Option<Vec<String>>, have: Option<&str>| {
            want.as_ref()
                .is_none_or(|w| have.is_some_and(|h| w.iter().any(|x| x == h)))
        };
        listed(&self.verdicts, t.verdict)
            && listed(&self.rule_ids, t.rule_id)
            && self.bot.is_none_or(|b| t.bot == Some(b))
    }
}

/// Events seen by identifications while the table loads, to add once it has.
struct Pending {
    loading_or_loaded: bool,
    rows: Vec<PendingRow>,
    /// The recent events the load read, while another node's may still arrive from the
    /// change feed after the load saw them in the store; and until when to keep them.
    loaded_recently: HashSet<String>,
    forget_loaded_after_ms: i64,
}

struct PendingRow {
    ts_ms: i64,
    request_id: String,
    verdict: Option<condition::Verdict>,
    facts: Facts,
}

/// One scope's policy.
pub struct ScopePolicy {
    rules: RwLock<Arc<RuleSet>>,
    /// Active webhooks' subscriptions.
    webhooks: RwLock<Arc<Vec<Subscription>>>,
    pub lists: RwLock<Lists>,
    /// Serialises this node's changes of the scope's rules and lists, so the memory follows
    /// the store in the same order.
    pub changes: tokio::sync::Mutex<()>,
    table: tokio::sync::Mutex<Option<EventTable>>,
    pending: Mutex<Pending>,
}

impl ScopePolicy {
    /// A policy of these rules and lists, with no webhooks and no backtest table yet.
    pub fn of(rules: Vec<CompiledRule>, lists: Lists) -> ScopePolicy {
        ScopePolicy {
            rules: RwLock::new(Arc::new(RuleSet::new(rules))),
            webhooks: RwLock::new(Arc::new(Vec::new())),
            lists: RwLock::new(lists),
            changes: tokio::sync::Mutex::new(()),
            table: tokio::sync::Mutex::new(None),
            pending: Mutex::new(Pending {
                loading_or_loaded: false,
                rows: Vec::new(),
                loaded_recently: HashSet::new(),
                forget_loaded_after_ms: 0,
            }),
        }
    }

    pub fn rules(&self) -> Arc<RuleSet> {
        Arc::clone(&self.rules.read())
    }

    pub fn webhooks(&self) -> Arc<Vec<Subscription>> {
        Arc::clone(&self.webhooks.read())
    }

    /// The webhooks that want a payload of `kind` with these traits.
    pub fn receivers(&self, kind: &str, t: Traits<'_>) -> Vec<String> {
        self.webhooks
            .read()
            .iter()
            .filter(|s| s.wants(kind, t))
            .map(|s| s.id.clone())
            .collect()
    }

    /// Re-reads the scope's active webhooks.
    pub async fn reload_webhooks(
        &self,
        store: &dyn Store,
        scope: &Scope,
    ) -> Result<(), StoreError> {
        let (records, _) = store
            .webhooks(Some(scope.clone()), Some("active".into()), usize::MAX, 0)
            .await?;
        let subs = records
            .iter()
            .filter_map(Subscription::from_record)
            .collect();
        *self.webhooks.write() = Arc::new(subs);
        Ok(())
    }

    /// Recompiles the scope's rules from the store and swaps them in.
    pub async fn reload_rules(&self, store: &dyn Store, scope: &Scope) -> Result<(), StoreError> {
        let (records, _) = store.rules(scope, None, usize::MAX, 0).await?;
        let compiled = records.iter().filter_map(compile_rule).collect();
        *self.rules.write() = Arc::new(RuleSet::new(compiled));
        Ok(())
    }

    pub fn forget_list(&self, list_id: &str) {
        let mut lists = self.lists.write();
        let name = lists.by_id(list_id).map(|(n, _)| n.to_owned());
        if let Some(name) = name {
            lists.set.remove_list(&name);
            lists.meta.remove(&name);
        }
    }

    /// Hands an identified event to the backtest table, if one is kept for this scope.
    pub fn observe(
        &self,
        ts_ms: i64,
        request_id: &str,
        verdict: Option<condition::Verdict>,
        facts: Facts,
    ) {
        let mut p = self.pending.lock();
        if p.loading_or_loaded {
            p.rows.push(PendingRow {
                ts_ms,
                request_id: request_id.to_owned(),
                verdict,
                facts,
            });
        }
    }

    /// Runs `f` over the scope's event table from `floor` (the retention's start) on, loading
    /// it from the store on first use and adding the events identified since the last call.
    pub async fn with_table<T>(
        &self,
        store: &dyn Store,
        scope: &Scope,
        now_ms: i64,
        floor: i64,
        f: impl FnOnce(&EventTable) -> T,
    ) -> Result<T, StoreError> {
        let mut guard = self.table.lock().await;
        if guard.is_none() {
            self.pending.lock().loading_or_loaded = true;
            // Events identified from now on also arrive as pending rows; remember the ids the
            // load reads from this moment on so none is counted twice.
            let overlap_from = now_ms - 60_000;
            let mut recent = HashSet::new();
            let mut table = EventTable::new();
            // The next page is read while this one is parsed: the store's reads and the parse
            // run on separate blocking threads.
            let mut page = store
                .events_ascending(scope, floor, None, LOAD_PAGE)
                .await?;
            while !page.is_empty() {
                let full = page.len() == LOAD_PAGE;
                let after = page.last().map(|e| (e.ts_ms, e.request_id.clone()));
                let parse = tokio::task::spawn_blocking(move || {
                    page.into_iter()
                        .filter_map(|e| {
                            let facts = Facts::from_json(&e.body).ok()?;
                            let verdict = e.verdict.as_deref().and_then(condition::Verdict::parse);
                            Some((e.ts_ms, e.request_id, verdict, facts))
                        })
                        .collect::<Vec<_>>()
                });
                let next = async {
                    if full {
                        store.events_ascending(scope, floor, after, LOAD_PAGE).await
                    } else {
                        Ok(Vec::new())
                    }
                };
                let (rows, next) = tokio::join!(parse, next);
                let rows =
                    rows.map_err(|e| StoreError::Backend(format!("load task failed: {e}")))?;
                for (ts, id, verdict, facts) in rows {
                    table.push(ts, &id, verdict, &facts);
                    if ts >= overlap_from {
                        recent.insert(id);
                    }
                }
                page = next?;
            }
            let pending = std::mem::take(&mut self.pending.lock().rows);
            for row in pending {
                if !recent.contains(&row.request_id) {
                    table.push(row.ts_ms, &row.request_id, row.verdict, &row.facts);
                }
            }
            *guard = Some(table);
            let mut p = self.pending.lock();
            p.loaded_recently = recent;
            p.forget_loaded_after_ms = now_ms + 60_000;
        } else {
            let pending = {
                let mut p = self.pending.lock();
                if now_ms > p.forget_loaded_after_ms {
                    p.loaded_recently = HashSet::new();
                }
                let rows = std::mem::take(&mut p.rows);
                rows.into_iter()
                    .filter(|r| !p.loaded_recently.contains(&r.request_id))
                    .collect::<Vec<_>>()
            };
            if let Some(table) = guard.as_mut() {
                for row in pending {
                    table.push(row.ts_ms, &row.request_id, row.verdict, &row.facts);
                }
            }
        }
        let Some(table) = guard.as_mut() else {
            return Err(StoreError::Backend("event table missing".into()));
        };
        table.prune_before(floor);
        // A replay is CPU work of up to a few tens of milliseconds: keep it off the reactor.
        Ok(tokio::task::block_in_place(|| f(table)))
    }

    /// Starts loading the backtest table in the background, so the first backtest after a
    /// rule is written does not wait for it.
    pub fn warm_table(self: &Arc<Self>, store: Arc<dyn Store>, scope: Scope, floor: i64) {
        let policy = Arc::clone(self);
        tokio::spawn(async move {
            let now_ms = prynt_core::timefmt::now_unix_ms();
            if let Err(e) = policy
                .with_table(store.as_ref(), &scope, now_ms, floor, |_| ())
                .await
            {
                tracing::warn!("cannot load the backtest table: {e}");
            }
        });
    }

    /// Takes an erased visitor out of the in-memory visitor lists (the store already has).
    pub fn drop_visitor_entries(&self, visitor_id: &str) {
        let mut lists = self.lists.write();
        let names: Vec<String> = lists
            .meta
            .iter()
            .filter(|(_, m)| m.list_type == ListType::Visitor)
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            if let Some(d) = lists.set.get_mut(&name) {
                d.remove(visitor_id);
            }
        }
    }

    /// Erases a visitor from the backtest table (GDPR deletion).
    pub async fn forget_visitor(&self, visitor_id: &str) {
        self.pending
            .lock()
            .rows
            .retain(|r| !matches!(r.facts.get_str("visitorId"), Some(v) if v == visitor_id));
        if let Some(table) = self.table.lock().await.as_mut() {
            table.remove_visitor(visitor_id);
        }
    }
}

/// Every scope's policy on this node.
pub struct Policy {
    store: Arc<dyn Store>,
    scopes: RwLock<HashMap<Scope, Arc<ScopePolicy>>>,
    loading: tokio::sync::Mutex<()>,
}

impl Policy {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Policy {
            store,
            scopes: RwLock::new(HashMap::new()),
            loading: tokio::sync::Mutex::new(()),
        }
    }

    /// The scope's policy if this node has loaded it; `None` without a look at the store.
    pub fn loaded(&self, scope: &Scope) -> Option<Arc<ScopePolicy>> {
        self.scopes.read().get(scope).map(Arc::clone)
    }

    /// The scope's policy, loaded from the store the first time it is asked for.
    pub async fn scope(&self, scope: &Scope) -> Result<Arc<ScopePolicy>, StoreError> {
        if let Some(p) = self.scopes.read().get(scope) {
            return Ok(Arc::clone(p));
        }
        let _loading = self.loading.lock().await;
        if let Some(p) = self.scopes.read().get(scope) {
            return Ok(Arc::clone(p));
        }
        let policy = ScopePolicy::of(Vec::new(), Lists::default());
        let all = self.store.all_list_entries(scope).await?;
        {
            let mut lists = policy.lists.write();
            for (rec, entries) in &all {
                lists.insert(rec, entries);
            }
        }
        policy.reload_rules(self.store.as_ref(), scope).await?;
        policy.reload_webhooks(self.store.as_ref(), scope).await?;
        let policy = Arc::new(policy);
        self.scopes
            .write()
            .insert(scope.clone(), Arc::clone(&policy));
        Ok(policy)
    }
}
