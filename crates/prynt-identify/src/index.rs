//! The matching index of one workspace environment: every known visitor's latest fingerprint,
//! found again by locality-sensitive bands and scored by the [`ModelParams`] likelihood model.
//!
//! Candidate retrieval: each fingerprint is filed under a few band keys, each a hash of a small
//! group of components that rarely change together. A returning browser whose drift broke some
//! bands still shares another. Members of very large bands (crowds of identical devices) are
//! not all scored; they are counted as competitors, which lowers the confidence instead of
//! letting the matcher guess.
//!
//! Memory: about 100 bytes of profile, 40 to 80 bytes of band postings and 20 to 40 bytes of
//! visitor lookup per visitor, plus fixed-size value sketches.

use std::collections::HashMap;

use crate::fingerprint::{hash32, Comp, Fingerprint, N_COMP};
use crate::model::{ModelParams, STACK_KEY};
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

pub struct Index {
    params: ModelParams,
    slots: Vec<Slot>,
    free: Vec<u32>,
    by_visitor: HashMap<u64, u32>,
    bands: Vec<HashMap<u32, u32>>,
    overflow: Vec<Vec<u32>>,
    overflow_free: Vec<u32>,
    sketches: Vec<CountMin>,
    live: usize,
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
            params,
            slots: Vec::new(),
            free: Vec::new(),
            by_visitor: HashMap::new(),
            bands: (0..N_BANDS).map(|_| HashMap::new()).collect(),
            overflow: Vec::new(),
            overflow_free: Vec::new(),
            sketches: (0..=N_COMP).map(|_| CountMin::new()).collect(),
            live: 0,
        }
    }

    pub fn params(&self) -> &ModelParams {
        &self.params
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

    /// The latest fingerprint of a visitor.
    pub fn profile(&self, visitor_id: &str) -> Option<&Fingerprint> {
        self.slot_of(visitor_id).map(|s| &self.slots[s as usize].fp)
    }

    /// Records `fp` as the visitor's latest fingerprint, replacing the previous one.
    pub fn upsert(&mut self, visitor_id: &str, fp: &Fingerprint) {
        let Some(bytes) = vid_bytes(visitor_id) else {
            return;
        };
        if let Some(slot) = self.slot_of(visitor_id) {
            let old = self.slots[slot as usize].fp;
            self.unfile(slot, &old);
            self.slots[slot as usize].fp = *fp;
            self.file(slot, fp);
            return;
        }
        let entry = Slot {
            visitor: bytes,
            alive: true,
            fp: *fp,
        };
        let slot = reuse_or_push(&mut self.slots, &mut self.free, entry);
        self.by_visitor.insert(vid_key(&bytes), slot);
        self.file(slot, fp);
        self.live += 1;
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

    /// Evidence that `fp` is the visitor holding a token, or `None` when the visitor is
    /// unknown or cannot be the same browser.
    pub fn token_evidence(&self, visitor_id: &str, fp: &Fingerprint) -> Option<f64> {
        let known = self.profile(visitor_id)?;
        self.params
            .evidence(fp, known, &|k, v| self.collision(k, v))
    }

    /// Identifies a visit: the visitor its token claims when the token's visitor is known and
    /// the fingerprint is consistent with it, else the fuzzy match, else a new visitor. The
    /// caller has already checked the token's signature, scope and age.
    pub fn decide(&self, fp: &Fingerprint, claimed: Option<&str>) -> Decision {
        if let Some(v) = claimed {
            if self
                .token_evidence(v, fp)
                .is_some_and(|e| e >= self.params.token_min_evidence)
            {
                return Decision::token(v);
            }
        }
        self.find(fp)
    }

    /// Finds the known visitor a token-less visit belongs to, if one is likely enough
    /// ([`Method::Fingerprint`]); otherwise the visit is new ([`Method::New`]) and `confidence`
    /// is the probability that it really is (low when it is one of a crowd of identical devices).
    pub fn find(&self, fp: &Fingerprint) -> Decision {
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
        let prepared = self.params.prepare(fp, &|k, v| self.collision(k, v));
        candidates.sort_unstable_by_key(|c| c.0);
        let mut scored: Vec<(u32, f64)> = Vec::with_capacity(candidates.len());
        // Per crowd band: summed likelihood ratio and number of its scored members.
        let mut crowd_seen = [(0.0f64, 0usize); N_BANDS];
        let mut last = u32::MAX;
        let mut last_ev = None;
        for &(slot, band) in &candidates {
            if slot != last {
                last = slot;
                last_ev = prepared.evidence(&self.slots[slot as usize].fp);
                if let Some(e) = last_ev {
                    scored.push((slot, e));
                }
            }
            if band != usize::MAX {
                crowd_seen[band].0 += last_ev.map_or(0.0, f64::exp);
                crowd_seen[band].1 += 1;
            }
        }
        // Unscored crowd members are competitors as likely, on average, as the scored ones.
        let extra: f64 = crowds
            .iter()
            .filter(|(band, _)| crowd_seen[*band].1 > 0)
            .map(|&(band, unscanned)| {
                unscanned as f64 * crowd_seen[band].0 / crowd_seen[band].1 as f64
            })
            .sum();
        let evidence: Vec<f64> = scored.iter().map(|(_, e)| *e).collect();
        let (post, p_new) = self.params.posterior(&evidence, self.live, extra);
        let best = post.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1));
        match best {
            Some((i, &p)) if p >= self.params.link_threshold => {
                let slot = &self.slots[scored[i].0 as usize];
                Decision::matched(format!("pv_{}", String::from_utf8_lossy(&slot.visitor)), p)
            }
            _ => Decision::new_visitor(p_new),
        }
    }

    /// Whether candidate retrieval for `fp` reaches `visitor_id` at all (in any band, sampled
    /// or not), and the evidence that `fp` is that visitor: for explaining missed matches.
    pub fn explain(&self, fp: &Fingerprint, visitor_id: &str) -> (bool, Option<f64>) {
        let Some(slot) = self.slot_of(visitor_id) else {
            return (false, None);
        };
        let retrieved = (0..N_BANDS).any(|band| self.members(band, fp).contains(&slot));
        (retrieved, self.token_evidence(visitor_id, fp))
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

    #[test]
    fn a_drifted_browser_is_found_among_many() {
        let mut idx = Index::new(ModelParams::default());
        for i in 0..5000 {
            idx.upsert(&vid(i), &fp(i));
        }
        let mut visit = fp(1234);
        visit.h[Comp::Screen as usize] = 1;
        visit.h[Comp::Timezone as usize] = 2;
        visit.browser_major = 121;
        let found = idx.find(&visit);
        assert_eq!(found.method, Method::Fingerprint, "{found:?}");
        assert_eq!(found.visitor_id, Some(vid(1234)));
        assert!(found.confidence > 0.99, "{found:?}");
        // A browser never seen is new with high confidence.
        let stranger = idx.find(&fp(999_999));
        assert_eq!(stranger.method, Method::New, "{stranger:?}");
        assert!(stranger.visitor_id.is_none() && stranger.confidence > 0.99);
    }

    #[test]
    fn identical_devices_are_ambiguous_not_guessed() {
        let mut idx = Index::new(ModelParams::default());
        for i in 0..50 {
            idx.upsert(&vid(i), &fp(i));
        }
        for i in 100..110 {
            idx.upsert(&vid(i), &fp(4242)); // ten identical phones
        }
        let crowd = idx.find(&fp(4242));
        assert_eq!(
            crowd.method,
            Method::New,
            "a crowd must not be guessed: {crowd:?}"
        );
        assert!(crowd.confidence < 0.5, "{crowd:?}");
    }

    #[test]
    fn updates_and_removal_keep_the_index_consistent() {
        let mut idx = Index::new(ModelParams::default());
        for i in 0..100 {
            idx.upsert(&vid(i), &fp(i % 10)); // crowds of ten
        }
        assert_eq!(idx.len(), 100);
        idx.upsert(&vid(5), &fp(500));
        assert_eq!(idx.len(), 100);
        assert_eq!(idx.find(&fp(500)).visitor_id, Some(vid(5)));
        assert!(idx.remove(&vid(5)));
        assert!(!idx.remove(&vid(5)));
        assert_eq!(idx.find(&fp(500)).method, Method::New);
        for i in 0..100 {
            idx.remove(&vid(i));
        }
        assert!(idx.is_empty());
        assert!(
            idx.bands.iter().all(HashMap::is_empty),
            "no posting left behind"
        );
        assert!(idx.token_evidence(&vid(1), &fp(1)).is_none());
    }
}
