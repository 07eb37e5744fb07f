//! The likelihood model behind matching and `confidence`.
//!
//! For each component k the model knows how often it changes between two visits of the same
//! browser (`change[k]`) and how often two different browsers share a value (`collide[k]`, the
//! population prior, refined by the observed frequency of the actual value). Comparing a visit
//! with a known visitor gives a log-likelihood ratio (LLR) per component.
//!
//! Components are not independent: canvas, WebGL, audio, math, GPU, platform and the user agent
//! are all decided by the device model and software build, so a fleet of identical laptops
//! agrees on all of them at once. Those "stack" components count as one piece of evidence: when
//! the whole stack is equal, its LLR comes from how common that exact stack is; when part of it
//! drifted, the summed component LLRs are capped below that. The components a person decides
//! (languages, time zone, screen, fonts) add their own LLRs. The posterior over "one of the
//! candidates" and "someone new" is `confidence`.
//!
//! Default rates follow the FP-Stalker public sample (DESIGN §3): user agent 49% change vs 99.6%
//! differ, plugins 40/98, screen 25/86, timezone 9/81, canvas 9/95, WebGL renderer 2/80,
//! language 1/93; the rest are set from the same reasoning and tuned by `prynt bench accuracy`.

use crate::fingerprint::{Comp, Fingerprint, N_COMP, STACK};

/// Index of the whole-stack value in collision look-ups, after the components.
pub const STACK_KEY: usize = N_COMP;

#[derive(Debug, Clone, PartialEq)]
pub struct ModelParams {
    /// P(the component differs | same browser, consecutive visits).
    pub change: [f64; N_COMP],
    /// P(two different browsers share the component), before looking at the actual value.
    pub collide: [f64; N_COMP],
    /// How many observations the prior `collide` is worth against observed value frequencies.
    pub pseudo_count: f64,
    /// Scales the summed evidence (1.0 = plain sum).
    pub temperature: f64,
    /// P(any stack component changes between two visits of the same browser).
    pub stack_change: f64,
    /// P(two different browsers share the whole stack), before looking at the actual value.
    pub stack_collide: f64,
    /// Most evidence a partly drifted stack can give.
    pub stack_partial_cap: f64,
    /// P(a visit without a token comes from an already known browser).
    pub prior_return: f64,
    /// Least posterior probability for linking a visit to a known visitor.
    pub link_threshold: f64,
    /// Least evidence (summed log-likelihood ratio) for trusting a visitor token's claim: the
    /// visit must look more like that visitor than like a stranger.
    pub token_min_evidence: f64,
}

impl Default for ModelParams {
    fn default() -> Self {
        let mut change = [0.0; N_COMP];
        let mut collide = [0.0; N_COMP];
        let mut set = |c: Comp, ch: f64, co: f64| {
            change[c as usize] = ch;
            collide[c as usize] = co;
        };
        set(Comp::Os, 0.002, 0.30);
        set(Comp::Browser, 0.001, 0.30);
        set(Comp::UaShape, 0.05, 0.05);
        set(Comp::Platform, 0.005, 0.35);
        set(Comp::Languages, 0.01, 0.07);
        set(Comp::Timezone, 0.09, 0.19);
        set(Comp::Screen, 0.25, 0.14);
        set(Comp::Display, 0.05, 0.30);
        set(Comp::Hardware, 0.03, 0.15);
        set(Comp::Render, 0.12, 0.05);
        set(Comp::Caps, 0.08, 0.10);
        set(Comp::Gpu, 0.02, 0.20);
        set(Comp::Fonts, 0.10, 0.10);
        set(Comp::Plugins, 0.40, 0.02);
        set(Comp::Prefs, 0.02, 0.50);
        ModelParams {
            change,
            collide,
            pseudo_count: 50.0,
            // Below 1 because the components are not fully independent even outside the
            // stack: summing their log-likelihood ratios overstates the evidence. At 1.0 the
            // accuracy benchmark linked wrongly 2% of the time with 0.9 confidence (precision
            // 0.980); at 0.8 precision is 0.996 and confidence errs by far less.
            temperature: 0.8,
            stack_change: 0.3,
            stack_collide: 0.02,
            stack_partial_cap: 2.5,
            prior_return: 0.5,
            link_threshold: 0.9,
            token_min_evidence: 0.0,
        }
    }
}

/// Fonts that overlap this much are "the same set plus or minus an install".
const FONTS_NEAR: f64 = 0.85;

impl ModelParams {
    /// Evidence that `visit` comes from the browser whose last visit was `known`: the summed
    /// log-likelihood ratios (stack as one, then the personal components), or `None` when they
    /// cannot be the same browser at all (another OS or browser family, or a browser version
    /// that went down).
    ///
    /// `collision(key, value)` estimates P(a different browser has `value`), with `key` a
    /// component index or [`STACK_KEY`].
    pub fn evidence(
        &self,
        visit: &Fingerprint,
        known: &Fingerprint,
        collision: &dyn Fn(usize, u32) -> f64,
    ) -> Option<f64> {
        self.prepare(visit, collision).evidence(known)
    }

    /// Everything about `visit` that does not depend on the candidate, computed once so that
    /// scoring many candidates is a few table look-ups each.
    pub fn prepare<'a>(
        &'a self,
        visit: &'a Fingerprint,
        collision: &dyn Fn(usize, u32) -> f64,
    ) -> Prepared<'a> {
        let mut equal = [0.0; N_COMP];
        let mut differ = [0.0; N_COMP];
        for i in 0..N_COMP {
            let v = visit.h[i];
            if v == 0 {
                continue;
            }
            let change = self.change[i];
            equal[i] = ((1.0 - change) / collision(i, v).clamp(1e-9, 0.999)).ln();
            differ[i] = (change / (1.0 - self.collide[i].clamp(1e-9, 0.999))).ln();
        }
        let stack = visit.stack();
        let stack_equal = if stack != 0 {
            ((1.0 - self.stack_change) / collision(STACK_KEY, stack).clamp(1e-9, 0.999)).ln()
        } else {
            0.0
        };
        Prepared {
            params: self,
            visit,
            stack,
            stack_equal,
            equal,
            differ,
        }
    }

    /// Posterior probabilities of each candidate and of "new browser", given each candidate's
    /// evidence, the population size and `extra_competitors`, the summed likelihood ratio of
    /// known browsers that were not scored individually (members of oversized crowds).
    pub fn posterior(
        &self,
        evidence: &[f64],
        population: usize,
        extra_competitors: f64,
    ) -> (Vec<f64>, f64) {
        let n = population.max(1) as f64;
        // Log prior odds of "this particular known browser" against "a new one".
        let prior = (self.prior_return / (1.0 - self.prior_return)).ln() - n.ln();
        let max = evidence.iter().copied().fold(0.0f64, f64::max) + prior.max(0.0);
        let weights: Vec<f64> = evidence.iter().map(|e| (e + prior - max).exp()).collect();
        let extra = if extra_competitors > 0.0 {
            (extra_competitors.ln() + prior - max).exp()
        } else {
            0.0
        };
        let new_weight = (-max).exp();
        let total: f64 = weights.iter().sum::<f64>() + extra + new_weight;
        (
            weights.iter().map(|w| w / total).collect(),
            new_weight / total,
        )
    }
}

/// A visit ready to be compared with many known browsers.
pub struct Prepared<'a> {
    params: &'a ModelParams,
    visit: &'a Fingerprint,
    stack: u32,
    stack_equal: f64,
    equal: [f64; N_COMP],
    differ: [f64; N_COMP],
}

impl Prepared<'_> {
    /// See [`ModelParams::evidence`].
    pub fn evidence(&self, known: &Fingerprint) -> Option<f64> {
        let visit = self.visit;
        for c in [Comp::Os, Comp::Browser] {
            let (a, b) = (visit.get(c), known.get(c));
            if a != 0 && b != 0 && a != b {
                return None;
            }
        }
        if visit.browser_major != 0 && known.browser_major > visit.browser_major {
            return None;
        }
        let stack_ev = if self.stack != 0 && self.stack == known.stack() {
            self.stack_equal
        } else {
            let partial: f64 = STACK.iter().map(|&c| self.component(c, known)).sum();
            partial.min(self.params.stack_partial_cap)
        };
        let personal: f64 = [Comp::Languages, Comp::Timezone, Comp::Screen, Comp::Fonts]
            .iter()
            .map(|&c| self.component(c, known))
            .sum();
        Some((stack_ev + personal) * self.params.temperature)
    }

    /// One component's log-likelihood ratio; zero when either side does not know it.
    fn component(&self, comp: Comp, known: &Fingerprint) -> f64 {
        let i = comp as usize;
        let (a, b) = (self.visit.h[i], known.h[i]);
        if a == 0 || b == 0 {
            0.0
        } else if a == b {
            self.equal[i]
        } else if comp == Comp::Fonts {
            // A font install keeps most of the set: weak evidence either way. A very different
            // set is strong evidence against.
            let sim = self.visit.font_similarity(known).unwrap_or(0.0);
            if sim >= FONTS_NEAR {
                0.0
            } else {
                (0.02f64 / 0.95).ln()
            }
        } else {
            self.differ[i]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(v: u32) -> Fingerprint {
        let mut f = Fingerprint::default();
        for (i, h) in f.h.iter_mut().enumerate() {
            *h = v + i as u32 + 1;
        }
        f.browser_major = 120;
        f
    }

    #[test]
    fn identical_rare_fingerprints_are_strong_evidence_and_differences_weaken_it() {
        let m = ModelParams::default();
        let rare = |_: usize, _: u32| 1e-4;
        let a = fp(100);
        let same = m.evidence(&a, &a, &rare).unwrap();
        let mut drifted = a;
        drifted.h[Comp::Screen as usize] = 999;
        drifted.h[Comp::Render as usize] = 999;
        let less = m.evidence(&drifted, &a, &rare).unwrap();
        assert!(same > less && less > 0.0, "{same} {less}");
        let common = |_: usize, _: u32| 0.5;
        assert!(m.evidence(&a, &a, &common).unwrap() < same);
    }

    #[test]
    fn impossible_pairs_are_excluded() {
        let m = ModelParams::default();
        let f = |_: usize, _: u32| 0.01;
        let a = fp(1);
        let mut other_os = a;
        other_os.h[Comp::Os as usize] = 12345;
        assert!(m.evidence(&other_os, &a, &f).is_none());
        let mut older = a;
        older.browser_major = 119;
        assert!(
            m.evidence(&older, &a, &f).is_none(),
            "versions never go down"
        );
        let mut newer = a;
        newer.browser_major = 121;
        assert!(m.evidence(&newer, &a, &f).is_some());
    }

    #[test]
    fn posterior_is_split_between_equal_candidates() {
        let m = ModelParams::default();
        let (one, new1) = m.posterior(&[30.0], 1000, 0.0);
        assert!(one[0] > 0.99 && new1 < 0.01);
        let (two, _) = m.posterior(&[30.0, 30.0], 1000, 0.0);
        assert!((two[0] - 0.5).abs() < 0.01);
        let (none, new_p) = m.posterior(&[], 1000, 0.0);
        assert!(none.is_empty() && (new_p - 1.0).abs() < 1e-9);
        let (crowd, _) = m.posterior(&[30.0], 1000, 50.0 * 30f64.exp());
        assert!(crowd[0] < 0.05);
    }
}

#[cfg(test)]
mod stack_tests {
    use super::*;

    #[test]
    fn identical_hardware_with_other_personal_settings_is_not_the_same_browser() {
        let m = ModelParams::default();
        let prior_rates = |i: usize, _: u32| {
            if i == STACK_KEY {
                0.02
            } else {
                ModelParams::default().collide[i]
            }
        };
        let mut a = Fingerprint::default();
        for (i, h) in a.h.iter_mut().enumerate() {
            *h = 100 + i as u32;
        }
        a.browser_major = 120;
        let mut other_person = a;
        for c in [Comp::Languages, Comp::Timezone, Comp::Screen] {
            other_person.h[c as usize] += 1000;
        }
        let same = m.evidence(&a, &a, &prior_rates).unwrap();
        let other = m.evidence(&other_person, &a, &prior_rates).unwrap();
        assert!(same > 8.0, "{same}");
        assert!(
            other < 0.0,
            "a second profile on the same machine is evidence against: {other}"
        );
    }
}
