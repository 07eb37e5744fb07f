//! FP-Stalker, both variants, as baselines of `prynt-bench accuracy`.
//!
//! FP-Stalker is the linker of Vastel, Laperdrix, Rudametkin and Rouvoy, "FP-STALKER: Tracking
//! Browser Fingerprint Evolutions" (IEEE Symposium on Security and Privacy 2018). This is a
//! reimplementation from the paper and its public code (the repository Spirals-Team/FPStalker:
//! `rule_based` and `ml_based` in `algo.py`, the attributes in `fingerprint.py`, the
//! parameters in `main.py`); none of that code is copied here.
//!
//! Both variants keep, as the paper's replay does, the two latest fingerprints of each visitor
//! ID, and forget an ID whose latest fingerprint is more than 30 days old (checked every 2,000
//! recorded visits). Both first look for an exact match: a known fingerprint with every
//! attribute equal links to its ID when all such fingerprints carry one ID, and gives a new ID
//! when they carry several. Only without an exact match do they go on:
//!
//! - Rule-based (`rule_based`): a known fingerprint is a candidate when it has the same OS,
//!   `navigator.platform` and browser family; the browser version did not go down; when both
//!   list fonts, one list contains the other; canvas, local storage, Do-Not-Track and cookies
//!   are unchanged; at most two of user agent, WebGL vendor, WebGL renderer, plugins and
//!   languages changed, each keeping a similarity of at least 0.75 (Levenshtein ratio); and at
//!   most one of screen resolution and time zone changed. Candidates with nothing changed
//!   among those count as exact matches. The visit links when the candidates all carry one ID.
//! - Hybrid (`ml_based`): a known fingerprint is a candidate when it has the same OS, platform
//!   and browser family, the version did not go down, and local storage, Do-Not-Track and
//!   cookies are unchanged. Each candidate pair gets the similarity features of
//!   [`features`]; a pair with more than five changed attributes is dropped, and a random
//!   forest gives the others the probability of being the same browser. Of the three most
//!   probable, those tied with the best must carry one ID, the best must exceed λ = 0.994
//!   (`main.py`), and it must be at least `diff` = 0.1 above the next distinct probability.
//!   The forest (ten trees, three features a split: scikit-learn's defaults the code used) is
//!   trained, as the paper trains on its training split, on a separate run of the benchmark's
//!   generator ([`TRAINING_SEED`]): consecutive visits of one browser are positive pairs, and
//!   each visit beside a random visit of another random browser a negative one; at most
//!   50,000 pairs of each class, drawn uniformly, keep the training to seconds.
//!
//! Attributes: FP-Stalker's, mapped to the closest of ours.
//!
//! | FP-Stalker | here |
//! |---|---|
//! | `os`, `browserFamily`, version (from the user agent) | the user-agent parser's OS, family and major version |
//! | `platformJS` | `navigator.platform` |
//! | `userAgentHttp` | `navigator.userAgent` |
//! | `languageHttp` (Accept-Language) | `navigator.languages`, joined |
//! | `vendorWebGLJS`, `rendererWebGLJS` | WebGL unmasked vendor and renderer |
//! | `pluginsJS` | plugins and MIME types |
//! | `resolutionJS` | screen width × height × colour depth, larger side first |
//! | `timezoneJS` | time-zone offset |
//! | `canvasJSHashed` | 2D canvas (text and geometry) |
//! | `cookiesJS`, `localJS`, `dntJS`, `sessionJS` | cookies enabled, local storage, Do-Not-Track, session storage |
//! | `fontsFlash` (fonts listed by Flash) | the agent's font list |
//! | `creationDate` (when the fingerprint was collected) | the visit's time |
//! | `acceptHttp`, `encodingHttp`, `IEDataJS` | none: the agent does not report HTTP headers, and there is no IE |
//!
//! The attributes without a counterpart are treated as never changing. The agent's other
//! components (hardware, screen density, audio, WebGL parameters and drawing, math) have no
//! place in FP-Stalker and are not used. Where this differs from the code: the browser version
//! is the major version as a number (the code compares major and minor concatenated as text);
//! the hybrid's change count leaves out the visitor ID, which the code counts although it is
//! the label; and when several candidates tie for the best probability, all of the three most
//! probable that tie must carry one ID (the code checks only the first of them when nothing
//! below the tie is among the three).

use std::collections::HashMap;

use crate::synth::Rng;
use prynt_core::agent::Components;
use prynt_identify::fingerprint::Comp;
use prynt_identify::{Decision, Fingerprint, Method};

use super::accuracy::{token_or, Matcher};
use super::forest::{Forest, Params};

/// The seed of the hybrid's training run; reporting runs use small seeds.
pub const TRAINING_SEED: u64 = 0x00F5_7A1C_E12D;
/// Link threshold on the forest's probability (`lambda_threshold` in `main.py`).
pub const LAMBDA: f64 = 0.994;
/// The best candidate must be this much more probable than the next (`diff` in `algo.py`).
pub const DIFF: f64 = 0.1;
/// A candidate pair with more changed attributes than this is not scored (`algo.py`).
const MAX_CHANGES: usize = 5;
/// Fingerprints kept per visitor ID (`nb_max_cmp`).
const KEPT: usize = 2;
/// An ID whose latest fingerprint is older than this is forgotten.
const FORGET_MS: i64 = 30 * 86_400_000;
/// How often, in recorded visits, old IDs are forgotten.
const PRUNE_EVERY: u64 = 2000;
/// Training pairs of each class at most, drawn uniformly from the training run's pairs.
const TRAINING_CAP: usize = 50_000;

/// FP-Stalker's attributes that have a counterpart here (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
enum A {
    UserAgent,
    Vendor,
    Renderer,
    Plugins,
    Language,
    Resolution,
    Timezone,
    Canvas,
    Cookies,
    LocalStorage,
    Dnt,
    SessionStorage,
    Fonts,
}

const N_ATTR: usize = 13;

/// One visit as FP-Stalker sees it. Attribute values are interned strings, 0 for "absent".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Print {
    /// OS, `navigator.platform` and browser family: the part that never changes.
    constant: (u32, u32, u32),
    version: u16,
    a: [u32; N_ATTR],
    at_ms: i64,
}

impl Print {
    fn get(&self, a: A) -> u32 {
        self.a[a as usize]
    }
    fn same(&self, other: &Print, a: A) -> bool {
        self.get(a) == other.get(a)
    }
    /// Every attribute equal: FP-Stalker's full-hash match.
    fn exact(&self, other: &Print) -> bool {
        self.constant == other.constant && self.a == other.a
    }
}

/// Interns attribute values and remembers their similarities.
#[derive(Default)]
pub(super) struct Attributes {
    ids: HashMap<String, u32>,
    strings: Vec<String>,
    /// Font-list value → its fonts' ids, sorted.
    font_sets: HashMap<u32, Vec<u32>>,
    ratios: HashMap<(u32, u32), f32>,
}

impl Attributes {
    fn intern(&mut self, s: Option<String>) -> u32 {
        let Some(s) = s else { return 0 };
        if let Some(&id) = self.ids.get(&s) {
            return id;
        }
        self.strings.push(s.clone());
        let id = self.strings.len() as u32;
        self.ids.insert(s, id);
        id
    }

    fn text(&self, id: u32) -> &str {
        if id == 0 {
            ""
        } else {
            &self.strings[id as usize - 1]
        }
    }

    /// FP-Stalker's view of a visit.
    pub(super) fn print(&mut self, c: &Components, fp: &Fingerprint, at_ms: i64) -> Print {
        let mut a = [0u32; N_ATTR];
        let gl = c.webgl.as_ref();
        let mut set =
            |a: &mut [u32; N_ATTR], k: A, v: Option<String>| a[k as usize] = self.intern(v);
        set(&mut a, A::UserAgent, c.user_agent.clone());
        set(
            &mut a,
            A::Vendor,
            gl.and_then(|g| g.unmasked_vendor.clone().or_else(|| g.vendor.clone())),
        );
        set(
            &mut a,
            A::Renderer,
            gl.and_then(|g| g.unmasked_renderer.clone().or_else(|| g.renderer.clone())),
        );
        set(
            &mut a,
            A::Plugins,
            (c.plugins.is_some() || c.mime_types.is_some()).then(|| {
                let plugins = c.plugins.iter().flatten().cloned().collect::<Vec<_>>();
                let mimes = c.mime_types.iter().flatten().cloned().collect::<Vec<_>>();
                format!("{}; {}", plugins.join("; "), mimes.join("; "))
            }),
        );
        set(
            &mut a,
            A::Language,
            c.languages.as_ref().map(|l| l.join(",")),
        );
        set(
            &mut a,
            A::Resolution,
            c.screen
                .as_ref()
                .and_then(|s| Some((s.w?, s.h?, s.color_depth.unwrap_or(0))))
                .map(|(w, h, d)| format!("{}x{}x{d}", w.max(h), w.min(h))),
        );
        set(
            &mut a,
            A::Timezone,
            c.timezone_offset.map(|o| o.to_string()),
        );
        set(
            &mut a,
            A::Canvas,
            c.canvas.as_ref().map(|x| {
                format!(
                    "{}|{}",
                    x.text.as_deref().unwrap_or(""),
                    x.geometry.as_deref().unwrap_or("")
                )
            }),
        );
        let st = c.storage.as_ref();
        set(&mut a, A::Cookies, c.cookie_enabled.map(|b| b.to_string()));
        set(
            &mut a,
            A::LocalStorage,
            st.and_then(|s| s.local_storage).map(|b| b.to_string()),
        );
        set(&mut a, A::Dnt, c.do_not_track.clone());
        set(
            &mut a,
            A::SessionStorage,
            st.and_then(|s| s.session_storage).map(|b| b.to_string()),
        );
        if let Some(list) = c.fonts.as_ref().filter(|l| !l.is_empty()) {
            let mut names: Vec<&str> = list.iter().map(String::as_str).collect();
            names.sort_unstable();
            names.dedup();
            let id = self.intern(Some(names.join("_")));
            if !self.font_sets.contains_key(&id) {
                let mut set: Vec<u32> = names
                    .iter()
                    .map(|n| self.intern(Some((*n).to_owned())))
                    .collect();
                set.sort_unstable();
                self.font_sets.insert(id, set);
            }
            a[A::Fonts as usize] = id;
        }
        Print {
            constant: (
                fp.get(Comp::Os),
                self.intern(c.platform.clone()),
                fp.get(Comp::Browser),
            ),
            version: fp.browser_major,
            a,
            at_ms,
        }
    }

    /// The Levenshtein ratio of two values (python-Levenshtein's `ratio`, which the code uses):
    /// 1 − indel distance / total length, over characters.
    fn ratio(&mut self, x: u32, y: u32) -> f32 {
        if x == y {
            return 1.0;
        }
        let key = (x.min(y), x.max(y));
        if let Some(&r) = self.ratios.get(&key) {
            return r;
        }
        let r = levenshtein_ratio(self.text(x), self.text(y)) as f32;
        self.ratios.insert(key, r);
        r
    }

    /// Whether one font list contains the other (`areFontsSubset`).
    fn fonts_nested(&self, x: u32, y: u32) -> bool {
        if x == y {
            return true;
        }
        let (Some(a), Some(b)) = (self.font_sets.get(&x), self.font_sets.get(&y)) else {
            return true;
        };
        let subset =
            |small: &[u32], big: &[u32]| small.iter().all(|f| big.binary_search(f).is_ok());
        subset(a, b) || subset(b, a)
    }
}

/// 1 − (insertions + deletions to turn `a` into `b`) / (|a| + |b|): twice the longest common
/// subsequence over the total length. 1 for two empty strings.
pub(super) fn levenshtein_ratio(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let total = a.len() + b.len();
    if total == 0 {
        return 1.0;
    }
    let mut row = vec![0usize; b.len() + 1];
    for &ca in &a {
        let mut diag = 0;
        for j in 0..b.len() {
            let up = row[j + 1];
            row[j + 1] = if ca == b[j] { diag + 1 } else { up.max(row[j]) };
            diag = up;
        }
    }
    2.0 * row[b.len()] as f64 / total as f64
}

/// Where a print is filed: OS, platform and browser family, and for the rule-based variant
/// the canvas too, which its rules require unchanged (an index only: the same candidates).
type Key = ((u32, u32, u32), u32);

/// The visitor IDs seen so far and the latest fingerprints of those not forgotten.
#[derive(Default)]
struct Store {
    /// File prints by canvas as well.
    by_canvas: bool,
    ids: HashMap<String, u32>,
    names: Vec<String>,
    /// Per visitor: its latest prints, oldest first.
    prints: Vec<Vec<Print>>,
    /// Per visitor: the keys it is filed under.
    filed: Vec<Vec<Key>>,
    last_ms: Vec<i64>,
    buckets: HashMap<Key, Vec<u32>>,
    recorded: u64,
}

impl Store {
    fn key(&self, p: &Print) -> Key {
        (
            p.constant,
            if self.by_canvas { p.get(A::Canvas) } else { 0 },
        )
    }

    fn knows(&self, visitor: &str) -> bool {
        self.ids.contains_key(visitor)
    }

    fn record(&mut self, visitor: &str, p: Print) {
        let v = match self.ids.get(visitor) {
            Some(&v) => v,
            None => {
                let v = self.names.len() as u32;
                self.ids.insert(visitor.to_owned(), v);
                self.names.push(visitor.to_owned());
                self.prints.push(Vec::new());
                self.filed.push(Vec::new());
                self.last_ms.push(p.at_ms);
                v
            }
        } as usize;
        let prints = &mut self.prints[v];
        if prints.len() == KEPT {
            prints.remove(0);
        }
        prints.push(p);
        self.last_ms[v] = p.at_ms;
        let key = self.key(&p);
        if !self.filed[v].contains(&key) {
            self.filed[v].push(key);
            self.buckets.entry(key).or_default().push(v as u32);
        }
        self.recorded += 1;
        if self.recorded.is_multiple_of(PRUNE_EVERY) {
            self.forget_before(p.at_ms - FORGET_MS);
        }
    }

    /// Forgets the visitors whose latest fingerprint is older than `cutoff_ms`.
    fn forget_before(&mut self, cutoff_ms: i64) {
        let mut gone = false;
        for v in 0..self.prints.len() {
            if !self.prints[v].is_empty() && self.last_ms[v] < cutoff_ms {
                self.prints[v].clear();
                self.filed[v].clear();
                gone = true;
            }
        }
        if gone {
            let prints = &self.prints;
            for b in self.buckets.values_mut() {
                b.retain(|&v| !prints[v as usize].is_empty());
            }
        }
    }

    /// The kept prints of the same OS, platform and browser family as `p` (and canvas, when
    /// filed by canvas), with their visitor.
    fn candidates<'a>(&'a self, p: &'a Print) -> impl Iterator<Item = (u32, &'a Print)> + 'a {
        let key = self.key(p);
        self.buckets
            .get(&key)
            .into_iter()
            .flatten()
            .flat_map(move |&v| {
                self.prints[v as usize]
                    .iter()
                    .filter(move |k| self.key(k) == key)
                    .map(move |k| (v, k))
            })
    }

    /// The visit's exact matches: `Some(None)` when they carry several IDs.
    fn exact(&self, p: &Print) -> Option<Option<u32>> {
        let mut ids = OneId::default();
        for (v, k) in self.candidates(p) {
            if k.exact(p) {
                ids.add(v);
            }
        }
        ids.outcome()
    }

    fn decision(&self, ids: Option<u32>, confidence: f64) -> Decision {
        match ids {
            Some(v) => Decision::matched(self.names[v as usize].clone(), confidence),
            None => Decision::new_visitor(1.0),
        }
    }
}

/// Whether a set of candidates carries one visitor ID (`candidates_have_same_id`).
#[derive(Default)]
struct OneId {
    first: Option<u32>,
    several: bool,
}

impl OneId {
    fn add(&mut self, v: u32) {
        match self.first {
            None => self.first = Some(v),
            Some(f) if f != v => self.several = true,
            _ => {}
        }
    }
    /// `None` without candidates; `Some(Some(id))` when they carry one ID; `Some(None)` when
    /// several.
    fn outcome(&self) -> Option<Option<u32>> {
        self.first.map(|f| (!self.several).then_some(f))
    }
}

/// FP-Stalker's rules for a known fingerprint `k` to be a candidate for visit `p`: the number
/// of changed attributes among those counted, or `None` when ruled out.
fn rule_changes(attrs: &mut Attributes, p: &Print, k: &Print) -> Option<usize> {
    if k.version > p.version {
        return None;
    }
    let (pf, kf) = (p.get(A::Fonts), k.get(A::Fonts));
    if pf != 0 && kf != 0 && !attrs.fonts_nested(pf, kf) {
        return None;
    }
    if [A::Canvas, A::LocalStorage, A::Dnt, A::Cookies]
        .iter()
        .any(|&a| !p.same(k, a))
    {
        return None;
    }
    // User agent, WebGL vendor and renderer, plugins, languages (and Accept, which has no
    // counterpart): at most two changes, each still similar.
    let mut changed = 0;
    for a in [
        A::UserAgent,
        A::Vendor,
        A::Renderer,
        A::Plugins,
        A::Language,
    ] {
        if !p.same(k, a) {
            changed += 1;
            if changed > 2 || attrs.ratio(p.get(a), k.get(a)) < 0.75 {
                return None;
            }
        }
    }
    // Resolution, time zone (and Accept-Encoding): at most one change.
    let others = [A::Resolution, A::Timezone]
        .iter()
        .filter(|&&a| !p.same(k, a))
        .count();
    (others <= 1).then_some(changed + others)
}

/// The rule-based variant (`rule_based` in `algo.py`).
pub(super) struct RuleBased {
    attrs: Attributes,
    store: Store,
}

impl Default for RuleBased {
    fn default() -> Self {
        RuleBased {
            attrs: Attributes::default(),
            store: Store {
                by_canvas: true,
                ..Store::default()
            },
        }
    }
}

impl RuleBased {
    fn link(&mut self, p: &Print) -> Decision {
        if let Some(ids) = self.store.exact(p) {
            return self.store.decision(ids, 1.0);
        }
        let (mut unchanged, mut changed) = (OneId::default(), OneId::default());
        for (v, k) in self.store.candidates(p) {
            match rule_changes(&mut self.attrs, p, k) {
                Some(0) => unchanged.add(v),
                Some(_) => changed.add(v),
                None => {}
            }
        }
        let ids = unchanged.outcome().or(changed.outcome()).flatten();
        self.store.decision(ids, 1.0)
    }
}

/// Both variants answer a token they know, otherwise link the visit's print their own way
/// (`link`), and keep every recorded visit's print: the same glue for each.
macro_rules! matcher_over_link {
    ($variant:ty) => {
        impl Matcher for $variant {
            fn decide(
                &mut self,
                c: &Components,
                fp: &Fingerprint,
                claimed: Option<&str>,
                at_ms: i64,
            ) -> Decision {
                let known = claimed.is_some_and(|v| self.store.knows(v));
                token_or(known, claimed, || {
                    let p = self.attrs.print(c, fp, at_ms);
                    self.link(&p)
                })
            }
            fn record(
                &mut self,
                visitor: &str,
                _how: Method,
                c: &Components,
                fp: &Fingerprint,
                at_ms: i64,
            ) {
                let p = self.attrs.print(c, fp, at_ms);
                self.store.record(visitor, p);
            }
            fn forget(&mut self) {
                self.store = Store {
                    by_canvas: self.store.by_canvas,
                    ..Store::default()
                };
            }
        }
    };
}

matcher_over_link!(RuleBased);

/// Number of similarity features of a pair.
pub const FEATURES: usize = 10;

/// The similarity features of visit `p` and known fingerprint `k` (`compute_similarity_
/// fingerprint` over the attributes the code keeps for the forest, in its order): canvas
/// equal, days between them, both list fonts, font lists equal, similarity of languages,
/// plugins, WebGL renderer, resolution equal, similarity of user agents, and the number of
/// changed attributes (the time counting as one, as in the code), which is also returned.
fn features(attrs: &mut Attributes, p: &Print, k: &Print) -> ([f32; FEATURES], usize) {
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let fonts = p.get(A::Fonts) != 0 && k.get(A::Fonts) != 0;
    let changes = usize::from(p.at_ms != k.at_ms)
        + [
            A::Canvas,
            A::Fonts,
            A::Language,
            A::Plugins,
            A::Renderer,
            A::Resolution,
            A::UserAgent,
        ]
        .iter()
        .filter(|&&a| !p.same(k, a))
        .count();
    let mut sim = |a: A| attrs.ratio(p.get(a), k.get(a));
    let x = [
        flag(p.same(k, A::Canvas)),
        ((p.at_ms - k.at_ms).abs() as f64 / 86_400_000.0) as f32,
        flag(fonts),
        flag(fonts && p.same(k, A::Fonts)),
        sim(A::Language),
        sim(A::Plugins),
        sim(A::Renderer),
        flag(p.same(k, A::Resolution)),
        sim(A::UserAgent),
        changes as f32,
    ];
    (x, changes)
}

/// The hybrid's rules: same OS, platform and browser family (the caller's bucket), version not
/// down, local storage, Do-Not-Track and cookies unchanged.
fn hybrid_fits(p: &Print, k: &Print) -> bool {
    k.version <= p.version
        && [A::LocalStorage, A::Dnt, A::Cookies]
            .iter()
            .all(|&a| p.same(k, a))
}

/// What the hybrid was trained on.
#[derive(Debug, Clone, Copy)]
pub struct Training {
    pub seed: u64,
    pub positives: usize,
    pub negatives: usize,
    pub trees: usize,
    pub nodes: usize,
}

/// The hybrid variant (`ml_based` in `algo.py`).
pub(super) struct Hybrid {
    attrs: Attributes,
    store: Store,
    forest: Forest,
    scored: Vec<(f64, u32)>,
    /// How the token-less visits that reached the forest were answered.
    pub outcomes: Outcomes,
}

/// Of the visits the forest scored: linked; best probability not above λ; best within `diff`
/// of the next; best shared by candidates of several IDs.
#[derive(Debug, Default, Clone, Copy)]
pub struct Outcomes {
    pub linked: usize,
    pub below_lambda: usize,
    pub too_close: usize,
    pub tied_ids: usize,
}

/// Training pairs from a run whose browsers are known: `visits` holds each visit's browser and
/// print, in time order.
fn training_set(
    attrs: &mut Attributes,
    visits: &[(usize, Print)],
    seed: u64,
) -> (Vec<f32>, Vec<bool>, usize, usize) {
    let browsers = visits.iter().map(|(b, _)| b + 1).max().unwrap_or(0);
    let mut by_browser: Vec<Vec<Print>> = vec![Vec::new(); browsers];
    for (b, p) in visits {
        by_browser[*b].push(*p);
    }
    let present: Vec<usize> = (0..browsers)
        .filter(|&b| !by_browser[b].is_empty())
        .collect();
    let mut rng = Rng::new(seed);
    let mut positives = Vec::new();
    let mut negatives = Vec::new();
    for (b, prints) in by_browser.iter().enumerate() {
        for w in prints.windows(2) {
            positives.push((w[1], w[0]));
        }
        if present.len() < 2 {
            continue;
        }
        for p in prints {
            let other = loop {
                let o = present[rng.below(present.len())];
                if o != b {
                    break o;
                }
            };
            let q = &by_browser[other];
            negatives.push((*p, q[rng.below(q.len())]));
        }
    }
    // Uniform samples of at most TRAINING_CAP pairs of each class (partial Fisher–Yates).
    for pairs in [&mut positives, &mut negatives] {
        let keep = pairs.len().min(TRAINING_CAP);
        for i in 0..keep {
            let j = i + rng.below(pairs.len() - i);
            pairs.swap(i, j);
        }
        pairs.truncate(keep);
    }
    let mut x = Vec::with_capacity((positives.len() + negatives.len()) * FEATURES);
    let mut y = Vec::with_capacity(positives.len() + negatives.len());
    for (pairs, label) in [(&positives, true), (&negatives, false)] {
        for (p, k) in pairs.iter() {
            x.extend(features(attrs, p, k).0);
            y.push(label);
        }
    }
    (x, y, positives.len(), negatives.len())
}

impl Hybrid {
    /// Trains the forest on the visits of a training run (each with its browser, in time
    /// order), labelled by the truth.
    pub(super) fn train(visits: &[(usize, Print)], attrs: Attributes) -> (Hybrid, Training) {
        let mut attrs = attrs;
        let (x, y, positives, negatives) = training_set(&mut attrs, visits, TRAINING_SEED);
        let params = Params {
            seed: TRAINING_SEED,
            ..Params::default()
        };
        let forest = Forest::fit(&x, FEATURES, &y, params);
        let training = Training {
            seed: TRAINING_SEED,
            positives,
            negatives,
            trees: params.trees,
            nodes: forest.nodes(),
        };
        let hybrid = Hybrid {
            attrs,
            store: Store::default(),
            forest,
            scored: Vec::new(),
            outcomes: Outcomes::default(),
        };
        (hybrid, training)
    }

    fn link(&mut self, p: &Print) -> Decision {
        if let Some(ids) = self.store.exact(p) {
            return self.store.decision(ids, 1.0);
        }
        self.scored.clear();
        for (v, k) in self.store.candidates(p) {
            if !hybrid_fits(p, k) {
                continue;
            }
            let (x, changes) = features(&mut self.attrs, p, k);
            if changes <= MAX_CHANGES {
                self.scored.push((self.forest.predict(&x), v));
            }
        }
        if self.scored.is_empty() {
            return Decision::new_visitor(1.0);
        }
        // The three most probable, most probable first (ties in the order found).
        let top = self.scored.len().min(3);
        if self.scored.len() > 3 {
            self.scored
                .select_nth_unstable_by(2, |a, b| b.0.total_cmp(&a.0));
        }
        self.scored[..top].sort_by(|a, b| b.0.total_cmp(&a.0));
        let best = self.scored[0].0;
        let mut ids = OneId::default();
        let mut next = None;
        for &(s, v) in &self.scored[..top] {
            if s == best {
                ids.add(v);
            } else {
                next = Some(s);
                break;
            }
        }
        let apart = next.is_none_or(|s| best >= s + DIFF);
        let one = ids.outcome().flatten();
        let o = &mut self.outcomes;
        match (best > LAMBDA, apart, one) {
            (false, _, _) => o.below_lambda += 1,
            (true, false, _) => o.too_close += 1,
            (true, true, None) => o.tied_ids += 1,
            (true, true, Some(_)) => o.linked += 1,
        }
        let ids = one.filter(|_| best > LAMBDA && apart);
        self.store.decision(ids, best)
    }
}

matcher_over_link!(Hybrid);

#[cfg(test)]
mod tests {
    use super::*;
    use prynt_core::agent::{Canvas, Screen, Storage, WebGl};

    const DAY: i64 = 86_400_000;

    /// A Windows Chrome visit; `ua_major` and `canvas` vary per case.
    fn components(major: u32, canvas: &str, lang: &str) -> Components {
        Components {
            user_agent: Some(format!(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.0.0 Safari/537.36"
            )),
            platform: Some("Win32".into()),
            languages: Some(vec![lang.into(), "en".into()]),
            timezone_offset: Some(300),
            screen: Some(Screen {
                w: Some(1920),
                h: Some(1080),
                color_depth: Some(24),
                ..Default::default()
            }),
            cookie_enabled: Some(true),
            canvas: Some(Canvas {
                text: Some(canvas.into()),
                geometry: Some("g".into()),
                winding: None,
            }),
            webgl: Some(WebGl {
                unmasked_vendor: Some("Google Inc. (NVIDIA)".into()),
                unmasked_renderer: Some("ANGLE (NVIDIA GeForce RTX 3060)".into()),
                ..Default::default()
            }),
            storage: Some(Storage {
                local_storage: Some(true),
                session_storage: Some(true),
                ..Default::default()
            }),
            fonts: Some(vec!["Arial".into(), "Calibri".into(), "Segoe UI".into()]),
            plugins: Some(vec!["PDF Viewer".into()]),
            mime_types: Some(vec!["application/pdf".into()]),
            ..Default::default()
        }
    }

    /// The fingerprint fields FP-Stalker reads beside the components: OS, family, version.
    fn fingerprint(major: u16) -> Fingerprint {
        let mut fp = Fingerprint::default();
        fp.h[Comp::Os as usize] = 1;
        fp.h[Comp::Browser as usize] = 2;
        fp.browser_major = major;
        fp
    }

    fn visit<M: Matcher>(m: &mut M, c: &Components, major: u16, at: i64) -> Decision {
        m.decide(c, &fingerprint(major), None, at)
    }

    /// `visitor` known from a visit of browser version `major` (the baselines ignore how it
    /// was identified).
    fn remember<M: Matcher>(m: &mut M, visitor: &str, c: &Components, major: u16, at: i64) {
        m.record(visitor, Method::New, c, &fingerprint(major), at);
    }

    #[test]
    fn the_ratio_is_python_levenshtein_s() {
        assert_eq!(levenshtein_ratio("", ""), 1.0);
        assert_eq!(levenshtein_ratio("abc", "abc"), 1.0);
        assert_eq!(levenshtein_ratio("abc", ""), 0.0);
        // One substitution counts as a deletion and an insertion: (8 − 2) / 8.
        assert!((levenshtein_ratio("kitt", "kits") - 0.75).abs() < 1e-9);
        // "kitten" / "sitting": longest common subsequence 4 of 13 characters.
        assert!((levenshtein_ratio("kitten", "sitting") - 8.0 / 13.0).abs() < 1e-9);
    }

    #[test]
    fn rules_link_an_exact_match_first() {
        let mut m = RuleBased::default();
        let a = components(120, "c1", "en-US");
        remember(&mut m, "v1", &a, 120, 0);
        // Another visitor one change away (a language added) does not make it ambiguous: the
        // exact match wins.
        let mut b = a.clone();
        b.languages = Some(vec!["en-US".into(), "en".into(), "de".into()]);
        remember(&mut m, "v2", &b, 120, DAY);
        let d = visit(&mut m, &a, 120, 2 * DAY);
        assert_eq!(d.visitor_id.as_deref(), Some("v1"));
        assert_eq!(d.method, Method::Fingerprint);
    }

    #[test]
    fn rules_link_when_all_candidates_carry_one_id() {
        let mut m = RuleBased::default();
        // Two kept prints of v1 (version 119, then 120); the visit is version 121: both are
        // candidates, one ID.
        remember(&mut m, "v1", &components(119, "c1", "en-US"), 119, 0);
        remember(&mut m, "v1", &components(120, "c1", "en-US"), 120, DAY);
        let d = visit(&mut m, &components(121, "c1", "en-US"), 121, 2 * DAY);
        assert_eq!(d.visitor_id.as_deref(), Some("v1"));
    }

    #[test]
    fn rules_give_a_new_id_when_candidates_carry_two() {
        let mut m = RuleBased::default();
        remember(&mut m, "v1", &components(120, "c1", "en-US"), 120, 0);
        remember(&mut m, "v2", &components(119, "c1", "en-US"), 119, 0);
        let d = visit(&mut m, &components(121, "c1", "en-US"), 121, DAY);
        assert_eq!(d.method, Method::New);
        // Two exact matches of two IDs are no link either.
        remember(&mut m, "v3", &components(121, "c1", "en-US"), 121, DAY);
        remember(&mut m, "v4", &components(121, "c1", "en-US"), 121, DAY);
        let d = visit(&mut m, &components(121, "c1", "en-US"), 121, 2 * DAY);
        assert_eq!(d.method, Method::New);
    }

    #[test]
    fn rules_rule_out_a_lower_version_and_a_changed_canvas() {
        let mut m = RuleBased::default();
        remember(&mut m, "v1", &components(121, "c1", "en-US"), 121, 0);
        // The visit has an older browser than the known fingerprint: not the same browser.
        let d = visit(&mut m, &components(120, "c1", "en-US"), 120, DAY);
        assert_eq!(d.method, Method::New);
        // A newer one links…
        let d = visit(&mut m, &components(122, "c1", "en-US"), 122, DAY);
        assert_eq!(d.visitor_id.as_deref(), Some("v1"));
        // …but not with another canvas, nor with a language too different.
        let d = visit(&mut m, &components(122, "c2", "en-US"), 122, DAY);
        assert_eq!(d.method, Method::New);
        let d = visit(&mut m, &components(122, "c1", "ja-JP"), 122, DAY);
        assert_eq!(d.method, Method::New);
    }

    #[test]
    fn rules_forget_ids_after_thirty_days() {
        let mut m = RuleBased::default();
        remember(&mut m, "old", &components(120, "c1", "en-US"), 120, 0);
        for i in 0..PRUNE_EVERY {
            let c = components(120, &format!("other{i}"), "en-US");
            remember(&mut m, &format!("o{i}"), &c, 120, 31 * DAY);
        }
        let d = visit(&mut m, &components(120, "c1", "en-US"), 120, 31 * DAY);
        assert_eq!(d.method, Method::New);
        // Its token is still honoured.
        let d = m.decide(
            &components(120, "c1", "en-US"),
            &fingerprint(120),
            Some("old"),
            31 * DAY,
        );
        assert_eq!(d.method, Method::Token);
    }

    /// A hybrid trained on browsers that upgrade and sometimes change canvas, among strangers
    /// of other canvases, languages and renderers.
    fn trained() -> Hybrid {
        let mut attrs = Attributes::default();
        let mut visits = Vec::new();
        let langs = ["en-US", "de-DE", "fr-FR", "es-ES", "ja-JP"];
        for day in 0..20i64 {
            for b in 0..60usize {
                let major = 118 + (day / 7 + b as i64 % 3) as u32;
                // A driver update on day 10 for a third of the browsers.
                let canvas = format!("c{b}-{}", usize::from(day >= 10 && b % 3 == 0));
                let mut c = components(major, &canvas, langs[b % langs.len()]);
                c.webgl.as_mut().unwrap().unmasked_renderer = Some(format!("GPU model {}", b % 7));
                let p = attrs.print(&c, &fingerprint(major as u16), day * DAY + b as i64);
                visits.push((b, p));
            }
        }
        Hybrid::train(&visits, attrs).0
    }

    #[test]
    fn a_trained_hybrid_links_its_browser_and_not_a_stranger() {
        let mut m = trained();
        let mut known = components(120, "c5-0", "en-US");
        known.webgl.as_mut().unwrap().unmasked_renderer = Some("GPU model 5".into());
        remember(&mut m, "v1", &known, 120, 0);
        // The same browser a day later, one version up: linked.
        let mut later = known.clone();
        later.user_agent = components(121, "", "").user_agent;
        let d = visit(&mut m, &later, 121, DAY);
        assert_eq!(d.visitor_id.as_deref(), Some("v1"), "{d:?}");
        assert!(d.confidence > LAMBDA);
        // A stranger of the same OS and browser, with another canvas, renderer and language:
        // a new visitor.
        let mut stranger = components(121, "c9-0", "ja-JP");
        stranger.webgl.as_mut().unwrap().unmasked_renderer = Some("GPU model 2".into());
        let d = visit(&mut m, &stranger, 121, DAY);
        assert_eq!(d.method, Method::New, "{d:?}");
    }

    #[test]
    fn the_hybrid_needs_one_id_among_tied_best_candidates() {
        let mut m = trained();
        let mut known = components(120, "c5-0", "en-US");
        known.webgl.as_mut().unwrap().unmasked_renderer = Some("GPU model 5".into());
        // Two visitors with the same fingerprint: the upgraded visit ties between them.
        remember(&mut m, "v1", &known, 120, 0);
        remember(&mut m, "v2", &known, 120, 0);
        let mut later = known.clone();
        later.user_agent = components(121, "", "").user_agent;
        let d = visit(&mut m, &later, 121, DAY);
        assert_eq!(d.method, Method::New, "{d:?}");
    }
}
