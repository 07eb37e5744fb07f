//! Confidence calibrated against the visits whose identity is known.
//!
//! The likelihood model's probabilities are only as good as its assumptions (independence of
//! components, change rates), and no fixed model fits every workspace's traffic. But every
//! visit that brings a valid token is a labelled example: the browser is known to be that
//! visitor. Matching such a visit as if it had no token shows how the model scores a real
//! return; matching it again with its own visitor left out (a "stranger") shows how a browser
//! the index does not hold scores against the index as it is now.
//!
//! From those counts the index reads, per score, how often a score like this one means a
//! return rather than a new browser, and, per share of the best candidate, how often the best
//! candidate is the right one. Both decide links, and the first one, as its complement, states
//! how sure a "new visitor" answer is. They are blended with the model's own probability where
//! the examples are few, so a new workspace starts from the model and moves to what its own
//! traffic shows.
//!
//! The strangers are biased (a browser with a second visitor ID still finds it; one seen for a
//! while has drifted from the factory state in which new browsers arrive), in the direction of
//! scoring like returns: a "new visitor" answer read from them leans towards "maybe a return",
//! which is the honest side. An estimate of how new browsers score taken from the token-less
//! visits themselves (learning from positive and unlabelled examples) was tried and dropped: it
//! assumes token-less returns score like labelled ones, and real token-less returns (after
//! storage clearing, in private windows, after long absences) score lower, so it called them
//! new with too much confidence (docs/identification.md).
//!
//! Counters are atomics so that identification can learn through a shared reference. The
//! labelled returns are halved when they grow large, so that they follow the traffic.

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

/// Bins of the log Bayes factor "some known browser" against "a new one".
const S_BINS: usize = 48;
const S_MIN: f64 = -16.0;
const S_WIDTH: f64 = 1.0;
/// Bins of the logit of the best candidate's share of the known browsers' posterior.
const Q_BINS: usize = 24;
const Q_MIN: f64 = -4.0;
const Q_WIDTH: f64 = 0.75;
/// How many labelled examples the model's own probability is worth in each bin.
const PRIOR_WEIGHT: f64 = 5.0;
/// Examples of one kind after which every count of that kind is halved.
const HALVE_AT: u32 = 1 << 22;

fn bin(x: f64, min: f64, width: f64, n: usize) -> usize {
    (((x - min) / width).floor().max(0.0) as usize).min(n - 1)
}

/// log of (`r` of `all_r` examples) against (`n` of `all_n`): each class's share of its
/// examples in a bin, a half example added to each so that an empty bin is a bound, not
/// infinity.
fn share_ratio(r: f64, all_r: f64, n: f64, all_n: f64) -> f64 {
    ((r + 0.5) / (all_r + 0.5)).ln() - ((n + 0.5) / (all_n + 0.5)).ln()
}

/// The share of returns whose fingerprint changed in a way the model does not describe (an
/// anti-fingerprinting extension, a reinstall, a browser that noises what the model trusts):
/// such a return scores like a new browser. Without it the model would be certain of every
/// "new visitor" answer that nothing resembles until enough labelled returns said otherwise,
/// and a new workspace has none.
const OUT_OF_MODEL: f64 = 0.05;

/// The model's own log ratio for score `s`, allowing for returns out of the model:
/// ln((1 − ε) e^s + ε). Finite for every score, no candidate at all (−∞) included.
fn model_ratio(s: f64) -> f64 {
    let e = OUT_OF_MODEL;
    if s > 30.0 {
        s + (1.0 - e).ln()
    } else {
        ((1.0 - e) * s.exp() + e).ln()
    }
}

/// An `observed` log ratio resting on `weight` examples, blended with the model's own for
/// score `s` ([`model_ratio`]), which counts as [`PRIOR_WEIGHT`] examples.
fn blend(observed: f64, weight: f64, s: f64) -> f64 {
    (weight * observed + PRIOR_WEIGHT * model_ratio(s)) / (weight + PRIOR_WEIGHT)
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    (p / (1.0 - p)).ln()
}

/// How long ago the best candidate was last seen: no candidate at all, under a day, under a
/// week, a week or more. Returns after a long absence have drifted further, and browsers that
/// lost their storage (the token-less visits) are those that were away longer than the ones
/// that kept it: a labelled return's score is a fair example only for visits that come back
/// after a gap like its own, so every score count is kept per gap class, and each class's
/// ratios are read among that class's examples alone.
pub const GAP_CLASSES: usize = 4;

/// The gap class of a visit whose best candidate was last seen `gap_days` ago.
pub fn gap_class(gap_days: Option<f64>) -> usize {
    match gap_days {
        None => 0,
        Some(d) if d < 1.0 => 1,
        Some(d) if d < 7.0 => 2,
        Some(_) => 3,
    }
}

/// The score counts of one gap class.
struct ByScore {
    /// Per score bin: labelled returns and labelled strangers.
    returns: [AtomicU32; S_BINS],
    strangers: [AtomicU32; S_BINS],
    returns_total: AtomicU32,
}

impl Default for ByScore {
    fn default() -> Self {
        ByScore {
            returns: std::array::from_fn(|_| AtomicU32::new(0)),
            strangers: std::array::from_fn(|_| AtomicU32::new(0)),
            returns_total: AtomicU32::new(0),
        }
    }
}

/// Learnt calibration of one matching index.
pub struct Calibration {
    classes: [ByScore; GAP_CLASSES],
    /// Per best-candidate share bin, among labelled returns: all, and those whose best
    /// candidate was the right visitor.
    tops: [AtomicU32; Q_BINS],
    tops_right: [AtomicU32; Q_BINS],
    /// Token visits seen, for sampling one in `every`.
    seen: AtomicU64,
    /// The second (of visit time) whose examples `taken` counts: learning costs a match per
    /// example, so under heavy traffic it is held to a budget per second.
    second: AtomicI64,
    taken: AtomicU32,
}

impl Default for Calibration {
    fn default() -> Self {
        Calibration {
            classes: std::array::from_fn(|_| ByScore::default()),
            tops: std::array::from_fn(|_| AtomicU32::new(0)),
            tops_right: std::array::from_fn(|_| AtomicU32::new(0)),
            seen: AtomicU64::new(0),
            second: AtomicI64::new(i64::MIN),
            taken: AtomicU32::new(0),
        }
    }
}

fn load(a: &AtomicU32) -> f64 {
    a.load(Ordering::Relaxed) as f64
}

fn bump(a: &AtomicU32) {
    // Saturating: a counter that stops growing is still a fine estimate.
    let _ = a.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_add(1));
}

fn halve(a: &AtomicU32) {
    let _ = a.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v / 2));
}

/// Counts `s` in `bins`; when `total` reaches [`HALVE_AT`], halves them all (races between
/// threads only blur a count by one).
fn count(bins: &[AtomicU32; S_BINS], total: &AtomicU32, s: f64) {
    bump(&bins[bin(s, S_MIN, S_WIDTH, S_BINS)]);
    if total.fetch_add(1, Ordering::Relaxed) + 1 >= HALVE_AT {
        bins.iter().for_each(halve);
        halve(total);
    }
}

impl Calibration {
    /// Whether this token visit, at `now_ms`, should be used as a labelled example: one in
    /// `every`, and at most `per_second` in a second.
    pub fn sample(&self, every: u64, per_second: u32, now_ms: i64) -> bool {
        if !self
            .seen
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(every.max(1))
        {
            return false;
        }
        let second = now_ms.div_euclid(1000);
        if self.second.swap(second, Ordering::Relaxed) != second {
            self.taken.store(0, Ordering::Relaxed);
        }
        self.taken.fetch_add(1, Ordering::Relaxed) < per_second
    }

    /// A labelled return scored `s`, its best candidate last seen `gap` days before, whose
    /// share was `q` and which was (or was not) the right visitor.
    pub fn record_return(&self, s: f64, gap: Option<f64>, top: Option<(f64, bool)>) {
        let c = &self.classes[gap_class(gap)];
        count(&c.returns, &c.returns_total, s);
        if let Some((q, right)) = top {
            let b = bin(logit(q), Q_MIN, Q_WIDTH, Q_BINS);
            if load(&self.tops[b]) >= HALVE_AT as f64 {
                halve(&self.tops[b]);
                halve(&self.tops_right[b]);
            }
            bump(&self.tops[b]);
            if right {
                bump(&self.tops_right[b]);
            }
        }
    }

    /// A labelled stranger (a known browser matched with itself left out) scored `s`, its
    /// best candidate last seen `gap` days before.
    pub fn record_stranger(&self, s: f64, gap: Option<f64>) {
        bump(&self.classes[gap_class(gap)].strangers[bin(s, S_MIN, S_WIDTH, S_BINS)]);
    }

    /// The log likelihood ratio of "return" against "new browser" for a visit scored `s`, new
    /// browsers stood for by the labelled strangers: the model's own (`s`) where few examples
    /// scored alike, the observed ratio where many did. It decides links and states how sure
    /// a "new visitor" answer is.
    pub fn link_log_ratio(&self, s: f64, gap: Option<f64>) -> f64 {
        let g = gap_class(gap);
        let c = &self.classes[g];
        let b = bin(s, S_MIN, S_WIDTH, S_BINS);
        let (r, n) = (load(&c.returns[b]), load(&c.strangers[b]));
        // Without a candidate there is no gap to condition on: how often returns and strangers
        // find none at all is read among all of them.
        let of = |c: &ByScore| -> (f64, f64) {
            (
                c.returns.iter().map(load).sum(),
                c.strangers.iter().map(load).sum(),
            )
        };
        let (all_r, all_n) = if g == 0 {
            self.classes
                .iter()
                .map(of)
                .fold((0.0, 0.0), |a, x| (a.0 + x.0, a.1 + x.1))
        } else {
            of(c)
        };
        if all_r < 1.0 || all_n < 1.0 {
            return model_ratio(s);
        }
        blend(share_ratio(r, all_r, n, all_n), r + n, s)
    }

    /// Labelled returns counted since the start (or the last halving).
    #[cfg(test)]
    pub(crate) fn returns_learnt(&self) -> f64 {
        self.classes.iter().map(|c| load(&c.returns_total)).sum()
    }

    /// P(the best candidate is the right visitor | the visit is a return, its share is `q`).
    pub fn top_right(&self, q: f64) -> f64 {
        let b = bin(logit(q), Q_MIN, Q_WIDTH, Q_BINS);
        let (n, right) = (load(&self.tops[b]), load(&self.tops_right[b]));
        (right + PRIOR_WEIGHT * q) / (n + PRIOR_WEIGHT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gap class most examples below are in: a candidate last seen half a day before.
    const DAYISH: Option<f64> = Some(0.5);

    #[test]
    fn without_examples_the_model_is_trusted() {
        let c = Calibration::default();
        assert_eq!(c.link_log_ratio(3.0, DAYISH), model_ratio(3.0));
        assert_eq!(c.link_log_ratio(3.0, None), model_ratio(3.0));
        assert!((c.top_right(0.9) - 0.9).abs() < 1e-9);
    }

    #[test]
    fn the_model_allows_for_returns_it_cannot_describe() {
        // Strong evidence is kept, weak evidence is tempered, and a visit that resembles no
        // known browser is still a return one time in twenty as far as the model knows.
        assert!((model_ratio(12.0) - 12.0).abs() < 0.06);
        assert!((model_ratio(f64::NEG_INFINITY) - OUT_OF_MODEL.ln()).abs() < 1e-12);
        assert!(model_ratio(-8.0) > OUT_OF_MODEL.ln() && model_ratio(-8.0) < -2.9);
        assert!(model_ratio(50.0).is_finite());
    }

    #[test]
    fn gap_classes_are_learnt_apart() {
        let c = Calibration::default();
        // Labelled returns a day apart score 12; after two weeks away they score 2.
        for _ in 0..500 {
            c.record_return(12.0, Some(0.5), None);
            c.record_stranger(-8.0, Some(0.5));
            c.record_return(2.2, Some(14.0), None);
            c.record_stranger(-8.0, Some(14.0));
        }
        assert!(c.link_log_ratio(2.5, Some(20.0)) > 3.0);
        assert!(c.link_log_ratio(2.5, Some(0.2)) < c.link_log_ratio(2.5, Some(20.0)));
    }

    #[test]
    fn sampling_keeps_to_its_rate_and_budget() {
        let c = Calibration::default();
        let taken = (0..1000).filter(|_| c.sample(4, 1000, 0)).count();
        assert_eq!(taken, 250);
        // A busy second: at most the budget, then a fresh budget the next second.
        let c = Calibration::default();
        assert_eq!((0..1000).filter(|_| c.sample(1, 100, 5_000)).count(), 100);
        assert_eq!((0..1000).filter(|_| c.sample(1, 100, 6_000)).count(), 100);
    }

    #[test]
    fn strangers_correct_an_overconfident_model() {
        let c = Calibration::default();
        // The model says e^6 : 1 for a return, but strangers score 6 as often as returns do.
        for _ in 0..1000 {
            c.record_return(6.2, DAYISH, Some((0.999, false)));
            c.record_stranger(6.3, DAYISH);
        }
        assert!(
            c.link_log_ratio(6.5, DAYISH).abs() < 0.2,
            "{}",
            c.link_log_ratio(6.5, DAYISH)
        );
        assert!(c.top_right(0.999) < 0.05);
        // Elsewhere the model still speaks, allowing for returns it cannot describe.
        assert!(c.link_log_ratio(-8.0, DAYISH) < -2.5);
    }

    #[test]
    fn counts_are_halved_when_they_grow_large() {
        let c = Calibration::default();
        for _ in 0..HALVE_AT {
            c.record_return(1.0, DAYISH, None);
        }
        let kept = load(&c.classes[gap_class(DAYISH)].returns[bin(1.0, S_MIN, S_WIDTH, S_BINS)]);
        assert!(kept <= HALVE_AT as f64 / 2.0 + 1.0, "{kept}");
        assert!(load(&c.classes[gap_class(DAYISH)].returns_total) <= HALVE_AT as f64 / 2.0 + 1.0);
    }
}
