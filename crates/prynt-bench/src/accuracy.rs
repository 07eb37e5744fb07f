//! `prynt-bench accuracy`: how well identification links visits to browsers, on a synthetic
//! population with realistic drift and token-less visits, against three baselines run on the
//! same visits: an exact hash of all components (what open-source fingerprinting libraries
//! do) and both variants of FP-Stalker, rule-based and hybrid (see [`super::fp_stalker`]).
//!
//! Prynt's figures come from `prynt_identify::Index::decide`, the engine the server runs.
//! Every matcher gets the visitor token when the browser kept one (a cookie is a cookie for
//! everybody); they differ only in what they do without it.
//!
//! Definitions (per matcher):
//! A visitor ID is the browser's own when it was first given to that browser, or when it is the
//! one the browser's cookie held before the visit (for a browser seen only in private windows,
//! its latest ID): cookie-less matching scored against the cookie-identified truth, as the
//! commercial services do. A browser wrongly merged into another's ID is an error once, when it
//! happens; afterwards that ID is the one its cookie holds. The strict figures
//! (`precisionStrict`, `recallStrict`) count an ID as right only for the browser it was first
//! given to, so every later link of a merged browser counts against the matcher again.
//!
//! - precision: of token-less visits linked to an existing visitor, the share linked to one of
//!   the browser's own visitor IDs;
//! - recall: of token-less returns of a browser that are distinguishable at all, the share
//!   linked to one of its own visitor IDs. A return is distinguishable when the browser's own latest fingerprint is
//!   strictly nearer to the visit (fewer differing components, the browser version counting
//!   as one) than the latest fingerprint of every other browser that could have made the visit
//!   (version not above the visit's). When another browser is as near, nothing that was
//!   observed singles this one out;
//! - idsPerDevice: distinct visitor IDs a browser was given over the run;
//! - trackingDays: per browser, the longest span between two visits under one visitor ID,
//!   averaged over browsers with at least two visits;
//! - calibrationError: over all identifications grouped by reported confidence decile (at least
//!   30 in a decile), the largest gap between mean confidence and the share correct (a known
//!   visitor is correct when it is the browser's own, a new visitor when the browser really was
//!   new). Each decile carries the 95% sampling interval of its share correct (`interval95`);
//!   `calibrationNew` is the same table for "new visitor" answers alone;
//! - rejectedTokens: of `tokenVisits` (visits with the browser's own token), those whose token
//!   was not trusted. The synthetic traffic copies no token onto another browser, so each is a
//!   returning browser that lost its visitor ID.
//! - fingerprintOnlyCeiling: what identical devices leave any matcher that answers a visit
//!   showing exactly one known browser's latest fingerprint from that fingerprint alone: the
//!   unchanged distinguishable returns (`exactReturns`), the new browsers identical to a known
//!   one (`newTwins`), and the best precision such a matcher can have at recall 0.90 and at this
//!   matcher's recall (see `fingerprint_only_ceiling`). The same for every matcher.

use std::collections::{HashMap, HashSet};

use crate::synth::{self, Device, Rng};
use prynt_core::agent::Components;
use prynt_identify::reference;
use prynt_identify::{Decision, Fingerprint, Index, Method, ModelParams};
use prynt_signals::device::DeviceParser;
use serde_json::{json, Value};

use super::fp_stalker::{self, Attributes, Hybrid, RuleBased};
use super::recorded::{self, Recorded};
use crate::BenchError;

pub struct Options {
    pub browsers: usize,
    pub days: u32,
    pub seed: u64,
    /// Share of visits after the browser's storage was cleared.
    pub clear_rate: f64,
    /// Share of visits in a private window (no token, and nothing kept afterwards).
    pub incognito_rate: f64,
    /// Runs of Prynt alone on the following seeds whose calibration is pooled with this one's:
    /// one run's middle deciles hold a few hundred answers, too few to show a gap of two
    /// points.
    pub runs: u64,
    /// Prynt's settings (the defaults, or those the command line changed).
    pub params: ModelParams,
}

/// A way of identifying a token-less visit, from what the agent measured (`c`) and its
/// fingerprint.
pub(super) trait Matcher {
    fn decide(
        &mut self,
        c: &Components,
        fp: &Fingerprint,
        claimed: Option<&str>,
        at_ms: i64,
    ) -> Decision;
    /// Learns from a visit identified as `visitor` by `how`.
    fn record(&mut self, visitor: &str, how: Method, c: &Components, fp: &Fingerprint, at_ms: i64);
    /// Forgets every visitor, as a new workspace starts with none (what it learnt from
    /// training data stays).
    fn forget(&mut self);
    /// For a missed return: was the right visitor retrieved, and with what evidence.
    fn explain(
        &self,
        _fp: &Fingerprint,
        _visitor: &str,
        _at_ms: i64,
    ) -> Option<(bool, Option<f64>)> {
        None
    }
    /// How many visitors the matcher knows and its learnt rate of returns, when it is Prynt
    /// (for fitting its reference calibration).
    fn known(&self) -> Option<(usize, f64)> {
        None
    }
}

struct Prynt(Index);

impl Prynt {
    fn new(params: ModelParams) -> Self {
        Prynt(Index::new(params))
    }
}

impl Matcher for Prynt {
    fn decide(
        &mut self,
        _c: &Components,
        fp: &Fingerprint,
        claimed: Option<&str>,
        at_ms: i64,
    ) -> Decision {
        self.0.decide(fp, claimed, at_ms)
    }
    fn record(
        &mut self,
        visitor: &str,
        how: Method,
        _c: &Components,
        fp: &Fingerprint,
        at_ms: i64,
    ) {
        let profile = self.0.profile(visitor, fp);
        self.0.upsert(visitor, &profile, at_ms, how);
    }
    fn forget(&mut self) {
        self.0 = Index::new(self.0.params().clone());
    }
    fn explain(&self, fp: &Fingerprint, visitor: &str, at_ms: i64) -> Option<(bool, Option<f64>)> {
        Some(self.0.explain(fp, visitor, at_ms))
    }
    fn known(&self) -> Option<(usize, f64)> {
        Some((self.0.len(), self.0.return_rate()))
    }
}

pub(super) fn token_or<F: FnOnce() -> Decision>(
    known: bool,
    claimed: Option<&str>,
    f: F,
) -> Decision {
    match claimed {
        Some(v) if known => Decision::token(v),
        _ => f(),
    }
}

/// The fingerprint's device components, without the network it came from.
fn device_bytes(fp: &Fingerprint) -> Vec<u8> {
    fp.with_network(None).to_bytes()
}

/// Links a visit to the visitor whose latest fingerprint hashes the same.
#[derive(Default)]
struct ExactHash {
    by_hash: HashMap<Vec<u8>, String>,
    latest: HashMap<String, Vec<u8>>,
}

impl Matcher for ExactHash {
    fn decide(
        &mut self,
        _c: &Components,
        fp: &Fingerprint,
        claimed: Option<&str>,
        _at_ms: i64,
    ) -> Decision {
        let known = claimed.is_some_and(|v| self.latest.contains_key(v));
        token_or(known, claimed, || {
            match self.by_hash.get(&device_bytes(fp)) {
                Some(v) => Decision::matched(v.clone(), 1.0),
                None => Decision::new_visitor(1.0),
            }
        })
    }
    fn record(
        &mut self,
        visitor: &str,
        _how: Method,
        _c: &Components,
        fp: &Fingerprint,
        _at_ms: i64,
    ) {
        let bytes = device_bytes(fp);
        if let Some(old) = self.latest.insert(visitor.to_owned(), bytes.clone()) {
            if self.by_hash.get(&old).is_some_and(|v| v == visitor) {
                self.by_hash.remove(&old);
            }
        }
        self.by_hash.insert(bytes, visitor.to_owned());
    }
    fn forget(&mut self) {
        *self = ExactHash::default();
    }
}

/// One visit: of the synthetic population, or read from a recorded one.
pub(super) struct Visit {
    pub(super) day: f64,
    pub(super) device: usize,
    pub(super) tokenless: bool,
    pub(super) incognito: bool,
    pub(super) travel: Option<(&'static str, i32)>,
    /// What changed in the browser since its previous visit (recorded populations only).
    pub(super) changes: Vec<String>,
}

struct Population {
    devices: Vec<Device>,
    second_screens: Vec<Option<(u32, u32)>>,
    home_screens: Vec<(u32, u32)>,
    visits: Vec<Visit>,
}

fn population(o: &Options) -> Population {
    let mut rng = Rng::new(o.seed);
    let mut devices = Vec::with_capacity(o.browsers);
    let mut second = Vec::with_capacity(o.browsers);
    let mut visits = Vec::new();
    for i in 0..o.browsers {
        let d = Device::random(&mut rng);
        let desktop = d.pixel_ratio < 2.5;
        second.push(
            (desktop && rng.chance(0.4))
                .then(|| [(2560, 1440), (3440, 1440), (1920, 1080)][rng.below(3)]),
        );
        // Visitors come back every 1 to 10 days on average, from a random first day.
        let mean_gap = 1.0 + rng.f64() * 9.0;
        let mut day = rng.f64() * o.days as f64 * 0.5;
        while day < o.days as f64 {
            let incognito = rng.chance(o.incognito_rate);
            let tokenless = incognito || rng.chance(o.clear_rate);
            let travel = rng.chance(0.04).then(|| Device::travel_zone(&mut rng));
            visits.push(Visit {
                day,
                device: i,
                tokenless,
                incognito,
                travel,
                changes: Vec::new(),
            });
            day += -mean_gap * (1.0 - rng.f64()).ln();
        }
        devices.push(d);
    }
    visits.sort_by(|a, b| a.day.total_cmp(&b.day));
    let home_screens = devices.iter().map(|d| d.screen).collect();
    Population {
        devices,
        second_screens: second,
        home_screens,
        visits,
    }
}

/// Per confidence decile: (answers, summed confidence, correct answers).
type Deciles = [(usize, f64, usize); 10];

fn add_deciles(d: &mut Deciles, o: &Deciles) {
    for (p, x) in d.iter_mut().zip(o) {
        *p = (p.0 + x.0, p.1 + x.1, p.2 + x.2);
    }
}

fn count_decile(d: &mut Deciles, confidence: f64, correct: bool) {
    let bucket = ((confidence * 10.0) as usize).min(9);
    d[bucket].0 += 1;
    d[bucket].1 += confidence;
    d[bucket].2 += correct as usize;
}

/// The largest gap between mean confidence and share correct over the deciles with at least
/// 30 answers.
fn calibration_error(d: &Deciles) -> f64 {
    d.iter()
        .filter(|(n, _, _)| *n >= 30)
        .map(|(n, sum, ok)| (sum / *n as f64 - *ok as f64 / *n as f64).abs())
        .fold(0.0, f64::max)
}

/// The deciles that have answers, each with the 95% sampling interval of its share correct
/// (normal approximation): a gap between confidence and share within it may be chance alone.
fn deciles_json(d: &Deciles) -> Vec<Value> {
    d.iter()
        .enumerate()
        .filter(|(_, (n, _, _))| *n > 0)
        .map(|(i, (n, sum, ok))| {
            let share = *ok as f64 / *n as f64;
            let interval = 1.96 * (share * (1.0 - share) / *n as f64).sqrt();
            json!({"decile": i, "n": n, "meanConfidence": round4(sum / *n as f64), "shareCorrect": round4(share), "interval95": round4(interval)})
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    linked: usize,
    /// Linked to one of the browser's own visitor IDs.
    linked_right: usize,
    /// Linked to a visitor ID first given to this browser.
    linked_right_strict: usize,
    returns: usize,
    returns_found: usize,
    returns_found_strict: usize,
    ids: Vec<HashSet<String>>,
    /// (device, visitor) → (first day, last day)
    spans: HashMap<(usize, String), (f64, f64)>,
    /// per decile: (count, confidence sum, correct)
    deciles: Deciles,
    /// the same, for "new visitor" answers alone
    new_deciles: Deciles,
    /// visits that brought their own browser's token
    token_visits: usize,
    /// of those, the ones whose token was not trusted (every one a false rejection here: the
    /// synthetic traffic copies no token onto another browser)
    rejected_tokens: usize,
    /// Missed distinguishable returns: right visitor not retrieved; retrieved but ruled out;
    /// retrieved with positive evidence but not likely enough; linked elsewhere.
    missed: [usize; 4],
    /// Of those, the ones on the network their browser was last seen on.
    missed_same_network: usize,
    /// Token-less visits linked to another browser's visitor ID, by whether the browser was
    /// new (0, 1) or known (2, 3), and whether the ID's browser showed exactly the visit's
    /// fingerprint last (1, 3).
    wrong_links: [usize; 4],
    /// Of those, the ones whose visitor ID's browser was last seen on the visit's network.
    wrong_same_network: usize,
    visits_per_device: Vec<usize>,
    /// Per change since the browser's previous visit ("none" when nothing changed): what
    /// became of its visits.
    by_change: std::collections::BTreeMap<String, ChangeTally>,
    /// Answers not given by a token (a link by fingerprint or a new visitor), per decile: the
    /// token's answers are right nearly always and would hide these in the top decile.
    untokened_deciles: Deciles,
    /// Of those, the answers stated above 0.99: (count, wrong).
    above99: (usize, usize),
    /// Prynt's answers to token-less visits, for fitting its reference calibration.
    samples: Vec<reference::Sample>,
    /// Token-less visits that show exactly the latest fingerprint of one known browser, by
    /// that fingerprint: (distinguishable returns of that browser, new browsers). Nothing in
    /// the fingerprint tells the two apart (see [`fingerprint_only_ceiling`]).
    exact_matches: HashMap<u32, (usize, usize)>,
}

/// What became of the returns that followed one kind of change.
#[derive(Default, Clone, Copy)]
struct ChangeTally {
    /// Token-less returns: linked to one of the browser's own IDs, given a new ID, or linked
    /// to another browser's.
    kept: usize,
    split: usize,
    merged: usize,
    /// Returns with the browser's own token: trusted, or refused.
    token_kept: usize,
    token_refused: usize,
}

impl ChangeTally {
    fn json(&self) -> Value {
        let tokenless = self.kept + self.split + self.merged;
        json!({
            "tokenless": tokenless,
            "kept": self.kept,
            "split": self.split,
            "merged": self.merged,
            "keptShare": round4(self.kept as f64 / tokenless.max(1) as f64),
            "tokenVisits": self.token_kept + self.token_refused,
            "tokenRefused": self.token_refused,
        })
    }
}

impl Tally {
    /// Adds the tally of another workspace, whose devices are numbered after this one's.
    fn absorb(&mut self, o: Tally) {
        let offset = self.visits_per_device.len();
        self.linked += o.linked;
        self.linked_right += o.linked_right;
        self.linked_right_strict += o.linked_right_strict;
        self.returns += o.returns;
        self.returns_found += o.returns_found;
        self.returns_found_strict += o.returns_found_strict;
        self.ids.extend(o.ids);
        self.spans
            .extend(o.spans.into_iter().map(|((d, v), s)| ((d + offset, v), s)));
        add_deciles(&mut self.deciles, &o.deciles);
        add_deciles(&mut self.new_deciles, &o.new_deciles);
        add_deciles(&mut self.untokened_deciles, &o.untokened_deciles);
        self.token_visits += o.token_visits;
        self.rejected_tokens += o.rejected_tokens;
        for (a, b) in self.missed.iter_mut().zip(o.missed) {
            *a += b;
        }
        for (a, b) in self.wrong_links.iter_mut().zip(o.wrong_links) {
            *a += b;
        }
        self.wrong_same_network += o.wrong_same_network;
        self.missed_same_network += o.missed_same_network;
        self.visits_per_device.extend(o.visits_per_device);
        for (k, c) in o.by_change {
            let e = self.by_change.entry(k).or_default();
            e.kept += c.kept;
            e.split += c.split;
            e.merged += c.merged;
            e.token_kept += c.token_kept;
            e.token_refused += c.token_refused;
        }
        self.above99.0 += o.above99.0;
        self.above99.1 += o.above99.1;
        self.samples.extend(o.samples);
        for (k, (r, n)) in o.exact_matches {
            let e = self.exact_matches.entry(k).or_default();
            e.0 += r;
            e.1 += n;
        }
    }

    fn figures(&self) -> Value {
        // Browsers that visited at all (a recorded workspace may number its browsers sparsely).
        let devices = self.visits_per_device.iter().filter(|&&n| n > 0).count();
        let visits_per_device = &self.visits_per_device;
        let precision = self.linked_right as f64 / self.linked.max(1) as f64;
        let recall = self.returns_found as f64 / self.returns.max(1) as f64;
        let precision_strict = self.linked_right_strict as f64 / self.linked.max(1) as f64;
        let recall_strict = self.returns_found_strict as f64 / self.returns.max(1) as f64;
        let ids = self.ids.iter().map(HashSet::len).sum::<usize>() as f64 / devices.max(1) as f64;
        let mut best = vec![0.0f64; visits_per_device.len()];
        for ((d, _), (first, last)) in &self.spans {
            best[*d] = best[*d].max(last - first);
        }
        let tracked: Vec<f64> = best
            .iter()
            .zip(visits_per_device)
            .filter(|(_, n)| **n >= 2)
            .map(|(b, _)| *b)
            .collect();
        let tracking = tracked.iter().sum::<f64>() / tracked.len().max(1) as f64;
        let calibration = calibration_error(&self.deciles);
        let deciles = deciles_json(&self.deciles);
        json!({
            "precision": round4(precision),
            "recall": round4(recall),
            "idsPerDevice": round4(ids),
            "trackingDays": (tracking * 10.0).round() / 10.0,
            "calibrationError": round4(calibration),
            "precisionStrict": round4(precision_strict),
            "recallStrict": round4(recall_strict),
            "linkedTokenless": self.linked,
            "distinguishableReturns": self.returns,
            "wrongLinks": {
                "newBrowser": self.wrong_links[0] + self.wrong_links[1],
                "newBrowserTwin": self.wrong_links[1],
                "knownBrowser": self.wrong_links[2] + self.wrong_links[3],
                "knownBrowserTwin": self.wrong_links[3],
                "sameNetwork": self.wrong_same_network,
            },
            "missedReturns": {
                "sameNetwork": self.missed_same_network,
                "notRetrieved": self.missed[0],
                "ruledOut": self.missed[1],
                "belowThreshold": self.missed[2],
                "linkedElsewhere": self.missed[3],
            },
            "calibration": deciles,
            "calibrationNew": deciles_json(&self.new_deciles),
            "tokenVisits": self.token_visits,
            "rejectedTokens": self.rejected_tokens,
            "calibrationErrorUntokened": round4(calibration_error(&self.untokened_deciles)),
            "calibrationUntokened": deciles_json(&self.untokened_deciles),
            "above99": {
                "answers": self.above99.0,
                "wrong": self.above99.1,
                "wrongShare": round4(self.above99.1 as f64 / self.above99.0.max(1) as f64),
            },
            "byChange": self.by_change.iter().map(|(k, c)| (k.clone(), c.json())).collect::<serde_json::Map<_, _>>(),
            "fingerprintOnlyCeiling": {
                "exactReturns": self.exact_matches.values().map(|e| e.0).sum::<usize>(),
                "newTwins": self.exact_matches.values().map(|e| e.1).sum::<usize>(),
                "precisionAtRecall90": round4(fingerprint_only_ceiling(&self.exact_matches, self.returns, 0.90)),
                "precisionAtThisRecall": round4(fingerprint_only_ceiling(&self.exact_matches, self.returns, recall)),
            },
        })
    }
}

/// The best precision at `recall` of any matcher whose answer to a visit that shows exactly
/// one known browser's latest fingerprint depends on that fingerprint alone (not on when, how
/// often or how each browser visited): an upper bound, taking every other return as found and
/// every other link as right. Such a matcher links all or none of the visits showing one
/// fingerprint, the browser's unchanged returns and the new browsers identical to it alike; at
/// best it links the fingerprints with the fewest new twins per return first, until enough
/// returns are found.
fn fingerprint_only_ceiling(
    exact: &HashMap<u32, (usize, usize)>,
    returns: usize,
    recall: f64,
) -> f64 {
    let needed = recall * returns as f64;
    if needed <= 0.0 {
        return 1.0;
    }
    let in_classes: usize = exact.values().map(|e| e.0).sum();
    let mut found = (returns - in_classes.min(returns)) as f64;
    let mut classes: Vec<(usize, usize)> = exact.values().copied().filter(|e| e.0 > 0).collect();
    // Fewest new twins per return first.
    classes.sort_by(|a, b| (a.1 * b.0).cmp(&(b.1 * a.0)));
    let mut wrong = 0.0;
    for (r, n) in classes {
        if found >= needed {
            break;
        }
        let take = ((needed - found) / r as f64).min(1.0);
        found += take * r as f64;
        wrong += take * n as f64;
    }
    needed / (needed + wrong)
}

/// How many components differ, the browser version counting as one.
fn distance(a: &Fingerprint, b: &Fingerprint) -> usize {
    a.h.iter().zip(&b.h).filter(|(x, y)| x != y).count()
        + usize::from(a.browser_major != b.browser_major)
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Plays the population of `o.seed`: each visit in time order, with what the agent measured
/// and the fingerprint, after the browser drifted since its previous visit. Returns the
/// number of visits.
fn replay(
    o: &Options,
    parser: &DeviceParser,
    mut f: impl FnMut(&Visit, &Components, Fingerprint),
) -> usize {
    let mut pop = population(o);
    let mut rng = Rng::new(o.seed ^ 0xABCD);
    let n = pop.devices.len();
    let mut seen = vec![false; n];
    let mut last_day = vec![0.0f64; n];
    let visits = std::mem::take(&mut pop.visits);
    for v in &visits {
        let i = v.device;
        if seen[i] {
            let gap = v.day - last_day[i];
            synth::drift(
                &mut pop.devices[i],
                &mut rng,
                gap,
                pop.second_screens[i],
                pop.home_screens[i],
            );
        }
        let c = pop.devices[i].components_at(v.travel);
        let fp = super::fingerprint(parser, &c);
        f(v, &c, fp);
        seen[i] = true;
        last_day[i] = v.day;
    }
    visits.len()
}

/// A visit's time in milliseconds.
fn at_ms(v: &Visit) -> i64 {
    (v.day * 86_400_000.0) as i64
}

/// One run of `m` over the population of `o.seed`: its figures, the number of visits, and its
/// calibration deciles.
fn simulate(o: &Options, parser: &DeviceParser, m: &mut dyn Matcher) -> (Value, usize, Deciles) {
    let (t, visits) = play(o.browsers, m, |f| replay(o, parser, f));
    (t.figures(), visits, t.deciles)
}

/// One workspace of `n` browsers whose visits, in time order, `visits` hands to its callback
/// (returning how many there were), identified by `m`: the tally and the number of visits.
fn play(
    n: usize,
    m: &mut dyn Matcher,
    visits: impl FnOnce(&mut dyn FnMut(&Visit, &Components, Fingerprint)) -> usize,
) -> (Tally, usize) {
    let mut stored: Vec<Option<String>> = vec![None; n];
    let mut seen = vec![false; n];
    let mut visits_per_device = vec![0usize; n];
    let mut owner: HashMap<String, usize> = HashMap::new();
    // Each browser's latest fingerprint, for telling which returns are distinguishable.
    let mut latest: Vec<Option<Fingerprint>> = vec![None; n];
    // And the network it was last seen on.
    let mut latest_net = vec![0u32; n];
    let mut known: Vec<usize> = Vec::new();
    let mut t = Tally {
        ids: vec![HashSet::new(); n],
        ..Default::default()
    };
    let mut next_id = 0u64;
    let mut last_id: Vec<Option<String>> = vec![None; n];
    let visits = visits(&mut |v, c, fp| {
        let i = v.device;
        let claimed = if v.tokenless { None } else { stored[i].clone() };
        let at_ms = at_ms(v);
        let index_size = m.known();
        let d = m.decide(c, &fp, claimed.as_deref(), at_ms);
        let was_seen = seen[i];
        // The visitor ID the browser's cookie held before this visit (or, for a browser seen
        // only in private windows, its latest one): the truth the visit is scored against.
        let truth = stored[i].clone().or_else(|| last_id[i].clone());
        let first_owner =
            |id: &Option<String>| id.as_ref().and_then(|id| owner.get(id)) == Some(&i);
        // One of the browser's own visitor IDs: first given to it, or held by its cookie.
        let own = |id: &Option<String>| id.is_some() && (*id == truth || first_owner(id));

        // Ground truth bookkeeping.
        let distinguishable = v.tokenless
            && latest[i].is_some_and(|own| {
                let d_own = distance(&fp, &own);
                known.iter().all(|&j| {
                    j == i
                        || latest[j].is_none_or(|other| {
                            other.browser_major > fp.browser_major || distance(&fp, &other) > d_own
                        })
                })
            });
        // A visit showing exactly the latest fingerprint of one known browser: that browser
        // unchanged (a distinguishable return is nearer its own than any other, so no other
        // shows it), or a new browser identical to it.
        // The device alone: the truth of what a fingerprint can tell apart leaves the network
        // out.
        let device = fp.with_network(None);
        if distinguishable && latest[i] == Some(device) {
            t.exact_matches.entry(fp.exact()).or_default().0 += 1;
        } else if v.tokenless && !was_seen {
            let mut same = known.iter().filter(|&&j| latest[j] == Some(device));
            if let (Some(_), None) = (same.next(), same.next()) {
                t.exact_matches.entry(fp.exact()).or_default().1 += 1;
            }
        }
        if v.tokenless && d.method == Method::Fingerprint {
            t.linked += 1;
            t.linked_right += own(&d.visitor_id) as usize;
            t.linked_right_strict += first_owner(&d.visitor_id) as usize;
            if !own(&d.visitor_id) {
                // Whose visitor ID it was given, and whether that browser's latest fingerprint
                // is the visit's own: a twin nothing observed could tell apart.
                let linked = d.visitor_id.as_ref().and_then(|id| owner.get(id));
                let twin = linked
                    .and_then(|&j| latest[j])
                    .is_some_and(|other| other == device);
                let k = usize::from(was_seen) * 2 + usize::from(twin);
                t.wrong_links[k] += 1;
                t.wrong_same_network +=
                    usize::from(fp.net != 0 && linked.is_some_and(|&j| latest_net[j] == fp.net));
            }
        }
        if distinguishable {
            t.returns += 1;
            let linked = d.method == Method::Fingerprint;
            let found = linked && own(&d.visitor_id);
            t.returns_found += found as usize;
            t.returns_found_strict += (linked && first_owner(&d.visitor_id)) as usize;
            if !found {
                let kind = if d.method == Method::Fingerprint {
                    Some(3)
                } else {
                    last_id[i]
                        .as_deref()
                        .and_then(|own| m.explain(&fp, own, at_ms))
                        .map(|(retrieved, ev)| match (retrieved, ev) {
                            (false, _) => 0,
                            (true, None) => 1,
                            (true, Some(_)) => 2,
                        })
                };
                if let Some(k) = kind {
                    t.missed[k] += 1;
                    t.missed_same_network += usize::from(fp.net != 0 && latest_net[i] == fp.net);
                }
            }
        }
        let correct = match &d.visitor_id {
            Some(_) => own(&d.visitor_id),
            None => !was_seen,
        };
        count_decile(&mut t.deciles, d.confidence, correct);
        // What the reference calibration maps: links, and new-visitor answers to visits
        // without a token (an untrusted token's answer states a probability of its own).
        let answer = match (d.method, claimed.is_some()) {
            (Method::Fingerprint, _) => Some(reference::Answer::Link),
            (Method::New, false) => Some(reference::Answer::New),
            _ => None,
        };
        if let (Some(answer), Some((known, return_rate))) = (answer, index_size) {
            // The first visit of a workspace is new for certain, and stated so.
            if known > 0 {
                t.samples.push(reference::Sample {
                    answer,
                    known,
                    return_rate,
                    raw: d.confidence,
                    right: correct,
                });
            }
        }
        if d.method != Method::Token {
            count_decile(&mut t.untokened_deciles, d.confidence, correct);
            if d.confidence > 0.99 {
                t.above99.0 += 1;
                t.above99.1 += (!correct) as usize;
            }
        }
        if was_seen {
            let none = ["none".to_owned()];
            let kinds = if v.changes.is_empty() {
                &none[..]
            } else {
                &v.changes[..]
            };
            for k in kinds {
                let e = t.by_change.entry(k.clone()).or_default();
                match (claimed.is_some(), d.method, correct) {
                    (true, Method::Token, _) => e.token_kept += 1,
                    (true, _, _) => e.token_refused += 1,
                    (false, Method::New, _) => e.split += 1,
                    (false, _, true) => e.kept += 1,
                    (false, _, false) => e.merged += 1,
                }
            }
        }
        if d.method == Method::New {
            count_decile(&mut t.new_deciles, d.confidence, correct);
        }
        if claimed.is_some() {
            t.token_visits += 1;
            t.rejected_tokens += (d.method != Method::Token) as usize;
        }

        let visitor = d.visitor_id.clone().unwrap_or_else(|| {
            next_id += 1;
            let id = format!("pv_{next_id:013}");
            owner.insert(id.clone(), i);
            id
        });
        m.record(&visitor, d.method, c, &fp, at_ms);
        t.ids[i].insert(visitor.clone());
        last_id[i] = Some(visitor.clone());
        let span = t
            .spans
            .entry((i, visitor.clone()))
            .or_insert((v.day, v.day));
        span.1 = v.day;
        if !v.incognito {
            stored[i] = Some(visitor);
        }
        latest_net[i] = fp.net;
        if latest[i].replace(device).is_none() {
            known.push(i);
        }
        seen[i] = true;
        visits_per_device[i] += 1;
    });
    t.visits_per_device = visits_per_device;
    (t, visits)
}

/// FP-Stalker's hybrid: its forest trained on a run of the training seed, labelled by the
/// truth, then run on the population of `o.seed`. Its figures, with the forest's training and
/// how the visits that reached the forest were answered.
fn hybrid_baseline(o: &Options, parser: &DeviceParser) -> Value {
    let at = std::time::Instant::now();
    let mut attrs = Attributes::default();
    let mut training = Vec::new();
    let train_o = Options {
        seed: fp_stalker::TRAINING_SEED,
        params: o.params.clone(),
        ..*o
    };
    replay(&train_o, parser, |v, c, fp| {
        training.push((v.device, attrs.print(c, &fp, at_ms(v))))
    });
    let (mut m, trained) = Hybrid::train(&training, attrs);
    drop(training);
    let train_s = at.elapsed().as_secs_f64();
    let at = std::time::Instant::now();
    let (mut f, _, _) = simulate(o, parser, &mut m);
    let out = m.outcomes;
    if let Some(h) = f.as_object_mut() {
        h.insert("seconds".into(), json!(round1(at.elapsed().as_secs_f64())));
        h.insert(
            "forest".into(),
            forest_json(
                &trained,
                ("trainingSeed", json!(trained.seed)),
                round1(train_s),
            ),
        );
        h.insert(
            "scored".into(),
            json!({
                "linked": out.linked,
                "belowLambda": out.below_lambda,
                "withinDiff": out.too_close,
                "bestTiedAcrossIds": out.tied_ids,
            }),
        );
    }
    f
}

/// What FP-Stalker's hybrid forest was trained on (`source`: the training seed or population)
/// and its thresholds.
fn forest_json(trained: &fp_stalker::Training, source: (&str, Value), seconds: f64) -> Value {
    let mut f = json!({
        "positivePairs": trained.positives,
        "negativePairs": trained.negatives,
        "trees": trained.trees,
        "nodes": trained.nodes,
        "lambda": fp_stalker::LAMBDA,
        "diff": fp_stalker::DIFF,
        "trainingSeconds": seconds,
    });
    if let Some(o) = f.as_object_mut() {
        o.insert(source.0.into(), source.1);
    }
    f
}

/// One line per decile of a `deciles_json` table.
fn decile_lines(deciles: &Value) -> String {
    deciles
        .as_array()
        .map(|d| {
            d.iter()
                .map(|x| {
                    format!(
                        "  decile {}: n {}, mean confidence {}, share correct {} ± {}",
                        x["decile"],
                        x["n"],
                        x["meanConfidence"],
                        x["shareCorrect"],
                        x["interval95"]
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

pub fn run(o: Options) -> Result<(), BenchError> {
    let parser = DeviceParser::shared().map_err(BenchError::Runtime)?;
    let started = std::time::Instant::now();
    let prynt_run = |o: &Options| simulate(o, parser, &mut Prynt::new(o.params.clone()));
    let timed = |f: &mut dyn FnMut() -> (Value, usize, Deciles)| {
        let at = std::time::Instant::now();
        let r = f();
        (r, round1(at.elapsed().as_secs_f64()))
    };
    let ((prynt, visits, mut pooled), prynt_s) = timed(&mut || prynt_run(&o));
    let ((exact, _, _), exact_s) = timed(&mut || simulate(&o, parser, &mut ExactHash::default()));
    let ((mut rules, _, _), rules_s) =
        timed(&mut || simulate(&o, parser, &mut RuleBased::default()));
    if let Some(r) = rules.as_object_mut() {
        r.insert("seconds".into(), json!(rules_s));
    }
    let hybrid = hybrid_baseline(&o, parser);
    for k in 1..o.runs {
        let (_, _, d) = prynt_run(&Options {
            seed: o.seed.wrapping_add(k),
            params: o.params.clone(),
            ..o
        });
        for (p, x) in pooled.iter_mut().zip(d) {
            *p = (p.0 + x.0, p.1 + x.1, p.2 + x.2);
        }
    }
    let row = |name: &str, f: &Value| {
        format!(
            "{name:<16} {:>9} {:>7} {:>8} {:>9} {:>12}",
            f["precision"],
            f["recall"],
            f["idsPerDevice"],
            f["trackingDays"],
            f["calibrationError"]
        )
    };
    let table = [
        format!(
            "accuracy: {} browsers, {} days, {visits} visits, seed {}, {:.0}% cleared storage, {:.0}% private windows ({:.1} s)",
            o.browsers,
            o.days,
            o.seed,
            o.clear_rate * 100.0,
            o.incognito_rate * 100.0,
            started.elapsed().as_secs_f64()
        ),
        format!("{:<16} {:>9} {:>7} {:>8} {:>9} {:>12}", "matcher", "precision", "recall", "ids/dev", "track d", "calibration"),
        row("prynt", &prynt),
        row("exactHash", &exact),
        row("fpStalkerRules", &rules),
        row("fpStalkerHybrid", &hybrid),
        format!(
            "run times: prynt {prynt_s} s, exactHash {exact_s} s, fpStalkerRules {rules_s} s, fpStalkerHybrid {} s (its forest: {} positive and {} negative pairs of seed {}, {} s)",
            hybrid["seconds"],
            hybrid["forest"]["positivePairs"],
            hybrid["forest"]["negativePairs"],
            hybrid["forest"]["trainingSeed"],
            hybrid["forest"]["trainingSeconds"]
        ),
    ]
    .join("\n");
    let (all, new) = (
        decile_lines(&prynt["calibration"]),
        decile_lines(&prynt["calibrationNew"]),
    );
    let tokens = format!(
        "prynt tokens: {} of {} token visits not trusted",
        prynt["rejectedTokens"], prynt["tokenVisits"]
    );
    let mut table = format!(
        "{table}\nprynt calibration (± the 95% sampling interval):\n{all}\nprynt calibration, new-visitor answers:\n{new}\n{tokens}"
    );
    let mut out = prynt.clone();
    if let Some(obj) = out.as_object_mut() {
        if o.runs > 1 {
            let last = o.seed.wrapping_add(o.runs - 1);
            let pooled = json!({
                "runs": o.runs,
                "seeds": [o.seed, last],
                "calibrationError": round4(calibration_error(&pooled)),
                "calibration": deciles_json(&pooled),
            });
            table = format!(
                "{table}\nprynt calibration pooled over seeds {} to {last}: largest gap {}\n{}",
                o.seed,
                pooled["calibrationError"],
                decile_lines(&pooled["calibration"])
            );
            obj.insert("pooled".into(), pooled);
        }
        obj.insert(
            "baselines".into(),
            json!({ "exactHash": exact, "fpStalkerRules": rules, "fpStalkerHybrid": hybrid }),
        );
    }
    super::emit(&table, out);
    Ok(())
}

/// `prynt-bench accuracy --population FILE`: the same matchers and figures on a recorded
/// population (see [`super::recorded`]), each workspace identified from scratch and the
/// figures summed over workspaces; the hybrid's forest is trained on `training`, another
/// population of the same generator.
pub struct RecordedOptions {
    pub population: std::path::PathBuf,
    pub training: std::path::PathBuf,
    /// Prynt's settings.
    pub params: ModelParams,
}

/// `m` over every workspace of `pop`, each from scratch.
fn play_recorded(pop: &Recorded, m: &mut dyn Matcher) -> Tally {
    let mut total = Tally::default();
    for ws in &pop.workspaces {
        m.forget();
        let (t, _) = play(pop.browsers, m, |f| {
            for r in ws {
                f(&r.visit, &r.components, r.fingerprint);
            }
            ws.len()
        });
        total.absorb(t);
    }
    total
}

/// One line per change kind: how many token-less returns followed it and what share of them
/// each matcher kept under the browser's own visitor ID.
fn change_lines(rows: &[(&str, &Value)]) -> String {
    let Some(kinds) = rows.first().and_then(|(_, f)| f["byChange"].as_object()) else {
        return String::new();
    };
    let mut out = vec![format!(
        "{:<20} {:>8} {:>8} {:>7} {:>7} {:>9}  {}",
        "change",
        "returns",
        "kept",
        "split",
        "merged",
        "tokens-",
        rows[1..]
            .iter()
            .map(|(n, _)| format!("{n:>15}"))
            .collect::<Vec<_>>()
            .join(" ")
    )];
    for (kind, c) in kinds {
        let others = rows[1..]
            .iter()
            .map(|(_, f)| format!("{:>15}", f["byChange"][kind]["keptShare"]))
            .collect::<Vec<_>>()
            .join(" ");
        out.push(format!(
            "{kind:<20} {:>8} {:>8} {:>7} {:>7} {:>9}  {others}",
            c["tokenless"],
            c["keptShare"],
            c["split"],
            c["merged"],
            format!("{}/{}", c["tokenRefused"], c["tokenVisits"]),
        ));
    }
    out.join("\n")
}

pub fn run_recorded(o: RecordedOptions) -> Result<(), BenchError> {
    let parser = DeviceParser::shared().map_err(BenchError::Runtime)?;
    let started = std::time::Instant::now();
    let pop = recorded::load(&o.population, parser)?;
    let train = recorded::load(&o.training, parser)?;
    let loaded_s = round1(started.elapsed().as_secs_f64());
    let timed = |m: &mut dyn Matcher| {
        let at = std::time::Instant::now();
        let t = play_recorded(&pop, m);
        let mut f = t.figures();
        if let Some(h) = f.as_object_mut() {
            h.insert("seconds".into(), json!(round1(at.elapsed().as_secs_f64())));
        }
        f
    };
    let prynt = timed(&mut Prynt::new(o.params.clone()));
    // The same model without the network, on the same visits: what the network adds. Its
    // stated confidence is read through the reference table fitted with the network.
    let fingerprint_only = timed(&mut Prynt::new(ModelParams {
        network: false,
        ..o.params.clone()
    }));
    let exact = timed(&mut ExactHash::default());
    let rules = timed(&mut RuleBased::default());
    let at = std::time::Instant::now();
    let mut attrs = Attributes::default();
    let mut prints = Vec::new();
    for (w, ws) in train.workspaces.iter().enumerate() {
        for r in ws {
            let p = attrs.print(&r.components, &r.fingerprint, at_ms(&r.visit));
            prints.push((w * train.browsers + r.visit.device, p));
        }
    }
    let (mut h, trained) = Hybrid::train(&prints, attrs);
    drop(prints);
    let train_s = round1(at.elapsed().as_secs_f64());
    let mut hybrid = timed(&mut h);
    if let Some(f) = hybrid.as_object_mut() {
        f.insert(
            "forest".into(),
            forest_json(
                &trained,
                ("trainingPopulation", train.meta.clone()),
                train_s,
            ),
        );
    }
    let row = |name: &str, f: &Value| {
        format!(
            "{name:<16} {:>9} {:>7} {:>8} {:>9} {:>12} {:>9}",
            f["precision"],
            f["recall"],
            f["idsPerDevice"],
            f["trackingDays"],
            f["calibrationErrorUntokened"],
            f["above99"]["wrongShare"],
        )
    };
    let rows = [
        ("prynt", &prynt),
        ("fingerprintOnly", &fingerprint_only),
        ("exactHash", &exact),
        ("fpStalkerRules", &rules),
        ("fpStalkerHybrid", &hybrid),
    ];
    let browsers: usize = pop
        .workspaces
        .iter()
        .map(|ws| {
            ws.iter()
                .map(|r| r.visit.device)
                .collect::<HashSet<_>>()
                .len()
        })
        .sum();
    let mut table = vec![
        format!(
            "accuracy on {}: {} workspaces, {browsers} browsers, {} visits (loaded in {loaded_s} s)",
            o.population.display(),
            pop.workspaces.len(),
            pop.visits(),
        ),
        format!(
            "{:<16} {:>9} {:>7} {:>8} {:>9} {:>12} {:>9}",
            "matcher", "precision", "recall", "ids/dev", "track d", "calibration", ">0.99 bad"
        ),
    ];
    table.extend(rows.iter().map(|(n, f)| row(n, f)));
    table.push(format!(
        "run times: prynt {} s, fingerprintOnly {} s, exactHash {} s, fpStalkerRules {} s, fpStalkerHybrid {} s (forest trained in {train_s} s)",
        prynt["seconds"], fingerprint_only["seconds"], exact["seconds"], rules["seconds"], hybrid["seconds"]
    ));
    table.push("token-less returns after each change (prynt kept share, split, merged; tokens refused), and the baselines' kept share:".into());
    table.push(change_lines(&rows));
    table.push(format!(
        "prynt calibration of the answers not given by a token (± the 95% sampling interval), largest gap {}:\n{}\nprynt calibration, new-visitor answers:\n{}",
        prynt["calibrationErrorUntokened"],
        decile_lines(&prynt["calibrationUntokened"]),
        decile_lines(&prynt["calibrationNew"])
    ));
    let mut out = prynt.clone();
    if let Some(obj) = out.as_object_mut() {
        obj.insert("population".into(), pop.meta.clone());
        obj.insert("workspaces".into(), json!(pop.workspaces.len()));
        obj.insert("browsers".into(), json!(browsers));
        obj.insert("visits".into(), json!(pop.visits()));
        obj.insert(
            "baselines".into(),
            json!({
                "fingerprintOnly": fingerprint_only,
                "exactHash": exact,
                "fpStalkerRules": rules,
                "fpStalkerHybrid": hybrid,
            }),
        );
    }
    super::emit(&table.join("\n"), out);
    Ok(())
}

/// `prynt-bench fit-calibration`: Prynt on each of `populations` with the reference
/// calibration off, every workspace from scratch, and the reference tables fitted to how often
/// its raw confidence was right (see `prynt_identify::reference`), written as the Rust source
/// of `reference_table.rs` to `out`.
pub struct FitOptions {
    pub populations: Vec<std::path::PathBuf>,
    pub out: std::path::PathBuf,
    /// Also every answer fitted on, as CSV (population, answer, known, rate, raw, right).
    pub samples: Option<std::path::PathBuf>,
}

pub fn run_fit(o: FitOptions) -> Result<(), BenchError> {
    let parser = DeviceParser::shared().map_err(BenchError::Runtime)?;
    let mut link = reference::Counts::default();
    let mut new = reference::Counts::default();
    let mut provenance = vec![
        "Fitted by `prynt-bench fit-calibration` on Prynt's raw answers to the token-less visits"
            .to_owned(),
        "of these populations (browser-tests/population.mjs), each workspace from scratch:"
            .to_owned(),
    ];
    let raw = ModelParams {
        reference_calibration: false,
        ..ModelParams::default()
    };
    let mut per_population = Vec::new();
    let mut csv = String::from("population,answer,known,rate,raw,right\n");
    for path in &o.populations {
        let pop = recorded::load(path, parser)?;
        let t = play_recorded(&pop, &mut Prynt::new(raw.clone()));
        for s in &t.samples {
            match s.answer {
                reference::Answer::Link => link.add(s),
                reference::Answer::New => new.add(s),
            }
        }
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if o.samples.is_some() {
            for s in &t.samples {
                csv.push_str(&format!(
                    "{name},{},{},{:.4},{:.6},{}\n",
                    s.answer.as_str(),
                    s.known,
                    s.return_rate,
                    s.raw,
                    u8::from(s.right)
                ));
            }
        }
        provenance.push(format!(
            "- {name}: {} workspaces of {} browsers, {} answers",
            pop.workspaces.len(),
            pop.browsers,
            t.samples.len()
        ));
        per_population.push(json!({
            "population": path.display().to_string(),
            "answers": t.samples.len(),
        }));
    }
    if let Some(path) = &o.samples {
        std::fs::write(path, &csv)
            .map_err(|e| BenchError::Runtime(format!("writing {}: {e}", path.display())))?;
    }
    let (link_table, new_table) = (link.fit(), new.fit());
    let source = reference::source(&link_table, &new_table, &provenance);
    std::fs::write(&o.out, source)
        .map_err(|e| BenchError::Runtime(format!("writing {}: {e}", o.out.display())))?;
    let band_answers = |c: &reference::Counts| -> Vec<f64> {
        c.answers.iter().map(|row| row.iter().sum()).collect()
    };
    super::emit(
        &format!(
            "reference calibration fitted on {} populations, written to {}",
            o.populations.len(),
            o.out.display()
        ),
        json!({
            "populations": per_population,
            "linkAnswersPerRow": band_answers(&link),
            "newAnswersPerRow": band_answers(&new),
        }),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_only_ceiling_links_the_fingerprints_with_fewest_twins_first() {
        // 100 returns, 30 of them unchanged returns showing one of three fingerprints: one
        // no new browser shares, one that ten new browsers share, one that one shares.
        let exact = HashMap::from([(1, (10, 0)), (2, (10, 10)), (3, (10, 1))]);
        let at = |recall| fingerprint_only_ceiling(&exact, 100, recall);
        // 70 found elsewhere; 90 needs the first and the third: one wrong link.
        assert!((at(0.90) - 90.0 / 91.0).abs() < 1e-12, "{}", at(0.90));
        // 95 needs half the second's too: five more.
        assert!((at(0.95) - 95.0 / 101.0).abs() < 1e-12, "{}", at(0.95));
        // Found elsewhere already: no exact match need be linked.
        assert_eq!(at(0.70), 1.0);
        assert_eq!(fingerprint_only_ceiling(&HashMap::new(), 0, 0.9), 1.0);
    }
}
