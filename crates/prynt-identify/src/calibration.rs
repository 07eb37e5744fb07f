//! Confidence calibrated against the visits whose identity is known.
//!
//! The likelihood model's probabilities are only as good as its assumptions (independence of
//! components, change rates), and no fixed model fits every workspace's traffic. But every
//! visit that brings a valid token is a labelled example: the browser is known to be that
//! visitor. Matching such a visit as if it had no token shows how the model scores a real
//! return. How a new browser scores is learnt two ways, for two uses:
//!
//! - **For links**, from the same token visit matched again with its own visitor left out (a
//!   "stranger"). These examples see the index as it is now; they are biased (a browser with a
//!   second visitor ID still finds it; one seen for a while has drifted from the factory state
//!   in which new browsers arrive), but links decided on them keep precision and recall at
//!   their targets on the benchmark.
//! - **For the confidence of a "new visitor" answer**, from the token-less visits themselves,
//!   which are a mix of returns and new browsers. Where the model is sure of a return (a high
//!   score) almost no new browser scores, so the share of token-less visits scoring there,
//!   against the share of labelled returns, tells what part of the token-less visits are
//!   returns; taking that many returns, shaped like the labelled ones, out of each score bin
//!   leaves how new browsers score (learning from positive and unlabelled examples, Elkan and
//!   Noto 2008). This estimate has neither bias of the strangers, and the new-visitor
//!   confidence read from it is the better calibrated on the benchmark's 10,000-browser runs
//!   (alike at 50,000; BENCHMARKS.md); links decided on it are fewer for the same precision.
//!
//! From those counts the index reads, per score, how often a score like this one means a
//! return, and, per share of the best candidate, how often the best candidate is the right one.
//! `confidence` is then read from the counts, blended with the model's own probability where
//! they are few.
//!
//! How returns and new browsers score changes as the index fills and its browsers age, so the
//! new-visitor estimate is made twice: from the counts since the start, and from counts that
//! fade to 1/e in six days. Where enough recent examples scored alike the recent ratio
//! outweighs the older one; where few did, the older one stands.
//!
//! Counters are atomics so that identification can learn through a shared reference; the
//! fading counts sit behind a lock held for one addition. The returns and token-less visits
//! since the start are halved when they grow large, so that they too follow the traffic.

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

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
/// Scores from which the model says a new browser is thousands of times less likely than a
/// return: the tail in which the share of returns among token-less visits is measured.
const SURE_SCORE: f64 = 10.0;
/// Labelled returns and token-less visits that tail needs before it is trusted.
const MIN_TAIL: f64 = 30.0;
/// Examples of one kind after which every count of that kind is halved.
const HALVE_AT: u32 = 1 << 22;
/// How long the recent counts remember: an example weighs 1/e after this many days.
const RECENT_DAYS: f64 = 6.0;
/// How many recent examples in a bin weigh as much as all the counts since the start.
const RECENT_TRUST: f64 = 100.0;
/// Weight after which the recent counts are brought back to weights near one.
const RECENT_RESCALE: f64 = 1e12;

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

/// Labelled returns and token-less visits per score bin, each example fading to 1/e in
/// [`RECENT_DAYS`]. An example at `t` is added with weight e^((t - epoch) / RECENT_DAYS) and the
/// counts are read at `now` divided by e^((now - epoch) / RECENT_DAYS), so that no count has to
/// be touched as time passes; when the weights grow large the counts are rescaled to a new
/// epoch.
struct Recent {
    epoch_ms: Option<i64>,
    returns: [f64; S_BINS],
    visits: [f64; S_BINS],
}

impl Default for Recent {
    fn default() -> Self {
        Recent {
            epoch_ms: None,
            returns: [0.0; S_BINS],
            visits: [0.0; S_BINS],
        }
    }
}

impl Recent {
    fn weight(&mut self, now_ms: i64) -> f64 {
        let epoch = *self.epoch_ms.get_or_insert(now_ms);
        let days = (now_ms - epoch) as f64 / 86_400_000.0;
        // Clamped: visits out of order or a clock set back only make a count weigh less.
        (days / RECENT_DAYS).clamp(-50.0, 50.0).exp()
    }

    fn add(&mut self, returns: bool, s: f64, now_ms: i64) {
        let mut w = self.weight(now_ms);
        if w > RECENT_RESCALE {
            for c in self.returns.iter_mut().chain(self.visits.iter_mut()) {
                *c /= w;
            }
            self.epoch_ms = Some(now_ms);
            w = 1.0;
        }
        let bins = if returns {
            &mut self.returns
        } else {
            &mut self.visits
        };
        bins[bin(s, S_MIN, S_WIDTH, S_BINS)] += w;
    }

    /// The returns and token-less visits as they weigh at `now_ms`.
    fn at(&mut self, now_ms: i64) -> ([f64; S_BINS], [f64; S_BINS]) {
        let w = self.weight(now_ms);
        (self.returns.map(|c| c / w), self.visits.map(|c| c / w))
    }
}

/// Per score bin, the estimated new browsers among the token-less `visits`, given the labelled
/// `returns`; `None` until the returns' share of token-less visits can be measured.
fn new_browsers(returns: &[f64; S_BINS], visits: &[f64; S_BINS]) -> Option<[f64; S_BINS]> {
    let (all_r, all_v): (f64, f64) = (returns.iter().sum(), visits.iter().sum());
    let sure = bin(SURE_SCORE, S_MIN, S_WIDTH, S_BINS);
    let (tail_r, tail_v): (f64, f64) = (returns[sure..].iter().sum(), visits[sure..].iter().sum());
    if tail_r < MIN_TAIL || tail_v < MIN_TAIL {
        return None;
    }
    // The share of token-less visits that are returns: returns score in the sure tail as
    // often as the labelled ones do, new browsers (almost) never.
    let return_share = ((tail_v / all_v) / (tail_r / all_r)).min(1.0);
    // In the sure tail every visit is taken for a return, as above; elsewhere the returns
    // expected from the labelled ones are taken out of the visits.
    Some(std::array::from_fn(|b| {
        if b >= sure {
            0.0
        } else {
            (visits[b] - return_share * all_v * returns[b] / all_r).max(0.0)
        }
    }))
}

/// Per score bin, the observed log likelihood ratio of return against new browser and how many
/// examples it rests on, from the returns and token-less visits counted in each bin.
///
/// A higher score is never weaker evidence of a return, so the ratios are made to rise with
/// the score (pool-adjacent-violators over the bins): where returns and new browsers are
/// estimated from a difference of counts, the noise of the difference would otherwise invent
/// new browsers among scores that only returns reach.
fn observed(returns: [f64; S_BINS], visits: [f64; S_BINS]) -> Option<[(f64, f64); S_BINS]> {
    let strangers = new_browsers(&returns, &visits)?;
    let (all_r, all_n): (f64, f64) = (returns.iter().sum(), strangers.iter().sum());
    if all_n < 1.0 {
        // Every token-less visit so far looks like a return: nothing is known yet of how
        // new browsers score.
        return None;
    }
    let ratio = |r: f64, n: f64| share_ratio(r, all_r, n, all_n);
    // Blocks of adjacent bins: (first bin, last bin, returns, new browsers).
    let mut blocks: Vec<(usize, usize, f64, f64)> = Vec::new();
    for b in 0..S_BINS {
        if returns[b] + strangers[b] <= 0.0 {
            continue;
        }
        blocks.push((b, b, returns[b], strangers[b]));
        while let [.., (_, _, r1, n1), (_, last, r2, n2)] = blocks[..] {
            if ratio(r1, n1) < ratio(r2, n2) {
                break;
            }
            blocks.pop();
            if let Some(prev) = blocks.last_mut() {
                *prev = (prev.0, last, r1 + r2, n1 + n2);
            }
        }
    }
    let mut out = [(0.0, 0.0); S_BINS];
    for (first, last, r, n) in blocks {
        // Empty bins inside a block take its ratio too.
        for o in &mut out[first..=last] {
            *o = (ratio(r, n), r + n);
        }
    }
    Some(out)
}

/// How long ago the best candidate was last seen: no candidate at all, under a day, under a
/// week, a week or more. Returns after a long absence have drifted further, and browsers that
/// lost their storage (the token-less visits) are those that were away longer than the ones
/// that kept it: a labelled return's score is a fair example only for visits that come back
/// after a gap like its own, so every score count is kept per gap class, and each class's
/// ratios are read among that class's examples alone: how often returns come back after a
/// long gap is exactly what the labelled returns cannot tell.
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
    /// Per score bin: labelled returns, labelled strangers, and all token-less visits (returns
    /// and new browsers).
    returns: [AtomicU32; S_BINS],
    strangers: [AtomicU32; S_BINS],
    visits: [AtomicU32; S_BINS],
    returns_total: AtomicU32,
    visits_total: AtomicU32,
    /// The same returns and token-less visits, fading with time (see [`Recent`]).
    recent: Mutex<Recent>,
}

impl Default for ByScore {
    fn default() -> Self {
        ByScore {
            returns: std::array::from_fn(|_| AtomicU32::new(0)),
            strangers: std::array::from_fn(|_| AtomicU32::new(0)),
            visits: std::array::from_fn(|_| AtomicU32::new(0)),
            returns_total: AtomicU32::new(0),
            visits_total: AtomicU32::new(0),
            recent: Mutex::new(Recent::default()),
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

impl ByScore {
    /// The returns and token-less visits counted since the start (or the last halving).
    fn all_time(&self) -> ([f64; S_BINS], [f64; S_BINS]) {
        (
            std::array::from_fn(|b| load(&self.returns[b])),
            std::array::from_fn(|b| load(&self.visits[b])),
        )
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        // A panic elsewhere cannot leave the counts half-written: each update is one addition.
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
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

    /// A labelled return scored `s` at `now_ms`, its best candidate last seen `gap` days
    /// before, whose share was `q` and which was (or was not) the right visitor.
    pub fn record_return(&self, s: f64, gap: Option<f64>, top: Option<(f64, bool)>, now_ms: i64) {
        let c = &self.classes[gap_class(gap)];
        count(&c.returns, &c.returns_total, s);
        c.recent().add(true, s, now_ms);
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
    /// scored alike, the observed ratio where many did.
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

    /// A token-less visit scored `s` at `now_ms`, its best candidate last seen `gap` days
    /// before, whatever it turned out to be.
    pub fn record_visit(&self, s: f64, gap: Option<f64>, now_ms: i64) {
        let c = &self.classes[gap_class(gap)];
        count(&c.visits, &c.visits_total, s);
        c.recent().add(false, s, now_ms);
    }

    /// Labelled returns counted since the start (or the last halving).
    #[cfg(test)]
    pub(crate) fn returns_learnt(&self) -> f64 {
        self.classes.iter().map(|c| load(&c.returns_total)).sum()
    }

    /// The log likelihood ratio of "return" against "new browser" for a visit scored `s` at
    /// `now_ms`, new browsers estimated from the token-less visits: the model's own (`s`) where
    /// few examples scored alike, the observed ratio where many did.
    ///
    /// How returns and new browsers score changes as the index fills and its browsers age, so
    /// the ratio observed over the last days outweighs the one observed since the start where
    /// enough recent examples scored alike ([`RECENT_TRUST`]).
    pub fn mixture_log_ratio(&self, s: f64, gap: Option<f64>, now_ms: i64) -> f64 {
        let g = gap_class(gap);
        if g == 0 {
            // No candidate: the token-less visits' own estimate needs the returns that score
            // high, which this class never holds; the strangers' estimate stands.
            return self.link_log_ratio(s, gap);
        }
        let c = &self.classes[g];
        let b = bin(s, S_MIN, S_WIDTH, S_BINS);
        let (returns, visits) = c.all_time();
        let Some((all_time, weight)) = observed(returns, visits).map(|o| o[b]) else {
            return model_ratio(s);
        };
        let (returns, visits) = c.recent().at(now_ms);
        let (recent, recent_weight) = observed(returns, visits).map_or((0.0, 0.0), |o| o[b]);
        let ratio =
            (recent_weight * recent + RECENT_TRUST * all_time) / (recent_weight + RECENT_TRUST);
        blend(ratio, weight, s)
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
        assert_eq!(c.mixture_log_ratio(3.0, DAYISH, 0), model_ratio(3.0));
        assert_eq!(c.mixture_log_ratio(3.0, None, 0), model_ratio(3.0));
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
            c.record_return(12.0, Some(0.5), None, 0);
            c.record_stranger(-8.0, Some(0.5));
            c.record_return(2.2, Some(14.0), None, 0);
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
            c.record_return(6.2, DAYISH, Some((0.999, false)), 0);
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

    /// Labelled returns at 6.2 and in the sure tail; token-less visits: as many returns again,
    /// and new browsers at 6.3 (as many as the returns there) and at -8.5.
    fn mixture() -> Calibration {
        let c = Calibration::default();
        for _ in 0..1000 {
            c.record_return(6.2, DAYISH, Some((0.999, false)), 0);
            c.record_return(12.0, DAYISH, Some((0.5, true)), 0);
            c.record_visit(6.2, DAYISH, 0); // a return
            c.record_visit(12.0, DAYISH, 0); // a return
            c.record_visit(6.3, DAYISH, 0); // a new browser
            c.record_visit(-8.5, DAYISH, 0); // a new browser
        }
        c
    }

    #[test]
    fn token_less_visits_tell_how_new_browsers_score() {
        let c = mixture();
        // Half the token-less visits score in the sure tail as often as the labelled returns
        // do: half are returns, and at 6 there are as many new browsers as returns.
        assert!(
            c.mixture_log_ratio(6.5, DAYISH, 0).abs() < 0.2,
            "{}",
            c.mixture_log_ratio(6.5, DAYISH, 0)
        );
        // Where only new browsers scored, a return is unlikely whatever the model said.
        assert!(
            c.mixture_log_ratio(-8.6, DAYISH, 0) < -5.0,
            "{}",
            c.mixture_log_ratio(-8.6, DAYISH, 0)
        );
        // Where only returns scored, a return is sure.
        assert!(
            c.mixture_log_ratio(12.5, DAYISH, 0) > 5.0,
            "{}",
            c.mixture_log_ratio(12.5, DAYISH, 0)
        );
        // Where nothing scored, the model still speaks.
        assert!((c.mixture_log_ratio(2.0, Some(0.5), 0) - model_ratio(2.0)).abs() < 1e-9);
        // The strangers' estimate has no examples of its own and keeps to the model.
        assert_eq!(c.link_log_ratio(6.5, DAYISH), model_ratio(6.5));
    }

    #[test]
    fn a_higher_score_is_never_weaker_evidence() {
        let c = mixture();
        // A bin above with more new browsers than returns, as noise in the difference of
        // counts can make it: it is pooled with the one below instead of ranking under it.
        for _ in 0..300 {
            c.record_return(7.2, DAYISH, None, 0);
            c.record_visit(7.2, DAYISH, 0);
            c.record_visit(7.3, DAYISH, 0);
            c.record_visit(7.4, DAYISH, 0);
        }
        let (at_6, at_7) = (
            c.mixture_log_ratio(6.5, DAYISH, 0),
            c.mixture_log_ratio(7.5, DAYISH, 0),
        );
        assert!(at_7 >= at_6 - 1e-9, "{at_6} {at_7}");
    }

    const DAY: i64 = 86_400_000;

    #[test]
    fn recent_visits_outweigh_old_ones() {
        let c = Calibration::default();
        for _ in 0..1000 {
            c.record_return(12.0, DAYISH, None, 0);
            c.record_visit(12.0, DAYISH, 0); // a return
            c.record_visit(2.2, DAYISH, 0); // a new browser
        }
        let before = c.mixture_log_ratio(2.5, DAYISH, 0);
        assert!(before < -3.0, "{before}");
        // Two months later, new browsers score low and returns score 2: the recent examples
        // say so, though the counts since the start still hold more new browsers at 2.
        let later = 60 * DAY;
        for _ in 0..300 {
            c.record_return(12.0, DAYISH, None, later);
            c.record_return(2.2, DAYISH, None, later);
            c.record_visit(12.0, DAYISH, later);
            c.record_visit(2.2, DAYISH, later);
            c.record_visit(-8.5, DAYISH, later);
        }
        let after = c.mixture_log_ratio(2.5, DAYISH, later);
        assert!(after > 3.0, "{after}");
    }

    #[test]
    fn recent_counts_fade_and_survive_rescaling() {
        let mut r = Recent::default();
        let b = bin(1.0, S_MIN, S_WIDTH, S_BINS);
        r.add(false, 1.0, DAY);
        let (_, v) = r.at(DAY + (RECENT_DAYS * DAY as f64) as i64);
        assert!((v[b] - (-1f64).exp()).abs() < 1e-9, "{}", v[b]);
        // Far enough later that the weights would overflow without a new epoch.
        let far = 1000 * DAY;
        r.add(true, 1.0, far);
        let (returns, v) = r.at(far);
        assert!((returns[b] - 1.0).abs() < 1e-9, "{}", returns[b]);
        assert!(v[b] < 1e-9, "{}", v[b]);
        // A visit dated before the epoch (out of order) weighs less, never more.
        r.add(false, 1.0, far - 10 * DAY);
        let (_, v) = r.at(far);
        assert!(v[b] > 0.0 && v[b] < 0.2, "{}", v[b]);
    }

    #[test]
    fn counts_are_halved_when_they_grow_large() {
        let c = Calibration::default();
        for _ in 0..HALVE_AT {
            c.record_visit(1.0, DAYISH, 0);
        }
        let kept = load(&c.classes[gap_class(DAYISH)].visits[bin(1.0, S_MIN, S_WIDTH, S_BINS)]);
        assert!(kept <= HALVE_AT as f64 / 2.0 + 1.0, "{kept}");
        assert!(load(&c.classes[gap_class(DAYISH)].visits_total) <= HALVE_AT as f64 / 2.0 + 1.0);
    }
}
