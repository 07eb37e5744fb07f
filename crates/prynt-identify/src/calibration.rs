//! Confidence calibrated against the visits whose identity is known.
//!
//! The likelihood model's probabilities are only as good as its assumptions (independence of
//! components, change rates), and no fixed model fits every workspace's traffic. But every
//! visit that brings a valid token is a labelled example: the browser is known to be that
//! visitor. Matching such a visit as if it had no token shows how the model scores a real
//! return; matching it again with that visitor left out shows how it scores a browser it has
//! never seen. From those two samples the index learns, per score, how often a score like this
//! one means a return, and, per share of the best candidate, how often the best candidate is the
//! right one. `confidence` is then read from those counts, blended with the model's own
//! probability where the counts are few.
//!
//! Counters are atomics so that identification can learn through a shared reference.

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

fn bin(x: f64, min: f64, width: f64, n: usize) -> usize {
    (((x - min) / width).floor().max(0.0) as usize).min(n - 1)
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    (p / (1.0 - p)).ln()
}

/// Learnt calibration of one matching index.
pub struct Calibration {
    /// Per score bin: labelled returns, labelled strangers.
    returns: [AtomicU32; S_BINS],
    strangers: [AtomicU32; S_BINS],
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
            returns: std::array::from_fn(|_| AtomicU32::new(0)),
            strangers: std::array::from_fn(|_| AtomicU32::new(0)),
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

    /// A labelled return scored `s`, whose best candidate had share `q` and was (or was not)
    /// the right visitor.
    pub fn record_return(&self, s: f64, top: Option<(f64, bool)>) {
        bump(&self.returns[bin(s, S_MIN, S_WIDTH, S_BINS)]);
        if let Some((q, right)) = top {
            let b = bin(logit(q), Q_MIN, Q_WIDTH, Q_BINS);
            bump(&self.tops[b]);
            if right {
                bump(&self.tops_right[b]);
            }
        }
    }

    /// A labelled stranger (a known browser matched with itself left out) scored `s`.
    pub fn record_stranger(&self, s: f64) {
        bump(&self.strangers[bin(s, S_MIN, S_WIDTH, S_BINS)]);
    }

    /// The log likelihood ratio of "return" against "new browser" for a visit scored `s`:
    /// the model's own (`s`) where few examples scored alike, the observed ratio where many did.
    pub fn log_ratio(&self, s: f64) -> f64 {
        let b = bin(s, S_MIN, S_WIDTH, S_BINS);
        let (r, n) = (load(&self.returns[b]), load(&self.strangers[b]));
        let (all_r, all_n): (f64, f64) = (
            self.returns.iter().map(load).sum(),
            self.strangers.iter().map(load).sum(),
        );
        if all_r < 1.0 || all_n < 1.0 {
            return s;
        }
        // Each class's share of its examples in this bin, a half example added to each so
        // that an empty bin is a bound, not infinity.
        let observed = ((r + 0.5) / (all_r + 0.5)).ln() - ((n + 0.5) / (all_n + 0.5)).ln();
        let weight = r + n;
        (weight * observed + PRIOR_WEIGHT * s) / (weight + PRIOR_WEIGHT)
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

    #[test]
    fn without_examples_the_model_is_trusted() {
        let c = Calibration::default();
        assert_eq!(c.log_ratio(3.0), 3.0);
        assert!((c.top_right(0.9) - 0.9).abs() < 1e-9);
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
    fn examples_correct_an_overconfident_model() {
        let c = Calibration::default();
        // The model says e^6 : 1 for a return, but strangers score 6 as often as returns do.
        for _ in 0..1000 {
            c.record_return(6.2, Some((0.999, false)));
            c.record_stranger(6.3);
        }
        assert!(c.log_ratio(6.5).abs() < 0.2, "{}", c.log_ratio(6.5));
        assert!(c.top_right(0.999) < 0.05);
        // Elsewhere the model still speaks.
        assert!(c.log_ratio(-8.0) < -5.0);
    }
}
