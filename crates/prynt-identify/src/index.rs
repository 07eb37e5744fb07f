//! The matching index of one workspace environment: every known visitor's latest fingerprint,
//! found again by locality-sensitive bands and scored by the [`ModelParams`] likelihood model.
//!
//! Candidate retrieval: each fingerprint is filed under a few band keys, each a hash of a small
//! group of components that rarely change together. A returning browser whose drift broke some
//! bands still shares another. Members of very large bands (crowds of identical devices) are
//! not all scored; they are counted as competitors, which lowers the confidence instead of
//! letting the matcher guess.
//!
//! Memory: about 108 bytes of profile and counts, 40 to 80 bytes of band postings, 20 to 40
//! bytes of visitor lookup and up to 30 bytes of device-class and twin counts per visitor, plus
//! fixed-size value sketches.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::calibration::{gap_class, Calibration, GAP_CLASSES};
use crate::fingerprint::{hash32, Comp, Fingerprint, N_COMP};
use crate::model::{ModelParams, Prepared, CONDITIONS, RETURN_RATE_BOUNDS, STACK_KEY};
use crate::reference;
use crate::sketch::CountMin;

const BANDS: [&[Comp]; 4] = [
    &[Comp::Render, Comp::Os, Comp::Browser],
    &[
        Comp::Gpu,
        Comp::Screen,
        Comp::Languages,
        Comp::Timezone,
        Comp::Os,
        Comp::Browser,
    ],
    &[
        Comp::Fonts,
        Comp::Languages,
        Comp::Platform,
        Comp::Hardware,
        Comp::Browser,
    ],
    &[Comp::UaShape, Comp::Languages, Comp::Caps, Comp::Display],
];
const N_BANDS: usize = BANDS.len();
/// Most members of one band scored individually.
const CROWD_SCAN: usize = 32;
/// Marks a posting that points into `overflow` instead of at a single slot.
const TAG: u32 = 1 << 31;
/// Length of a visitor id's random part (`pv_` + 13 base62).
const VID_LEN: usize = 13;

#[derive(Clone, Copy)]
struct Slot {
    visitor: [u8; VID_LEN],
    alive: bool,
    fp: Fingerprint,
    /// The visitor's visits, each weighted by `exp((t - epoch) / half-life·ln 2)`: how
    /// active the visitor is, relative to every other (see [`Index::activity_share`]).
    activity: f64,
    /// When the visitor was last seen (ms): how long its fingerprint has had to drift.
    last_ms: i64,
    /// How often it comes back without a token (see [`Index::arrival_prior`]).
    returns: Returns,
}

/// A visitor's visits after the first, and those of them recognised without a token.
#[derive(Clone, Copy, Default, Debug, PartialEq)]
struct Returns {
    returns: u32,
    matched: u32,
}

impl Returns {
    /// From the store's counts: `visits` in all, `matched` of them recognised by fingerprint
    /// (never more than the returns).
    fn stored(visits: u64, matched: u64) -> Self {
        let returns = visits.saturating_sub(1).min(u32::MAX as u64) as u32;
        Returns {
            returns,
            matched: matched.min(returns as u64) as u32,
        }
    }
}

/// What a recorded visit does to the visitor's [`Returns`].
enum Counts {
    /// Adds to a known visitor's; a new visitor's first visit is not a return.
    Add(Returns),
    /// Become these, as the store holds them.
    Set(Returns),
}

/// Confidence reported for a visit recognised by its token and consistent with its device.
pub const TOKEN_CONFIDENCE: f64 = 0.999;

/// How a visit was identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A trusted visitor token.
    Token,
    /// Fuzzy matching of the fingerprint.
    Fingerprint,
    /// Nobody known is likely enough: a new visitor.
    New,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Token => "token",
            Method::Fingerprint => "fingerprint",
            Method::New => "new",
        }
    }
}

/// How a visit compares with the known browsers.
struct Ranking {
    /// log of Σ prior share × likelihood ratio over the known browsers: the log Bayes factor of
    /// "one of them" against "a new browser".
    score: f64,
    /// The likeliest known browser and its share of that sum.
    top: Option<(u32, f64)>,
}

/// Every retrieved candidate of a visit, scored.
struct Scored {
    /// (slot, evidence plus the log of its prior share, or `None` when it cannot be the same
    /// browser; the crowd bands that alone retrieved it, as a bit set).
    scored: Vec<(u32, Option<f64>, u8)>,
    /// (crowd band, members left unscored).
    crowds: Vec<(usize, usize)>,
}

impl Scored {
    /// How the visit compares with the known browsers, leaving out `exclude`.
    fn ranking(&self, exclude: Option<u32>) -> Ranking {
        let kept = || self.scored.iter().filter(move |e| Some(e.0) != exclude);
        // Best (slot, weight): the first of the largest in slot order.
        let mut best: Option<(u32, f64)> = None;
        // Per crowd band: summed prior-weighted likelihood ratio and number of its sampled
        // members that no other band retrieved.
        let mut crowd_seen = [(0.0f64, 0usize); N_BANDS];
        for &(slot, weight, bands) in kept() {
            if let Some(w) = weight {
                if best.is_none_or(|(_, b)| w > b) {
                    best = Some((slot, w));
                }
            }
            for (band, seen) in crowd_seen.iter_mut().enumerate() {
                if bands & (1 << band) != 0 {
                    seen.0 += weight.map_or(0.0, f64::exp);
                    seen.1 += 1;
                }
            }
        }
        let extra: f64 = self
            .crowds
            .iter()
            .filter(|(band, _)| crowd_seen[*band].1 > 0)
            .map(|&(band, unscanned)| {
                unscanned as f64 * crowd_seen[band].0 / crowd_seen[band].1 as f64
            })
            .sum();
        let Some((top, max)) = best else {
            return Ranking {
                score: f64::NEG_INFINITY,
                top: None,
            };
        };
        // log Σ exp(w) over the scored and the unscanned, relative to the largest weight.
        let mass: f64 = kept()
            .filter_map(|e| e.1)
            .map(|w| (w - max).exp())
            .sum::<f64>()
            + if extra > 0.0 {
                (extra.ln() - max).exp()
            } else {
                0.0
            };
        Ranking {
            score: max + mass.ln(),
            top: Some((top, 1.0 / mass)),
        }
    }
}

/// The identification of one visit.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The known visitor, or `None` for a new one.
    pub visitor_id: Option<String>,
    pub confidence: f64,
    pub method: Method,
}

impl Decision {
    /// The visitor a trusted token names.
    pub fn token(visitor_id: &str) -> Self {
        Decision {
            visitor_id: Some(visitor_id.to_owned()),
            confidence: TOKEN_CONFIDENCE,
            method: Method::Token,
        }
    }

    /// A known visitor recognised by the fingerprint.
    pub fn matched(visitor_id: String, confidence: f64) -> Self {
        Decision {
            visitor_id: Some(visitor_id),
            confidence,
            method: Method::Fingerprint,
        }
    }

    /// A new visitor; `confidence` is the probability that the browser really is new.
    pub fn new_visitor(confidence: f64) -> Self {
        Decision {
            visitor_id: None,
            confidence,
            method: Method::New,
        }
    }
}

/// How a visit that reaches fingerprint matching arrived.
#[derive(Clone, Copy, PartialEq)]
enum Arrival {
    /// Without a token, or with one naming no known visitor.
    TokenLess,
    /// With a signed token of a known visitor that the fingerprint does not let be trusted:
    /// with this evidence for that visitor, too low, or `None` for a change its browser cannot
    /// make.
    UntrustedToken(Option<f64>),
}

/// Tokens naming a known visitor: all of them, and those whose fingerprint its browser cannot
/// have produced (ruled out).
///
/// An untrusted token is not a token-less visit: it is left out of the token-less visits from
/// which the calibration learns how new browsers score. Its browser is nearly always one the
/// token was given to: drifted far, or sharing the visitor ID with another browser after a
/// wrong link, so that the visitor's last fingerprint is the other one's. Its returns would
/// stand for returns that score low more often than labelled returns do, and the calibration
/// would take them for new browsers. The probability that such a browser is new is the
/// probability that the token was carried there from another browser, by Bayes' rule from c,
/// the share of tokens copied ([`ModelParams::token_copy_rate`]): where the fingerprint has
/// evidence e for the token's visitor (a log likelihood ratio of that browser against another),
/// the log odds of a copy are logit(c) - e; where it is ruled out, a copy always is and the
/// token's own browsers are in a learnt share q of token visits, so P(copied) = c / (c + (1 - c) q).
#[derive(Default)]
struct TokenCounts {
    checked: AtomicU64,
    ruled_out: AtomicU64,
}

impl TokenCounts {
    fn copied_given_untrusted(&self, evidence: Option<f64>, copy_rate: f64) -> f64 {
        let c = copy_rate.clamp(1e-12, 1.0 - 1e-12);
        match evidence {
            Some(e) => sigmoid((c / (1.0 - c)).ln() - e),
            None => {
                let q = (self.ruled_out.load(Ordering::Relaxed) as f64 + 0.5)
                    / (self.checked.load(Ordering::Relaxed) as f64 + 1.0);
                c / (c + (1.0 - c) * q)
            }
        }
    }
}

/// How often the workspace's browsers come back from the network of their previous visit, and,
/// when not, from the network they were on before that, per gap class: learnt from token
/// visits, whose browser is known.
#[derive(Default)]
struct NetworkKept {
    kept: [AtomicU64; GAP_CLASSES],
    seen: [AtomicU64; GAP_CLASSES],
    /// Of the visits that left their network, those back on the one before it.
    back: [AtomicU64; GAP_CLASSES],
    left: [AtomicU64; GAP_CLASSES],
}

impl NetworkKept {
    fn learn(&self, class: usize, kept: bool) {
        Self::count(&self.kept[class], &self.seen[class], kept);
    }

    fn learn_back(&self, class: usize, back: bool) {
        Self::count(&self.back[class], &self.left[class], back);
    }

    fn count(hits: &AtomicU64, all: &AtomicU64, hit: bool) {
        all.fetch_add(1, Ordering::Relaxed);
        if hit {
            hits.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// P(a return keeps its network) after a gap of `class`: the token visits' share, drawn
    /// towards `prior` by `pseudo_count` visits.
    fn rate(&self, class: usize, prior: f64, pseudo_count: f64) -> f64 {
        Self::share(&self.kept[class], &self.seen[class], prior, pseudo_count)
    }

    /// P(a return that left its network is back on the one before it), likewise.
    fn back_rate(&self, class: usize, prior: f64, pseudo_count: f64) -> f64 {
        Self::share(&self.back[class], &self.left[class], prior, pseudo_count)
    }

    fn share(hits: &AtomicU64, all: &AtomicU64, prior: f64, pseudo_count: f64) -> f64 {
        let m = pseudo_count.max(0.0);
        ((hits.load(Ordering::Relaxed) as f64 + m * prior)
            / (all.load(Ordering::Relaxed) as f64 + m).max(1e-9))
        .clamp(0.01, 0.99)
    }
}

pub struct Index {
    params: ModelParams,
    /// How often browsers keep their network between visits.
    network_kept: NetworkKept,
    /// Known visitors by the network of their latest visit.
    nets: HashMap<u32, u32>,
    /// P(a token-less visit comes from a known browser), learnt from the token-less visits
    /// seen: a moving average of their posterior probability of being a return (the
    /// expectation-maximisation estimate of the mixing rate). A new workspace sees mostly new
    /// browsers, a mature one mostly returns. f64 bits, so that `find` can learn through `&self`.
    return_rate: AtomicU64,
    /// Confidence learnt from token visits.
    calibration: Calibration,
    /// Token-less visits matched so far.
    token_less: AtomicU64,
    /// What became of the tokens naming a known visitor.
    tokens: TokenCounts,
    slots: Vec<Slot>,
    free: Vec<u32>,
    by_visitor: HashMap<u64, u32>,
    bands: Vec<HashMap<u32, u32>>,
    overflow: Vec<Vec<u32>>,
    overflow_free: Vec<u32>,
    sketches: Vec<CountMin>,
    /// Exact counts of each condition value and of each (condition, personal value) pair of
    /// [`CONDITIONS`], keyed by their hash.
    given: HashMap<u32, u32>,
    live: usize,
    /// Time origin of the activity weights (ms), set by the first visit recorded.
    epoch_ms: Option<i64>,
    /// Sum of every live visitor's activity.
    total_activity: f64,
    /// Sums of every live visitor's [`Returns`] (returns, matched).
    total_returns: (u64, u64),
}

/// Largest exponent an activity weight may reach before the weights are rescaled.
const MAX_EXPONENT: f64 = 600.0;

/// The probability whose log odds are `x`.
fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn vid_bytes(visitor_id: &str) -> Option<[u8; VID_LEN]> {
    let rest = visitor_id.strip_prefix("pv_")?;
    rest.as_bytes().try_into().ok()
}

fn vid_key(b: &[u8; VID_LEN]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= x as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn exact_key(fp: &Fingerprint) -> u32 {
    hash32(&[b"e", &fp.exact().to_le_bytes()])
}

fn condition_key(k: usize, condition: u32) -> u32 {
    hash32(&[b"c", &[k as u8], &condition.to_le_bytes()])
}

fn pair_key(k: usize, condition: u32, value: u32) -> u32 {
    hash32(&[
        b"p",
        &[k as u8],
        &condition.to_le_bytes(),
        &value.to_le_bytes(),
    ])
}

/// The counts a fingerprint adds to: per [`CONDITIONS`] entry, its condition and its pair.
fn given_keys(fp: &Fingerprint) -> [Option<u32>; 2 * CONDITIONS.len()] {
    let mut out = [None; 2 * CONDITIONS.len()];
    for (k, (comp, condition)) in CONDITIONS.iter().enumerate() {
        let (cond, value) = (condition.of(fp), fp.get(*comp));
        if cond != 0 && value != 0 {
            out[2 * k] = Some(condition_key(k, cond));
            out[2 * k + 1] = Some(pair_key(k, cond, value));
        }
    }
    out
}

fn band_key(fp: &Fingerprint, band: usize) -> Option<u32> {
    let comps = BANDS[band];
    if comps.iter().all(|c| fp.get(*c) == 0) {
        return None;
    }
    let mut bytes = [0u8; 4 * 8];
    bytes[0] = band as u8;
    for (i, c) in comps.iter().enumerate() {
        bytes[4 + 4 * i..8 + 4 * i].copy_from_slice(&fp.get(*c).to_le_bytes());
    }
    Some(hash32(&[&bytes[..4 + 4 * comps.len()]]))
}

/// Adds `delta` (±1) to the count of `key`, dropping counts that reach zero.
fn count_key(counts: &mut HashMap<u32, u32>, key: u32, delta: i32) {
    if delta > 0 {
        *counts.entry(key).or_insert(0) += 1;
    } else if let Some(n) = counts.get_mut(&key) {
        *n -= 1;
        if *n == 0 {
            counts.remove(&key);
        }
    }
}

/// Stores `item` in a freed place of `items` if there is one, else at the end; returns its index.
fn reuse_or_push<T>(items: &mut Vec<T>, free: &mut Vec<u32>, item: T) -> u32 {
    match free.pop() {
        Some(i) => {
            items[i as usize] = item;
            i
        }
        None => {
            items.push(item);
            (items.len() - 1) as u32
        }
    }
}

impl Index {
    pub fn new(params: ModelParams) -> Self {
        Index {
            return_rate: AtomicU64::new(params.prior_return.to_bits()),
            calibration: Calibration::default(),
            token_less: AtomicU64::new(0),
            tokens: TokenCounts::default(),
            network_kept: NetworkKept::default(),
            nets: HashMap::new(),
            params,
            slots: Vec::new(),
            free: Vec::new(),
            by_visitor: HashMap::new(),
            bands: (0..N_BANDS).map(|_| HashMap::new()).collect(),
            overflow: Vec::new(),
            overflow_free: Vec::new(),
            sketches: (0..=N_COMP).map(|_| CountMin::new()).collect(),
            given: HashMap::new(),
            live: 0,
            epoch_ms: None,
            total_activity: 0.0,
            total_returns: (0, 0),
        }
    }

    pub fn params(&self) -> &ModelParams {
        &self.params
    }

    /// The learnt P(a token-less visit comes from a known browser).
    pub fn return_rate(&self) -> f64 {
        f64::from_bits(self.return_rate.load(Ordering::Relaxed))
    }

    /// Known visitors.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Pre-sizes for `n` visitors (used when loading a store at start-up).
    pub fn reserve(&mut self, n: usize) {
        self.slots.reserve(n);
        self.by_visitor.reserve(n);
        for b in &mut self.bands {
            b.reserve(n);
        }
    }

    fn slot_of(&self, visitor_id: &str) -> Option<u32> {
        let b = vid_bytes(visitor_id)?;
        let slot = *self.by_visitor.get(&vid_key(&b))?;
        let s = &self.slots[slot as usize];
        (s.alive && s.visitor == b).then_some(slot)
    }

    /// The profile a visit leaves its visitor: the visit, with the network history the known
    /// visitor's profile carries on (see [`Fingerprint::after`]). What [`Index::upsert`] is
    /// given and the store holds, so that both keep the same history.
    pub fn profile(&self, visitor_id: &str, visit: &Fingerprint) -> Fingerprint {
        match self.slot_of(visitor_id) {
            Some(slot) => visit.after(&self.slots[slot as usize].fp),
            None => *visit,
        }
    }

    /// Records a visit at `at_ms`, identified by `how`, whose profile ([`Index::profile`]) is
    /// `fp`: the visitor's profile is replaced, the visit counts towards how active the visitor
    /// is and, when it is a return, towards how often the visitor returns without a token.
    pub fn upsert(&mut self, visitor_id: &str, fp: &Fingerprint, at_ms: i64, how: Method) {
        let weight = self.visit_weight(at_ms);
        let visit = Returns {
            returns: u32::from(how != Method::New),
            matched: u32::from(how == Method::Fingerprint),
        };
        self.record(visitor_id, fp, weight, at_ms, Counts::Add(visit));
    }

    /// Records a visit another node made (learnt from the change feed), with the visitor's
    /// `visits` and `matched` visits as the store holds them after it.
    pub fn upsert_stored(
        &mut self,
        visitor_id: &str,
        fp: &Fingerprint,
        at_ms: i64,
        visits: u64,
        matched: u64,
    ) {
        let weight = self.visit_weight(at_ms);
        let counts = Counts::Set(Returns::stored(visits, matched));
        self.record(visitor_id, fp, weight, at_ms, counts);
    }

    /// Adds a visitor known from storage: its latest fingerprint, its `visits` between
    /// `first_ms` and `last_ms` (taken as spread evenly over that span), and how many of them
    /// were recognised by fingerprint without a token (`matched`).
    pub fn load(
        &mut self,
        visitor_id: &str,
        fp: &Fingerprint,
        visits: u64,
        matched: u64,
        first_ms: i64,
        last_ms: i64,
    ) {
        let last = self.visit_weight(last_ms);
        let span = (last_ms - first_ms).max(0) as f64 / self.params.activity_scale_ms();
        // Mean of exp(-x) over [0, span]: the even spread of the visits, back from the last.
        let spread = if span > 1e-9 {
            (1.0 - (-span).exp()) / span
        } else {
            1.0
        };
        self.record(
            visitor_id,
            fp,
            last * visits.max(1) as f64 * spread,
            last_ms,
            Counts::Set(Returns::stored(visits, matched)),
        );
    }

    fn record(
        &mut self,
        visitor_id: &str,
        fp: &Fingerprint,
        weight: f64,
        at_ms: i64,
        counts: Counts,
    ) {
        let Some(bytes) = vid_bytes(visitor_id) else {
            return;
        };
        self.total_activity += weight;
        if let Some(slot) = self.slot_of(visitor_id) {
            let old = self.slots[slot as usize].fp;
            self.unfile(slot, &old);
            let s = &mut self.slots[slot as usize];
            s.fp = *fp;
            s.activity += weight;
            s.last_ms = s.last_ms.max(at_ms);
            let (old, new) = (
                s.returns,
                match counts {
                    Counts::Add(add) => Returns {
                        returns: s.returns.returns.saturating_add(add.returns),
                        matched: s.returns.matched.saturating_add(add.matched),
                    },
                    Counts::Set(set) => set,
                },
            );
            s.returns = new;
            self.count_returns(old, new);
            self.file(slot, fp);
            return;
        }
        let returns = match counts {
            Counts::Add(_) => Returns::default(),
            Counts::Set(set) => set,
        };
        self.count_returns(Returns::default(), returns);
        let entry = Slot {
            visitor: bytes,
            alive: true,
            fp: *fp,
            activity: weight,
            last_ms: at_ms,
            returns,
        };
        let slot = reuse_or_push(&mut self.slots, &mut self.free, entry);
        self.by_visitor.insert(vid_key(&bytes), slot);
        self.file(slot, fp);
        self.live += 1;
    }

    /// The weight of one visit at `at_ms`, relative to the epoch. Weights grow with time, so
    /// that older visits count for less without touching every visitor as time passes; when
    /// they would grow too large, every weight is scaled down at once.
    fn visit_weight(&mut self, at_ms: i64) -> f64 {
        let scale = self.params.activity_scale_ms();
        let epoch = *self.epoch_ms.get_or_insert(at_ms);
        let x = (at_ms - epoch) as f64 / scale;
        if x <= MAX_EXPONENT {
            return x.max(-MAX_EXPONENT).exp();
        }
        let shift = at_ms - epoch;
        let factor = (-(shift as f64) / scale).exp();
        for s in self.slots.iter_mut() {
            s.activity *= factor;
        }
        self.total_activity *= factor;
        self.epoch_ms = Some(at_ms);
        1.0
    }

    /// The share of all recent visits that were this slot's: its prior odds of being the
    /// source of a visit, among known visitors.
    fn activity_share(&self, slot: u32) -> f64 {
        let a = self.slots[slot as usize].activity;
        if self.total_activity > 0.0 && a > 0.0 {
            a / self.total_activity
        } else {
            1.0 / self.live.max(1) as f64
        }
    }

    /// log P(a return of the visitor in `slot` comes without a token) / P(any return does):
    /// how much likelier than its activity alone says the visitor is the source of a visit
    /// without a token. A browser that keeps its storage comes back with its token, so a
    /// token-less visit that looks exactly like it is more likely another browser of the same
    /// make; one that clears its storage or browses privately comes back without. The
    /// visitor's own share is drawn towards every visitor's by
    /// [`ModelParams::arrival_pseudo_count`] pseudo-returns, so a visitor seen once says
    /// nothing yet.
    fn arrival_prior(&self, slot: u32) -> f64 {
        let a = self.params.arrival_pseudo_count;
        let (returns, matched) = self.total_returns;
        if a <= 0.0 || returns == 0 {
            return 0.0;
        }
        let s = self.slots[slot as usize].returns;
        let all = (matched as f64 + 0.5) / (returns as f64 + 1.0);
        let own = (s.matched as f64 + a * all) / (s.returns as f64 + a);
        (own / all).ln()
    }

    /// Moves the totals from a visitor's `old` returns to its `new` ones.
    fn count_returns(&mut self, old: Returns, new: Returns) {
        let (returns, matched) = &mut self.total_returns;
        *returns = *returns - old.returns as u64 + new.returns as u64;
        *matched = *matched - old.matched as u64 + new.matched as u64;
    }

    /// Forgets a visitor entirely; returns whether it was known.
    pub fn remove(&mut self, visitor_id: &str) -> bool {
        let Some(slot) = self.slot_of(visitor_id) else {
            return false;
        };
        let s = self.slots[slot as usize];
        self.unfile(slot, &s.fp);
        self.by_visitor.remove(&vid_key(&s.visitor));
        self.slots[slot as usize].alive = false;
        self.total_activity = (self.total_activity - s.activity).max(0.0);
        self.count_returns(s.returns, Returns::default());
        self.free.push(slot);
        self.live -= 1;
        true
    }

    fn count_values(&mut self, fp: &Fingerprint, delta: i32) {
        for (i, &v) in fp.h.iter().enumerate() {
            if v != 0 {
                self.sketches[i].add(v, delta);
            }
        }
        let stack = fp.stack();
        if stack != 0 {
            self.sketches[STACK_KEY].add(stack, delta);
        }
        for key in given_keys(fp).into_iter().flatten().chain([exact_key(fp)]) {
            count_key(&mut self.given, key, delta);
        }
        for net in [fp.net, fp.net_before] {
            if net != 0 {
                count_key(&mut self.nets, net, delta);
            }
        }
    }

    fn file(&mut self, slot: u32, fp: &Fingerprint) {
        self.count_values(fp, 1);
        for band in 0..N_BANDS {
            let Some(key) = band_key(fp, band) else {
                continue;
            };
            match self.bands[band].get(&key).copied() {
                None => {
                    self.bands[band].insert(key, slot);
                }
                Some(p) if p & TAG == 0 => {
                    let idx =
                        reuse_or_push(&mut self.overflow, &mut self.overflow_free, vec![p, slot]);
                    self.bands[band].insert(key, idx | TAG);
                }
                Some(p) => self.overflow[(p & !TAG) as usize].push(slot),
            }
        }
    }

    fn unfile(&mut self, slot: u32, fp: &Fingerprint) {
        self.count_values(fp, -1);
        for band in 0..N_BANDS {
            let Some(key) = band_key(fp, band) else {
                continue;
            };
            let Some(p) = self.bands[band].get(&key).copied() else {
                continue;
            };
            if p & TAG == 0 {
                if p == slot {
                    self.bands[band].remove(&key);
                }
                continue;
            }
            let idx = (p & !TAG) as usize;
            let list = &mut self.overflow[idx];
            if let Some(pos) = list.iter().position(|&s| s == slot) {
                list.swap_remove(pos);
            }
            if list.len() == 1 {
                let only = list[0];
                self.overflow[idx] = Vec::new();
                self.overflow_free.push(idx as u32);
                self.bands[band].insert(key, only);
            }
        }
    }

    /// The slots filed under `fp`'s key in `band`, oldest first.
    fn members(&self, band: usize, fp: &Fingerprint) -> &[u32] {
        let Some(p) = band_key(fp, band).and_then(|key| self.bands[band].get(&key)) else {
            return &[];
        };
        if p & TAG == 0 {
            std::slice::from_ref(p)
        } else {
            &self.overflow[(p & !TAG) as usize]
        }
    }

    /// P(a browser other than the one holding `value` also has it): observed frequency among
    /// known visitors, smoothed towards the population prior.
    fn collision(&self, key: usize, value: u32) -> f64 {
        let others = self.sketches[key].count(value).saturating_sub(1) as f64;
        let n = self.live.saturating_sub(1) as f64;
        let m = self.params.pseudo_count;
        let prior = if key == STACK_KEY {
            self.params.stack_collide
        } else {
            self.params.collide[key]
        };
        (others + m * prior) / (n + m)
    }

    /// (how many known browsers have `value` for `comp` with `condition`, how many have
    /// `condition`).
    fn given_counts(&self, comp: Comp, condition: u32, value: u32) -> (f64, f64) {
        let Some(k) = CONDITIONS.iter().position(|(c, _)| *c == comp) else {
            return (0.0, 0.0);
        };
        let count = |key: u32| self.given.get(&key).copied().unwrap_or(0) as f64;
        (
            count(pair_key(k, condition, value)),
            count(condition_key(k, condition)),
        )
    }

    /// Days since the visitor in `slot` was last seen, at `now_ms`.
    fn gap_days(&self, slot: u32, now_ms: i64) -> f64 {
        (now_ms - self.slots[slot as usize].last_ms).max(0) as f64 / 86_400_000.0
    }

    /// `fp` ready to be compared with known visitors.
    fn prepared<'a>(&'a self, fp: &'a Fingerprint) -> Prepared<'a> {
        let twins = self.given.get(&exact_key(fp)).copied().unwrap_or(0) as f64;
        self.params
            .prepare(fp, &|k, v| self.collision(k, v), &|c, k, v| {
                self.given_counts(c, k, v)
            })
            .with_exact((twins - 1.0).max(0.0), self.live.saturating_sub(1) as f64)
    }

    /// Evidence that `fp` is the visitor holding a token, or `None` when the visitor is
    /// unknown or cannot be the same browser.
    pub fn token_evidence(&self, visitor_id: &str, fp: &Fingerprint, now_ms: i64) -> Option<f64> {
        self.slot_of(visitor_id)
            .and_then(|slot| self.slot_evidence(fp, slot, now_ms))
    }

    /// Evidence that `fp` is the visitor in `slot`, whose token it sent, at `now_ms`.
    fn slot_evidence(&self, fp: &Fingerprint, slot: u32, now_ms: i64) -> Option<f64> {
        self.prepared(fp)
            .token_evidence(&self.slots[slot as usize].fp, self.gap_days(slot, now_ms))
    }

    /// Identifies a visit: the visitor its token claims when the token's visitor is known and
    /// the fingerprint is consistent with it, else the fuzzy match, else a new visitor. The
    /// caller has already checked the token's signature, scope and age.
    pub fn decide(&self, fp: &Fingerprint, claimed: Option<&str>, now_ms: i64) -> Decision {
        if let Some(v) = claimed {
            if let Some(slot) = self.slot_of(v) {
                let evidence = self.slot_evidence(fp, slot, now_ms);
                self.tokens.checked.fetch_add(1, Ordering::Relaxed);
                if evidence.is_some() {
                    self.learn_network(fp, slot, now_ms);
                }
                // A signed token whose fingerprint has drifted too far to be trusted is still,
                // nearly always, its browser's: it is learnt from as a return like the trusted
                // ones, or the calibration would learn that returns never score that low while
                // they arrive among the token-less visits. One that cannot be its browser at
                // all (a ruled-out change) is not.
                if evidence.is_some()
                    && self.calibration.sample(
                        self.params.calibration_every,
                        self.params.calibration_per_second,
                        now_ms,
                    )
                {
                    self.learn_from(fp, slot, now_ms);
                }
                match evidence {
                    Some(e) if e >= self.params.token_min_evidence => return Decision::token(v),
                    Some(_) => {}
                    None => {
                        self.tokens.ruled_out.fetch_add(1, Ordering::Relaxed);
                    }
                }
                return self.identify(fp, now_ms, Arrival::UntrustedToken(evidence));
            }
        }
        self.find(fp, now_ms)
    }

    /// Counts whether a visit known to be `slot`'s (by its token) came from the network of the
    /// visitor's previous visit, and if not, whether from the one before it.
    fn learn_network(&self, fp: &Fingerprint, slot: u32, now_ms: i64) {
        let known = self.slots[slot as usize].fp;
        if fp.net == 0 || known.net == 0 {
            return;
        }
        let class = gap_class(Some(self.gap_days(slot, now_ms)));
        self.network_kept.learn(class, fp.net == known.net);
        if fp.net != known.net && known.net_before != 0 {
            self.network_kept
                .learn_back(class, fp.net == known.net_before);
        }
    }

    /// How often another browser than a candidate would show `net`, a network the candidate is
    /// on (as its latest or the one before): the share of the other known browsers on it (as
    /// theirs), counting the visit's own source among them.
    fn network_share(&self, net: u32) -> f64 {
        let on = self.nets.get(&net).copied().unwrap_or(1).saturating_sub(1) as f64;
        (on + 1.0) / (self.live.saturating_sub(1) as f64 + 2.0)
    }

    /// The log likelihood ratio of the visit's network, `fp.net`, between "the visitor in
    /// `slot` came back" and "another browser came": a return keeps its network as often as
    /// the workspace's token visits keep theirs after a like gap, and of those that leave it,
    /// comes back to the network before as often as theirs do; another browser is on a network
    /// as often as known browsers other than this one are (a household, an office, a mobile
    /// carrier's shared addresses), out of all, and a return at least as often. A shared
    /// network says little, a network of the visitor's own a lot, and a changed network only as
    /// much as returns change theirs: phones on mobile data do it all the time.
    fn network_evidence(&self, fp: &Fingerprint, slot: u32, now_ms: i64) -> f64 {
        let known = self.slots[slot as usize].fp;
        if !self.params.network || fp.net == 0 || known.net == 0 {
            return 0.0;
        }
        let class = gap_class(Some(self.gap_days(slot, now_ms)));
        let (prior, pseudo) = (
            self.params.network_kept_prior,
            self.params.network_pseudo_count,
        );
        let shared = self.network_share(known.net);
        // A return is on a network at least as often as any other browser: where everybody
        // shares one (an office, a test machine), the network tells nothing either way.
        let kept = self.network_kept.rate(class, prior, pseudo).max(shared);
        let left = ((1.0 - kept) / (1.0 - shared).max(1e-9)).ln();
        if fp.net == known.net {
            return (kept / shared).ln();
        }
        if known.net_before == 0 || known.net_before == known.net {
            return left;
        }
        // Among visits off the latest network: a return's share back on the one before,
        // against another browser's share on it among those not on the latest.
        let shared_back =
            (self.network_share(known.net_before) / (1.0 - shared).max(1e-9)).min(1.0);
        if shared_back >= 1.0 {
            return left;
        }
        let back = self
            .network_kept
            .back_rate(class, prior, pseudo)
            .max(shared_back);
        left + if fp.net == known.net_before {
            (back / shared_back).ln()
        } else {
            ((1.0 - back) / (1.0 - shared_back)).ln()
        }
    }

    /// A visit known to be `slot`'s (by its token) as two labelled examples: matched as if it
    /// had no token, a return; matched with `slot` left out, a browser never seen.
    fn learn_from(&self, fp: &Fingerprint, slot: u32, now_ms: i64) {
        // Scored without the habit of coming back without a token: a token visit is a return
        // of a browser that kept its storage, and the calibration would learn that returns
        // score as low as such browsers' do when they arrive without one, which is rarely.
        let scored = self.score(fp, now_ms, false);
        let with = scored.ranking(None);
        let gap = |r: &Ranking| r.top.map(|(s, _)| self.gap_days(s, now_ms));
        self.calibration.record_return(
            with.score,
            gap(&with),
            with.top.map(|(s, q)| (q, s == slot)),
        );
        let without = scored.ranking(Some(slot));
        self.calibration
            .record_stranger(without.score, gap(&without));
    }

    /// Finds the known visitor a token-less visit belongs to, if one is likely enough
    /// ([`Method::Fingerprint`]); otherwise the visit is new ([`Method::New`]) and `confidence`
    /// is the probability that it really is (low when it is one of a crowd of identical devices).
    pub fn find(&self, fp: &Fingerprint, now_ms: i64) -> Decision {
        self.identify(fp, now_ms, Arrival::TokenLess)
    }

    /// [`Index::find`] for a visit that arrived as `arrival`.
    fn identify(&self, fp: &Fingerprint, now_ms: i64, arrival: Arrival) -> Decision {
        let ranking = self
            .score(fp, now_ms, arrival == Arrival::TokenLess)
            .ranking(None);
        let gap = ranking.top.map(|(s, _)| self.gap_days(s, now_ms));
        let rate = f64::from_bits(self.return_rate.load(Ordering::Relaxed))
            .clamp(RETURN_RATE_BOUNDS.0, RETURN_RATE_BOUNDS.1);
        // P(return) from a likelihood ratio calibrated on labelled returns and strangers (see
        // `calibration`) and a learnt rate of returns. It decides links and, as its complement,
        // states how sure a new-visitor answer is: a return the index cannot link is still
        // counted as a likely return, so a browser that looks like a known one is never called
        // new with certainty.
        let log_ratio = self.calibration.link_log_ratio(ranking.score, gap);
        let p_return = sigmoid((rate / (1.0 - rate)).ln() + log_ratio);
        let new_confidence = match arrival {
            Arrival::TokenLess => {
                // A running mean over the first visits, a moving average after: a new
                // workspace learns at once that its first visitors are all new.
                let n = self.token_less.fetch_add(1, Ordering::Relaxed);
                let step = self.params.return_rate_step.max(1.0 / (n as f64 + 2.0));
                self.return_rate.store(
                    (rate + step * (p_return - rate)).to_bits(),
                    Ordering::Relaxed,
                );
                1.0 - p_return
            }
            Arrival::UntrustedToken(evidence) => self
                .tokens
                .copied_given_untrusted(evidence, self.params.token_copy_rate),
        };
        // With no browser known yet, nothing can return. Otherwise a token-less visit's answer
        // is stated as the reference populations showed such answers to be right (the untrusted
        // token's is a probability of its own, not what those populations measured).
        let stated = |answer: reference::Answer, raw: f64| {
            if self.params.reference_calibration {
                reference::map(answer, self.live, rate, raw)
            } else {
                raw
            }
        };
        let new_confidence = match arrival {
            _ if self.live == 0 => 1.0,
            Arrival::TokenLess => stated(reference::Answer::New, new_confidence),
            Arrival::UntrustedToken(_) => new_confidence,
        };
        match ranking.top {
            Some((slot, q)) => {
                let p = p_return * self.calibration.top_right(q);
                // Linking is decided on what the index computed; only the statement is mapped.
                if p >= self.params.link_threshold {
                    Decision::matched(self.visitor_id(slot), stated(reference::Answer::Link, p))
                } else {
                    Decision::new_visitor(new_confidence)
                }
            }
            None => Decision::new_visitor(new_confidence),
        }
    }

    /// Scores every candidate retrieved for `fp`.
    fn score(&self, fp: &Fingerprint, now_ms: i64, arrival: bool) -> Scored {
        // (slot, crowd band or usize::MAX)
        let mut candidates: Vec<(u32, usize)> = Vec::new();
        let mut crowds: Vec<(usize, usize)> = Vec::new(); // (band, unscanned members)
        for band in 0..N_BANDS {
            let list = self.members(band, fp);
            let skip = list.len().saturating_sub(CROWD_SCAN);
            // The most recent members are the likeliest to return.
            let tag = if skip > 0 { band } else { usize::MAX };
            candidates.extend(list[skip..].iter().map(|&s| (s, tag)));
            if skip > 0 {
                crowds.push((band, skip));
            }
        }
        let prepared = self.prepared(fp);
        candidates.sort_unstable_by_key(|c| c.0);
        let scored = candidates
            .chunk_by(|a, b| a.0 == b.0)
            .map(|group| {
                let slot = group[0].0;
                let weight = prepared
                    .evidence(&self.slots[slot as usize].fp, self.gap_days(slot, now_ms))
                    .map(|e| {
                        e + self.activity_share(slot).ln()
                            + self.network_evidence(fp, slot, now_ms)
                            + if arrival {
                                self.arrival_prior(slot)
                            } else {
                                0.0
                            }
                    });
                // An unsampled crowd member that resembled the visit more than by the crowd's
                // shared components would have been retrieved by another band and scored. So
                // the unsampled are like the sampled members that only their crowd retrieved;
                // members found through other bands too (the returning browser above all) say
                // nothing about them.
                let only_crowds = group.iter().all(|&(_, band)| band != usize::MAX);
                let crowd_bands = if only_crowds {
                    group.iter().fold(0u8, |m, &(_, band)| m | 1 << band)
                } else {
                    0
                };
                (slot, weight, crowd_bands)
            })
            .collect();
        Scored { scored, crowds }
    }

    fn visitor_id(&self, slot: u32) -> String {
        format!(
            "pv_{}",
            String::from_utf8_lossy(&self.slots[slot as usize].visitor)
        )
    }

    /// Whether candidate retrieval for `fp` reaches `visitor_id` at all (in any band, sampled
    /// or not), and the evidence that `fp` is that visitor: for explaining missed matches.
    pub fn explain(&self, fp: &Fingerprint, visitor_id: &str, now_ms: i64) -> (bool, Option<f64>) {
        let Some(slot) = self.slot_of(visitor_id) else {
            return (false, None);
        };
        let retrieved = (0..N_BANDS).any(|band| self.members(band, fp).contains(&slot));
        (retrieved, self.token_evidence(visitor_id, fp, now_ms))
    }

    /// Heap memory held by the index, from the capacities of its containers.
    pub fn heap_bytes(&self) -> usize {
        fn map_bytes<K, V>(m: &HashMap<K, V>) -> usize {
            let buckets = if m.capacity() == 0 {
                0
            } else {
                (m.capacity() * 8 / 7).next_power_of_two()
            };
            buckets * (std::mem::size_of::<(K, V)>() + 1)
        }
        self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.free.capacity() * 4
            + map_bytes(&self.by_visitor)
            + self.bands.iter().map(map_bytes).sum::<usize>()
            + self.overflow.capacity() * std::mem::size_of::<Vec<u32>>()
            + self
                .overflow
                .iter()
                .map(|v| v.capacity() * 4)
                .sum::<usize>()
            + self.overflow_free.capacity() * 4
            + map_bytes(&self.given)
            + map_bytes(&self.nets)
            + self
                .sketches
                .iter()
                .map(CountMin::heap_bytes)
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(seed: u32) -> Fingerprint {
        let mut f = Fingerprint::default();
        for (i, h) in f.h.iter_mut().enumerate() {
            *h = hash32(&[&seed.to_le_bytes(), &(i as u32).to_le_bytes()]);
        }
        // Shared OS and browser family, as in a real population.
        f.h[Comp::Os as usize] = 7;
        f.h[Comp::Browser as usize] = 9;
        f.browser_major = 120;
        f
    }

    fn vid(i: u32) -> String {
        format!("pv_{:013}", i)
    }

    /// An index of `n` distinct visitors, all last seen at time 0.
    fn filled(n: u32, params: ModelParams) -> Index {
        let mut idx = Index::new(params);
        for i in 0..n {
            idx.upsert(&vid(i), &fp(i), 0, Method::New);
        }
        idx
    }

    #[test]
    fn the_first_visit_of_a_workspace_is_certainly_new_and_the_next_stranger_almost() {
        let mut idx = Index::new(ModelParams::default());
        let first = idx.find(&fp(1), 0);
        assert_eq!((first.method, first.confidence), (Method::New, 1.0));
        idx.upsert(&vid(1), &fp(1), 0, Method::New);
        // One browser known: a visit that resembles nothing may still be it, changed beyond
        // what the model describes.
        let second = idx.find(&fp(2), 0);
        assert_eq!(second.method, Method::New);
        assert!(
            second.confidence < 1.0 && second.confidence > 0.9,
            "{second:?}"
        );
    }

    /// The model's own confidence, without the reference calibration's mapping.
    fn raw() -> ModelParams {
        ModelParams {
            reference_calibration: false,
            ..ModelParams::default()
        }
    }

    /// `n` distinct visitors last seen at time 0, each on a network of its own except the
    /// first `shared`, which share one.
    fn on_networks(n: u32, shared: u32, params: ModelParams) -> Index {
        let mut idx = Index::new(params);
        for i in 0..n {
            let net = if i < shared { 1 } else { 1000 + i };
            idx.upsert(&vid(i), &Fingerprint { net, ..fp(i) }, 0, Method::New);
        }
        idx
    }

    #[test]
    fn an_own_network_is_strong_evidence_a_shared_one_weak_and_a_changed_one_mild() {
        let idx = on_networks(2000, 500, raw());
        let day = 86_400_000;
        let evidence = |i: u32, net: u32| {
            let slot = idx.slot_of(&vid(i)).unwrap();
            idx.network_evidence(&Fingerprint { net, ..fp(i) }, slot, 3 * day)
        };
        // Before any token visit: kept half the time. One known browser in 2,000 on the
        // network: ln(0.5 × 2,000) ≈ 6.9.
        let own = evidence(1500, 1000 + 1500);
        assert!((own - (0.5f64 * 2000.0).ln()).abs() < 0.01, "{own}");
        // 500 of 2,000 share it: ln(0.5 / 0.25).
        let shared = evidence(10, 1);
        assert!((shared - 2f64.ln()).abs() < 0.01, "{shared}");
        // Another network: only as unlikely as a return's changing network is.
        let changed = evidence(1500, 7);
        assert!((changed - 0.5f64.ln()).abs() < 0.01, "{changed}");
        // Unknown on either side: no evidence.
        assert_eq!(evidence(1500, 0), 0.0);
        // Everybody on one network (an office, a test machine): it tells nothing either way.
        let one = on_networks(50, 50, raw());
        let slot = one.slot_of(&vid(3)).unwrap();
        for net in [1, 2] {
            let e = one.network_evidence(&Fingerprint { net, ..fp(3) }, slot, 3 * day);
            assert!(e.abs() < 1e-9, "{net}: {e}");
        }
        let off = on_networks(
            10,
            0,
            ModelParams {
                network: false,
                ..raw()
            },
        );
        let slot = off.slot_of(&vid(3)).unwrap();
        let visit = Fingerprint { net: 1003, ..fp(3) };
        assert_eq!(off.network_evidence(&visit, slot, 3 * day), 0.0);
    }

    #[test]
    fn how_often_returns_keep_their_network_is_learnt_from_token_visits() {
        let mut idx = on_networks(2000, 0, raw());
        let day = 86_400_000;
        // 100 token visits three days later, 90 of them from the visitor's own network.
        for i in 0..100u32 {
            let net = if i < 90 { 1000 + i } else { 5 };
            let visit = Fingerprint { net, ..fp(i) };
            let d = idx.decide(&visit, Some(&vid(i)), 3 * day);
            assert_eq!(d.method, Method::Token);
            idx.upsert(&vid(i), &visit, 3 * day, Method::Token);
        }
        let slot = idx.slot_of(&vid(1500)).unwrap();
        let at = |net: u32| idx.network_evidence(&Fingerprint { net, ..fp(1500) }, slot, 3 * day);
        // (90 + 10 × 0.5) / (100 + 10) = 0.864 kept.
        let kept: f64 = 95.0 / 110.0;
        assert!(
            (at(2500) - (kept * 2000.0).ln()).abs() < 0.01,
            "{}",
            at(2500)
        );
        assert!((at(7) - (1.0 - kept).ln()).abs() < 0.01, "{}", at(7));
        // Other gap classes keep the prior.
        let other_class = idx.network_evidence(&Fingerprint { net: 7, ..fp(1500) }, slot, 60 * day);
        assert!((other_class - 0.5f64.ln()).abs() < 0.01, "{other_class}");
    }

    #[test]
    fn a_visitor_keeps_the_network_before_its_latest_and_a_return_to_it_counts() {
        let mut idx = on_networks(2000, 0, raw());
        let day = 86_400_000;
        // Visitor 5 moves from its home network (1005) to mobile data (42), then to a café
        // (43): the profile keeps the latest other network, and a visit from the same network
        // leaves it as it was.
        let moved = |net| Fingerprint { net, ..fp(5) };
        assert_eq!(idx.profile(&vid(5), &moved(42)).net_before, 1005);
        for at in [day, day + 1] {
            let profile = idx.profile(&vid(5), &moved(42));
            idx.upsert(&vid(5), &profile, at, Method::Token);
        }
        assert_eq!(
            idx.slots[idx.slot_of(&vid(5)).unwrap() as usize]
                .fp
                .net_before,
            1005
        );
        let slot = idx.slot_of(&vid(5)).unwrap();
        let at = |idx: &Index, net: u32| {
            idx.network_evidence(&Fingerprint { net, ..fp(5) }, slot, 3 * day)
        };
        // Nothing learnt yet: kept half the time; of the rest, back on the network before
        // half the time. Each is held by one browser in 2,000.
        let before = at(&idx, 1005);
        assert!((before - (0.25f64 * 2000.0).ln()).abs() < 0.01, "{before}");
        let elsewhere = at(&idx, 77);
        assert!((elsewhere - 0.25f64.ln()).abs() < 0.01, "{elsewhere}");
        assert!(at(&idx, 42) > before && before > 0.0);
        // A profile from the store keeps the history it was stored with, and a new visitor's
        // profile is its visit.
        let stored = Fingerprint {
            net: 43,
            net_before: 9,
            ..fp(5)
        };
        idx.upsert_stored(&vid(5), &stored, 2 * day, 4, 1);
        assert_eq!(idx.slots[idx.slot_of(&vid(5)).unwrap() as usize].fp, stored);
        assert_eq!(idx.profile(&vid(9999), &moved(42)), moved(42));
        // The networks' counts follow: 1005 is no longer held by anyone, 9 by visitor 5.
        assert_eq!(idx.nets.get(&1005), None);
        assert_eq!(idx.nets.get(&9), Some(&1));
    }

    #[test]
    fn how_often_returns_come_back_to_the_network_before_is_learnt_from_token_visits() {
        let mut idx = on_networks(2000, 0, raw());
        let day = 86_400_000;
        // 100 visitors move to a network of their own a day later.
        for i in 0..100u32 {
            let visit = Fingerprint {
                net: 5000 + i,
                ..fp(i)
            };
            let profile = idx.profile(&vid(i), &visit);
            idx.upsert(&vid(i), &profile, day, Method::Token);
        }
        // Two days later they come back with their token: 40 on that network, 48 back on
        // the one before, 12 elsewhere.
        for i in 0..100u32 {
            let net = match i {
                0..40 => 5000 + i,
                40..88 => 1000 + i,
                _ => 7,
            };
            let visit = Fingerprint { net, ..fp(i) };
            assert_eq!(
                idx.decide(&visit, Some(&vid(i)), 3 * day).method,
                Method::Token
            );
        }
        let visit = Fingerprint {
            net: 6000,
            ..fp(1500)
        };
        let profile = idx.profile(&vid(1500), &visit);
        idx.upsert(&vid(1500), &profile, day, Method::Token);
        let slot = idx.slot_of(&vid(1500)).unwrap();
        let at = |net: u32| idx.network_evidence(&Fingerprint { net, ..fp(1500) }, slot, 3 * day);
        // Kept (40 + 5) / 110; of the 60 that left, back (48 + 5) / 70.
        let kept: f64 = 45.0 / 110.0;
        let back: f64 = 53.0 / 70.0;
        assert!(
            (at(6000) - (kept * 2000.0).ln()).abs() < 0.01,
            "{}",
            at(6000)
        );
        let before = ((1.0 - kept) * back * 2000.0).ln();
        assert!((at(2500) - before).abs() < 0.01, "{}", at(2500));
        let elsewhere = ((1.0 - kept) * (1.0 - back)).ln();
        assert!((at(7) - elsewhere).abs() < 0.01, "{}", at(7));
    }

    #[test]
    fn a_drifted_browser_from_its_own_network_is_surer_than_from_another() {
        let idx = on_networks(5000, 0, raw());
        let mut visit = fp(1234);
        visit.h[Comp::Screen as usize] = 1;
        visit.h[Comp::Timezone as usize] = 2;
        visit.h[Comp::Fonts as usize] = 3;
        visit.browser_major = 121;
        let mut away_visit = visit;
        away_visit.net = 77;
        visit.net = 1000 + 1234;
        let home = idx.find(&visit, 14 * 86_400_000);
        let away = idx.find(&away_visit, 14 * 86_400_000);
        assert_eq!(home.visitor_id, Some(vid(1234)), "{home:?}");
        assert_eq!(home.method, Method::Fingerprint);
        let p_return = |d: &Decision| match d.method {
            Method::Fingerprint => d.confidence,
            _ => 1.0 - d.confidence,
        };
        assert!(p_return(&home) > p_return(&away), "{home:?} {away:?}");
    }

    #[test]
    fn a_drifted_browser_is_found_among_many() {
        let idx = filled(5000, raw());
        let mut visit = fp(1234);
        visit.h[Comp::Screen as usize] = 1;
        visit.h[Comp::Timezone as usize] = 2;
        visit.browser_major = 121;
        // Two weeks later: time enough for an upgrade, a new screen and a trip.
        let found = idx.find(&visit, 14 * 86_400_000);
        assert_eq!(found.method, Method::Fingerprint, "{found:?}");
        assert_eq!(found.visitor_id, Some(vid(1234)));
        assert!(found.confidence > 0.99, "{found:?}");
        // A browser never seen is new with high confidence: with nothing learnt yet the model
        // allows for one return in twenty it cannot describe, and the one token-less visit so
        // far was a return.
        let stranger = idx.find(&fp(999_999), 0);
        assert_eq!(stranger.method, Method::New, "{stranger:?}");
        assert!(stranger.visitor_id.is_none() && stranger.confidence > 0.8);
    }

    #[test]
    fn token_less_answers_are_stated_as_the_reference_populations_showed_them() {
        let (mapped, computed) = (filled(5000, ModelParams::default()), filled(5000, raw()));
        let mut visit = fp(1234);
        visit.h[Comp::Screen as usize] = 1;
        visit.browser_major = 121;
        for v in [visit, fp(999_999)] {
            let rate = computed.return_rate();
            let (m, c) = (
                mapped.find(&v, 14 * 86_400_000),
                computed.find(&v, 14 * 86_400_000),
            );
            // The same answer, its confidence read through the table for its size band.
            assert_eq!((m.method, &m.visitor_id), (c.method, &c.visitor_id));
            let answer = match c.method {
                Method::Fingerprint => reference::Answer::Link,
                _ => reference::Answer::New,
            };
            let want = reference::map(answer, 5000, rate, c.confidence);
            assert!((m.confidence - want).abs() < 1e-12, "{m:?} {c:?} {want}");
        }
        // A token is not mapped, nor is the first visit of a workspace.
        assert_eq!(
            mapped.decide(&fp(7), Some(&vid(7)), 0).confidence,
            TOKEN_CONFIDENCE
        );
        assert_eq!(
            Index::new(ModelParams::default())
                .find(&fp(1), 0)
                .confidence,
            1.0
        );
    }

    /// Changes in one day too many for a browser's own token to be trusted.
    const FAR: &[Comp] = &[Comp::Languages, Comp::Fonts, Comp::Screen, Comp::Timezone];

    #[test]
    fn a_token_survives_drift_but_not_another_device() {
        let idx = filled(1000, ModelParams::default());
        let day = 86_400_000;
        let changed = |comps: &[Comp]| {
            let mut f = fp(5);
            for c in comps {
                f.h[*c as usize] = 12_345;
            }
            f
        };
        // An external monitor, a trip, a font install and a driver update in one day: weaker
        // evidence than an unchanged visit, and the token still outweighs it.
        let drifted = changed(&[Comp::Fonts, Comp::Screen, Comp::Timezone, Comp::Gpu]);
        let evidence = idx.token_evidence(&vid(5), &drifted, day);
        let unchanged = idx.token_evidence(&vid(5), &fp(5), day);
        assert!(
            evidence.zip(unchanged).is_some_and(|(e, u)| e < u - 10.0),
            "{evidence:?} {unchanged:?}"
        );
        assert_eq!(
            idx.decide(&drifted, Some(&vid(5)), day).method,
            Method::Token
        );
        // Its languages changed as well (not one added: another set): too far for the token
        // alone.
        let far = changed(FAR);
        assert_ne!(idx.decide(&far, Some(&vid(5)), day).method, Method::Token);
        // Another device with this browser's token: not trusted.
        let other = idx.decide(&fp(6), Some(&vid(5)), day);
        assert_ne!(other.visitor_id, Some(vid(5)), "{other:?}");
    }

    #[test]
    fn refused_tokens_are_learnt_from_unless_impossible() {
        let params = ModelParams {
            calibration_every: 1,
            ..ModelParams::default()
        };
        let idx = filled(1000, params);
        let day = 86_400_000;
        let before = idx.calibration.returns_learnt();
        // Too far for the token, but changes its browser can make: a labelled return all the
        // same, or the calibration would never see a return score this low.
        let mut far = fp(5);
        for c in FAR {
            far.h[*c as usize] = 12_345;
        }
        assert_ne!(idx.decide(&far, Some(&vid(5)), day).method, Method::Token);
        assert_eq!(idx.calibration.returns_learnt(), before + 1.0);
        // A lower browser version than its visitor's: not its browser, so not learnt from.
        let mut older = fp(5);
        older.browser_major -= 1;
        assert!(idx.token_evidence(&vid(5), &older, day).is_none());
        let ruled_out = idx.tokens.ruled_out.load(Ordering::Relaxed);
        assert_ne!(idx.decide(&older, Some(&vid(5)), day).method, Method::Token);
        assert_eq!(idx.calibration.returns_learnt(), before + 1.0);
        // It counts towards the share of tokens ruled out; the drifted one above did not.
        assert_eq!(ruled_out, 0);
        assert_eq!(idx.tokens.ruled_out.load(Ordering::Relaxed), 1);
        // A trusted token is learnt from as before.
        assert_eq!(idx.decide(&fp(5), Some(&vid(5)), day).method, Method::Token);
        assert_eq!(idx.calibration.returns_learnt(), before + 2.0);
    }

    #[test]
    fn drift_is_likelier_the_longer_a_browser_was_away() {
        let idx = filled(1000, ModelParams::default());
        let mut visit = fp(7);
        visit.h[Comp::Screen as usize] = 1;
        visit.browser_major = 121;
        let day = 86_400_000;
        let soon = idx.token_evidence(&vid(7), &visit, day / 24).unwrap();
        let later = idx.token_evidence(&vid(7), &visit, 30 * day).unwrap();
        assert!(later > soon + 2.0, "an hour: {soon}, a month: {later}");
        // Unchanged, a recent visitor is the likelier one.
        let same_soon = idx.token_evidence(&vid(7), &fp(7), day).unwrap();
        let same_later = idx.token_evidence(&vid(7), &fp(7), 60 * day).unwrap();
        assert!(same_soon > same_later, "{same_soon} {same_later}");
    }

    #[test]
    fn token_visits_calibrate_confidence() {
        // Every token visit is learnt from: matched as if token-less, and with its visitor
        // left out. For unique browsers both examples agree with the model, so what it learns
        // keeps exact returns linked and strangers new. (The confidence the index computes:
        // the reference populations' reading of it is tested on its own.)
        let idx = filled(
            2000,
            ModelParams {
                calibration_every: 1,
                ..raw()
            },
        );
        let day = 86_400_000;
        let before = idx.find(&fp(5), day);
        assert_eq!(before.method, Method::Fingerprint);
        for i in 0..2000 {
            assert_eq!(idx.decide(&fp(i), Some(&vid(i)), day).method, Method::Token);
        }
        let after = idx.find(&fp(5), day);
        assert_eq!(after.method, Method::Fingerprint);
        assert!(after.confidence > 0.99, "{before:?} {after:?}");
        let stranger = idx.find(&fp(99_999), day);
        assert_eq!(stranger.method, Method::New);
        assert!(stranger.confidence > 0.98, "{stranger:?}");
        // Before any token visit was learnt from, the same answer allowed for returns out of
        // the model.
        let cold = filled(2000, raw()).find(&fp(99_999), day);
        assert!(cold.confidence < stranger.confidence, "{cold:?}");
    }

    #[test]
    fn identical_devices_are_ambiguous_not_guessed() {
        let mut idx = filled(50, ModelParams::default());
        for i in 100..110 {
            idx.upsert(&vid(i), &fp(4242), 0, Method::New); // ten identical phones
        }
        let crowd = idx.find(&fp(4242), 0);
        assert_eq!(
            crowd.method,
            Method::New,
            "a crowd must not be guessed: {crowd:?}"
        );
        assert!(crowd.confidence < 0.5, "{crowd:?}");
    }

    #[test]
    fn the_return_rate_is_learnt_from_the_visits() {
        let idx = filled(1000, ModelParams::default());
        assert!((idx.return_rate() - 0.5).abs() < 1e-9);
        // Strangers only: the index learns that token-less visits are mostly new browsers,
        // within its first few visits (a running mean before the moving average).
        for i in 10_000..10_010 {
            assert_eq!(idx.find(&fp(i), 0).method, Method::New);
        }
        assert!(idx.return_rate() < 0.1, "{}", idx.return_rate());
        for i in 10_010..10_400 {
            assert_eq!(idx.find(&fp(i), 0).method, Method::New);
        }
        let after_strangers = idx.return_rate();
        assert!(after_strangers < 0.1, "{after_strangers}");
        // Then returns only: it learns the opposite.
        for i in 0..400 {
            idx.find(&fp(i), 0);
        }
        assert!(idx.return_rate() > 0.8, "{}", idx.return_rate());
    }

    #[test]
    fn untrusted_tokens_are_not_token_less_visits() {
        let idx = filled(1000, ModelParams::default());
        let day = 86_400_000;
        let mut far = fp(5);
        for c in FAR {
            far.h[*c as usize] = 12_345;
        }
        let (visits, rate) = (idx.token_less.load(Ordering::Relaxed), idx.return_rate());
        // Drifted too far for its token: a new visitor ID, but almost surely not a new
        // browser, and nothing learnt about token-less visits from it.
        let refused = idx.decide(&far, Some(&vid(5)), day);
        assert_eq!(refused.method, Method::New, "{refused:?}");
        assert!(refused.confidence < 0.05, "{refused:?}");
        assert_eq!(idx.token_less.load(Ordering::Relaxed), visits);
        assert_eq!(idx.return_rate(), rate);
        // The same visit without the token is a token-less one, and probably new.
        let token_less = idx.decide(&far, None, day);
        assert_eq!(token_less.method, Method::New);
        assert!(token_less.confidence > 0.5, "{token_less:?}");
        assert_eq!(idx.token_less.load(Ordering::Relaxed), visits + 1);
    }

    #[test]
    fn an_untrusted_token_is_a_copy_as_often_as_bayes_says() {
        let counts = TokenCounts::default();
        // Evidence e^-6 for the token's visitor against a copy rate of 1e-5: odds of a copy
        // e^(-11.5 + 6), about 0.4%; at e^-20 (another device), nearly sure.
        let drifted = counts.copied_given_untrusted(Some(-6.0), 1e-5);
        assert!((drifted - 0.004).abs() < 0.001, "{drifted}");
        assert!(counts.copied_given_untrusted(Some(-20.0), 1e-5) > 0.99);
        // Ruled out in one token visit in a thousand: a copy rate of 1e-5 makes about one such
        // token in a hundred a copy, a rate of 1e-2 nine in ten.
        counts.checked.store(10_000, Ordering::Relaxed);
        counts.ruled_out.store(10, Ordering::Relaxed);
        let rare = counts.copied_given_untrusted(None, 1e-5);
        assert!((rare - 0.0094).abs() < 0.001, "{rare}");
        let common = counts.copied_given_untrusted(None, 1e-2);
        assert!((common - 0.906).abs() < 0.01, "{common}");
    }

    /// Two identical devices among `others` strangers: `keeper` came back eight times with
    /// its token, `clearer` eight times without one, recognised by its fingerprint.
    fn twins_by_habit(others: u32) -> Index {
        let mut idx = filled(others, raw());
        let twin = fp(4242);
        for (v, how) in [(9001, Method::Token), (9002, Method::Fingerprint)] {
            idx.upsert(&vid(v), &twin, 0, Method::New);
            for day in 1..=8 {
                idx.upsert(&vid(v), &twin, day * 86_400_000, how);
            }
        }
        idx
    }

    #[test]
    fn a_visit_without_a_token_is_likelier_from_a_visitor_who_comes_back_without_one() {
        let idx = twins_by_habit(500);
        let now = 9 * 86_400_000;
        let twin = fp(4242);
        // Equally active twins: by activity alone each is as likely as the other (the first
        // in slot order, the keeper, is named).
        let plain = idx.score(&twin, now, false).ranking(None);
        let (top, share) = plain.top.expect("retrieved");
        assert_eq!(idx.visitor_id(top), vid(9001));
        assert!((share - 0.5).abs() < 1e-6, "{share}");
        // Half of all returns came without a token; the clearer's 8 of 8 drawn towards that by
        // two pseudo-returns make 0.9, the keeper's 0 of 8 make 0.1: nine to one.
        let (keeper, clearer) = (
            idx.slot_of(&vid(9001)).expect("known"),
            idx.slot_of(&vid(9002)).expect("known"),
        );
        assert!((idx.arrival_prior(clearer) - (0.9f64 / 0.5).ln()).abs() < 0.01);
        assert!((idx.arrival_prior(keeper) - (0.1f64 / 0.5).ln()).abs() < 0.01);
        let weighed = idx.score(&twin, now, true).ranking(None);
        let (top, share) = weighed.top.expect("retrieved");
        assert_eq!(idx.visitor_id(top), vid(9002));
        assert!((share - 0.9).abs() < 0.01, "{share}");
        // Switched off, the prior is even.
        let off = Index {
            params: ModelParams {
                arrival_pseudo_count: 0.0,
                ..raw()
            },
            ..twins_by_habit(500)
        };
        assert_eq!(off.arrival_prior(clearer), 0.0);
    }

    #[test]
    fn returns_counted_from_storage_weigh_as_those_seen() {
        let seen = twins_by_habit(50);
        let mut loaded = filled(50, raw());
        let day = 86_400_000;
        // Nine visits each, the keeper's eight returns by token, the clearer's by fingerprint.
        loaded.load(&vid(9001), &fp(4242), 9, 0, 0, 8 * day);
        loaded.load(&vid(9002), &fp(4242), 9, 8, 0, 8 * day);
        // Learnt from another node's visits, with the counts the store holds after each.
        let mut fed = filled(50, raw());
        for (v, matched) in [(9001, 0), (9002, 1)] {
            for visit in 0..9u64 {
                fed.upsert_stored(
                    &vid(v),
                    &fp(4242),
                    visit as i64 * day,
                    visit + 1,
                    matched * visit,
                );
            }
        }
        for v in [9001, 9002] {
            let slot = |idx: &Index| idx.slot_of(&vid(v)).expect("known");
            let seen_prior = seen.arrival_prior(slot(&seen));
            assert!((seen_prior - loaded.arrival_prior(slot(&loaded))).abs() < 1e-9);
            assert!((seen_prior - fed.arrival_prior(slot(&fed))).abs() < 1e-9);
        }
        // More recognised returns than returns cannot be: capped.
        loaded.load(&vid(9003), &fp(77), 3, 10, 0, day);
        let s = loaded.slot_of(&vid(9003)).expect("known");
        assert_eq!(
            loaded.slots[s as usize].returns,
            Returns {
                returns: 2,
                matched: 2
            }
        );
        // Forgetting a visitor takes its returns out of every visitor's.
        let before = loaded.total_returns;
        assert!(loaded.remove(&vid(9002)));
        assert_eq!(loaded.total_returns, (before.0 - 8, before.1 - 8));
    }

    #[test]
    fn updates_and_removal_keep_the_index_consistent() {
        let mut idx = Index::new(ModelParams::default());
        for i in 0..100 {
            idx.upsert(&vid(i), &fp(i % 10), 0, Method::New); // crowds of ten
        }
        assert_eq!(idx.len(), 100);
        idx.upsert(&vid(5), &fp(500), 0, Method::New);
        assert_eq!(idx.len(), 100);
        assert_eq!(idx.find(&fp(500), 0).visitor_id, Some(vid(5)));
        assert!(idx.remove(&vid(5)));
        assert!(!idx.remove(&vid(5)));
        assert_eq!(idx.find(&fp(500), 0).method, Method::New);
        for i in 0..100 {
            idx.remove(&vid(i));
        }
        assert!(idx.is_empty());
        assert!(
            idx.bands.iter().all(HashMap::is_empty),
            "no posting left behind"
        );
        assert!(idx.token_evidence(&vid(1), &fp(1), 0).is_none());
    }
}
