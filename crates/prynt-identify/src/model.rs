//! The likelihood model behind matching and `confidence`.
//!
//! For each component k the model knows how often it changes between two visits of the same
//! browser (`change[k]`) and how often two different browsers share a value (`collide[k]`, the
//! population prior, refined by the observed frequency of the actual value). Comparing a visit
//! with a known visitor gives a log-likelihood ratio (LLR) per component.
//!
//! Components are not independent: canvas, WebGL, audio, math, GPU, platform and the user agent
//! are all decided by the device model and software build, so a fleet of identical laptops
//! agrees on all of them at once. Those "stack" components count once: by how common the whole
//! stack is when all of it agrees, else by the rarest agreeing one. The components a person
//! decides (languages, time zone, screen, fonts) are counted among browsers of the same device
//! class (or, for the time zone, the same languages), since a phone model decides its screen
//! and fonts. A candidate identical to the visit is weighed against how many known browsers are
//! identical to it. The index turns these likelihood ratios into `confidence`, calibrated
//! against token visits ([`crate::calibration`]).
//!
//! Default rates follow the FP-Stalker public sample (docs/identification.md): user agent 49%
//! change vs 99.6% differ, plugins 40/98, screen 25/86, timezone 9/81, canvas 9/95, WebGL
//! renderer 2/80, language 1/93; the rest are set from the same reasoning and tuned by
//! `prynt-bench accuracy` (crates/prynt-bench).

use crate::fingerprint::{languages_near, Comp, Fingerprint, ALL, N_COMP, STACK};

/// Index of the whole-stack value in collision look-ups, after the components.
pub const STACK_KEY: usize = N_COMP;

#[derive(Debug, Clone, PartialEq)]
pub struct ModelParams {
    /// P(the component differs | same browser, two visits `change_horizon_days` apart).
    pub change: [f64; N_COMP],
    /// The time over which `change` and `version_change` are given (the median gap between
    /// consecutive fingerprints in the FP-Stalker sample).
    pub change_horizon_days: f64,
    /// P(two different browsers share the component), before looking at the actual value.
    pub collide: [f64; N_COMP],
    /// How many observations the prior `collide` is worth against observed value frequencies.
    pub pseudo_count: f64,
    /// How many observations the plain frequency is worth against the frequency among
    /// browsers of the same condition (see [`CONDITIONS`]).
    pub condition_pseudo_count: f64,
    /// How many observations the modelled frequency of an identical twin is worth against the
    /// observed count of identical fingerprints: while few browsers are known, that none is
    /// identical to the visit says little.
    pub exact_pseudo_count: f64,
    /// The same, as a share of the known browsers, when that is more: that no known browser is
    /// identical to the visit then makes the evidence at most ln(1 + 1/share) stronger, however
    /// many browsers are known.
    pub exact_prior_share: f64,
    /// P(the browser's major version went up | same browser, over the change horizon).
    pub version_change: f64,
    /// P(two different browsers have the same major version).
    pub version_collide: f64,
    /// Scales the summed evidence (1.0 = plain sum).
    pub temperature: f64,
    /// P(two different browsers share the whole stack), before looking at the actual value.
    pub stack_collide: f64,
    /// P(a visit without a token comes from an already known browser), before any visit was
    /// seen; the index then learns the rate from its own visits (see [`Index::return_rate`]).
    ///
    /// [`Index::return_rate`]: crate::Index::return_rate
    pub prior_return: f64,
    /// How much each token-less visit moves the learnt return rate.
    pub return_rate_step: f64,
    /// One token visit in this many is also matched as if it had no token, to calibrate
    /// `confidence` (see [`crate::calibration`]).
    pub calibration_every: u64,
    /// At most this many token visits a second are learnt from (each costs a match).
    pub calibration_per_second: u32,
    /// How fast a visitor's past visits stop counting towards the prior odds that a visit is
    /// theirs: a visit this many days old weighs half as much as one today.
    pub activity_half_life_days: f64,
    /// Pseudo-visits with which a visitor's own share of returns made without a token is
    /// drawn towards every visitor's: the weight of the prior that a visitor who always came
    /// back with its token is not the source of a visit without one (see
    /// `Index::arrival_prior`). 0 leaves that prior out.
    pub arrival_pseudo_count: f64,
    /// Least posterior probability for linking a visit to a known visitor.
    pub link_threshold: f64,
    /// Least evidence (summed log-likelihood ratio) for trusting a visitor token's claim. A
    /// valid token is itself strong evidence (copied tokens are rare), so the fingerprint may
    /// count against it up to e^5 ≈ 150 to 1: a few settings changed at once still pass,
    /// another device (other hardware, or most settings different) does not. At 0 (the visit
    /// must look more like that visitor than like a stranger), 0.57% of the benchmark's
    /// returning browsers lost their visitor ID to ordinary drift; at -5, 0.13%.
    pub token_min_evidence: f64,
    /// P(a signed token naming a known visitor was carried there from another browser), from
    /// which follows the probability that a browser whose token was not trusted, and which no
    /// visitor matches, really is new (see `Index::decide`). Copying a token takes an attacker
    /// reading one browser's storage and planting it in another; honest traffic never does it.
    pub token_copy_rate: f64,
    /// Whether the confidence stated for links and new-visitor answers is read through the
    /// reference calibration ([`crate::reference`]). Off only to state what the index
    /// computes: for fitting that table, and for comparing with it.
    pub reference_calibration: bool,
    /// Whether the network a visit came from is weighed (see `Index::network_evidence`).
    pub network: bool,
    /// P(a browser comes back from the network of its previous visit), before the workspace's
    /// own token visits have shown how often its browsers do.
    pub network_kept_prior: f64,
    /// How many token visits `network_kept_prior` is worth.
    pub network_pseudo_count: f64,
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
            change_horizon_days: 12.0,
            collide,
            pseudo_count: 50.0,
            condition_pseudo_count: 5.0,
            version_change: 0.3,
            exact_pseudo_count: 1000.0,
            exact_prior_share: 0.1,
            version_collide: 0.2,
            // The dependent components are counted jointly (stack, device class, twins), so
            // the evidence is not scaled down: at 0.8 the accuracy benchmark lost recall
            // (0.853 against 0.868) for no gain in precision.
            temperature: 1.0,
            stack_collide: 0.02,
            prior_return: 0.5,
            return_rate_step: 0.01,
            calibration_every: 4,
            calibration_per_second: 200,
            activity_half_life_days: 30.0,
            // Chosen on tuning populations (0, 0.5, 1, 2 and 4 tried): at 2, recall rose by 0.1
            // to 3 points at 10 to 1,000 browsers with precision kept, and at 10,000 precision
            // rose by 0.1 to 0.3 points with recall within half a point.
            arrival_pseudo_count: 2.0,
            // With the network weighed, chosen on tuning populations (0.91, 0.88 and 0.85 tried):
            // the lowest at which precision at every workspace size stayed at or above the
            // fingerprint-only model's at its own threshold, 0.91.
            link_threshold: 0.88,
            token_min_evidence: -5.0,
            token_copy_rate: 1e-5,
            reference_calibration: true,
            network: true,
            network_kept_prior: 0.5,
            network_pseudo_count: 10.0,
        }
    }
}

impl ModelParams {
    /// The activity weights' time unit in milliseconds: weights grow by e per unit.
    pub fn activity_scale_ms(&self) -> f64 {
        self.activity_half_life_days.max(1e-3) * 86_400_000.0 / std::f64::consts::LN_2
    }
}

/// Least share of the change horizon assumed between two visits, however close together, when
/// matching a visit without a token: a setting can change between any two visits.
const MIN_HORIZON_SHARE: f64 = 0.25;

/// The same, when judging whether a token belongs to the browser that sent it: a token copied
/// onto an identical device model whose owner's languages, time zone, screen and fonts all
/// differ must not pass for that much change in a day.
const TOKEN_MIN_HORIZON_SHARE: f64 = 0.05;

/// The learnt return rate stays within these: neither hypothesis is ever ruled out.
pub const RETURN_RATE_BOUNDS: (f64, f64) = (0.005, 0.999);

/// Fonts that overlap this much are "the same set plus or minus an install".
const FONTS_NEAR: f64 = 0.85;

impl ModelParams {
    /// Evidence that `visit` comes from the browser whose last visit was `known`, or `None`
    /// when they cannot be the same browser at all (another OS or browser family, or a browser
    /// version that went down). See [`Prepared::evidence`].
    ///
    /// `collision(key, value)` estimates P(a different browser has `value`), with `key` a
    /// component index or [`STACK_KEY`]; `given(comp, condition, value)` is (how many known
    /// browsers have `value` for `comp` together with `condition`, how many have `condition`),
    /// for the pairs of [`CONDITIONS`].
    pub fn evidence(
        &self,
        visit: &Fingerprint,
        known: &Fingerprint,
        collision: &dyn Fn(usize, u32) -> f64,
        given: &dyn Fn(Comp, u32, u32) -> (f64, f64),
    ) -> Option<f64> {
        self.prepare(visit, collision, given)
            .evidence(known, self.change_horizon_days)
    }

    /// Everything about `visit` that does not depend on the candidate, computed once so that
    /// scoring many candidates is a few table look-ups each.
    pub fn prepare<'a>(
        &'a self,
        visit: &'a Fingerprint,
        collision: &dyn Fn(usize, u32) -> f64,
        given: &dyn Fn(Comp, u32, u32) -> (f64, f64),
    ) -> Prepared<'a> {
        let mut ln_u = [0.0; N_COMP];
        let mut stay = [0.0; N_COMP];
        let mut differ = [0.0; N_COMP];
        for i in 0..N_COMP {
            let v = visit.h[i];
            if v == 0 {
                continue;
            }
            let change = self.change[i];
            ln_u[i] = collision(i, v).clamp(1e-9, 0.999).ln();
            stay[i] = (1.0 - change).ln();
            differ[i] = -(1.0 - self.collide[i].clamp(1e-9, 0.999)).ln();
        }
        let stack = visit.stack();
        let ln_stack = (stack != 0).then(|| collision(STACK_KEY, stack).clamp(1e-9, 0.999).ln());
        // The personal components' frequencies among browsers like the one compared with,
        // which (as a crowd member) is among the counts itself: smoothed towards the plain
        // frequency, so that a class seen a few times does not decide alone.
        let mut ln_given = ln_u;
        for (comp, condition) in CONDITIONS {
            let i = comp as usize;
            let cond = condition.of(visit);
            if visit.h[i] == 0 || cond == 0 {
                continue;
            }
            let (pair, total) = given(comp, cond, visit.h[i]);
            let m = self.condition_pseudo_count;
            let u = ((pair - 1.0).max(0.0) + m * ln_u[i].exp()) / ((total - 1.0).max(0.0) + m);
            ln_given[i] = u.clamp(1e-9, 1.0).ln();
        }
        Prepared {
            params: self,
            visit,
            ln_u,
            stay,
            differ,
            ln_stack,
            ln_given,
            exact: None,
        }
    }
}

/// What a personal component's frequency is counted among.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Browsers of the same device class ([`Fingerprint::device_class`]).
    DeviceClass,
    /// Browsers with the same languages.
    Languages,
}

impl Condition {
    /// The condition's value for `fp`, 0 when unknown.
    pub fn of(self, fp: &Fingerprint) -> u32 {
        match self {
            Condition::DeviceClass => fp.device_class(),
            Condition::Languages => fp.get(Comp::Languages),
        }
    }
}

/// Personal components and what their frequency is counted among: the time zone goes with the
/// languages, the rest with the device class.
pub const CONDITIONS: [(Comp, Condition); 4] = [
    (Comp::Languages, Condition::DeviceClass),
    (Comp::Timezone, Condition::Languages),
    (Comp::Screen, Condition::DeviceClass),
    (Comp::Fonts, Condition::DeviceClass),
];

/// A visit ready to be compared with many known browsers.
pub struct Prepared<'a> {
    params: &'a ModelParams,
    visit: &'a Fingerprint,
    /// log P(another browser has the visit's value), per component.
    ln_u: [f64; N_COMP],
    /// log P(the component stays the same | same browser, over the change horizon).
    stay: [f64; N_COMP],
    /// −log P(another browser differs from the known value).
    differ: [f64; N_COMP],
    /// log P(another browser has the visit's whole stack), or `None` when none of it is known.
    ln_stack: Option<f64>,
    /// log P(another browser has the visit's value | it shares the component's condition).
    ln_given: [f64; N_COMP],
    /// (other known browsers with exactly the visit's fingerprint, known browsers).
    exact: Option<(f64, f64)>,
}

impl Prepared<'_> {
    /// Tells how many other known browsers have exactly the visit's fingerprint, among how
    /// many: for a candidate identical to the visit, the modelled frequency of such a twin is
    /// then weighed against the observed one.
    pub fn with_exact(mut self, others: f64, population: f64) -> Self {
        self.exact = Some((others, population));
        self
    }

    /// The log-likelihood ratio that the visit comes from the browser whose last visit was
    /// `known`: P(what agrees stayed, what differs changed | same browser) over P(another
    /// browser agrees on what agrees).
    ///
    /// That denominator is where components stop being independent. The device-decided ones go
    /// together, so they count by the rarest of them (or by the whole stack's frequency when
    /// all of it agrees). The personal ones (languages, time zone, screen, fonts) multiply, each
    /// counted among browsers that share its condition ([`CONDITIONS`]). And a candidate
    /// identical to the visit is weighed against how many known browsers are identical to it
    /// ([`Prepared::with_exact`]).
    ///
    /// `gap_days` is the time since the known browser's last visit: change rates are given over
    /// [`ModelParams::change_horizon_days`], and a browser seen yesterday has had less time to
    /// change than one seen two months ago.
    pub fn evidence(&self, known: &Fingerprint, gap_days: f64) -> Option<f64> {
        self.evidence_with_floor(known, gap_days, MIN_HORIZON_SHARE)
    }

    /// [`Prepared::evidence`] for the browser a token names: short gaps weigh as they are
    /// ([`TOKEN_MIN_HORIZON_SHARE`]).
    pub fn token_evidence(&self, known: &Fingerprint, gap_days: f64) -> Option<f64> {
        self.evidence_with_floor(known, gap_days, TOKEN_MIN_HORIZON_SHARE)
    }

    fn evidence_with_floor(&self, known: &Fingerprint, gap_days: f64, floor: f64) -> Option<f64> {
        let visit = self.visit;
        // The share of the horizon that passed; a floor so that nothing is impossible, since
        // a time zone can change between two visits an hour apart.
        let t = (gap_days / self.params.change_horizon_days).max(floor);
        // log P(changed | same browser, over the gap) from log P(stayed | over the horizon).
        let changed = |ln_stay: f64| (-(t * ln_stay).exp_m1()).max(1e-12).ln();
        for c in [Comp::Os, Comp::Browser] {
            let (a, b) = (visit.get(c), known.get(c));
            if a != 0 && b != 0 && a != b {
                return None;
            }
        }
        if visit.browser_major != 0 && known.browser_major > visit.browser_major {
            return None;
        }
        let same_class = visit.same_class(known);
        let mut likelihood = 0.0;
        let mut personal = 0.0;
        let mut rarest_stack = 0.0f64;
        let mut stack_agrees = true;
        for c in ALL {
            let i = c as usize;
            let (a, b) = (visit.h[i], known.h[i]);
            let in_stack = STACK.contains(&c);
            // Canvas text is drawn at the device pixel ratio: on another monitor or zoom level
            // the same browser draws it otherwise, so the drawing says nothing either way.
            let redrawn =
                c == Comp::Render && a != b && visit.get(Comp::Display) != known.get(Comp::Display);
            if a == 0 || b == 0 || redrawn {
                stack_agrees &= !in_stack || (a == b && !redrawn);
                continue;
            }
            if a == b {
                likelihood += t * self.stay[i];
                if in_stack {
                    rarest_stack = rarest_stack.min(self.ln_u[i]);
                } else {
                    personal += self.personal_frequency(c, known, same_class);
                }
                continue;
            }
            stack_agrees &= !in_stack;
            // A monitor or zoom change moves the screen and the pixel ratio together: one
            // change, counted on the screen.
            let with_screen = c == Comp::Display && {
                let (x, y) = (visit.get(Comp::Screen), known.get(Comp::Screen));
                x != 0 && y != 0 && x != y
            };
            likelihood += if with_screen {
                0.0
            } else if c == Comp::Languages && languages_near(a, b) {
                // A language added, removed or moved, as an install keeps most fonts: the
                // rest of the visit decides.
                0.0
            } else if c == Comp::Fonts {
                // A font install keeps most of the set: weak evidence either way. A very
                // different set is strong evidence against.
                let sim = visit.font_similarity(known).unwrap_or(0.0);
                if sim >= FONTS_NEAR {
                    0.0
                } else {
                    (0.02f64 / 0.95).ln()
                }
            } else {
                changed(self.stay[i]) + self.differ[i]
            };
        }
        if visit.browser_major != 0 && known.browser_major != 0 {
            let (up, share) = (self.params.version_change, self.params.version_collide);
            let stay = (1.0 - up).ln();
            likelihood += if visit.browser_major == known.browser_major {
                t * stay - share.ln()
            } else {
                changed(stay) - (1.0 - share).ln()
            };
        }
        let stack_part = match self.ln_stack {
            Some(whole) if stack_agrees => whole,
            _ => rarest_stack,
        };
        let mut ln_f = stack_part + personal;
        if let Some((others, population)) = self.exact {
            if known == visit && visit.browser_major != 0 {
                // The modelled share of browsers identical to the visit, version included,
                // against the observed one: a crowd of twins weakens the evidence, and none
                // at all in a large population strengthens it, as far as the prior allows.
                let modelled = (ln_f + self.params.version_collide.ln()).exp();
                let m = self
                    .params
                    .exact_pseudo_count
                    .max(self.params.exact_prior_share * population);
                let smoothed = (others + m * modelled) / (population + m);
                ln_f += smoothed.clamp(1e-12, 1.0).ln() - modelled.clamp(1e-12, 1.0).ln();
            }
        }
        Some((likelihood - ln_f) * self.params.temperature)
    }

    /// log P(another browser agrees on personal component `comp`), counted among browsers
    /// that share its condition with the visit when `known` does (`same_class`: whether it is
    /// of the visit's device class).
    fn personal_frequency(&self, comp: Comp, known: &Fingerprint, same_class: bool) -> f64 {
        let i = comp as usize;
        let holds = |cond: Condition| match cond {
            Condition::DeviceClass => same_class,
            Condition::Languages => self.visit.get(Comp::Languages) == known.get(Comp::Languages),
        };
        match CONDITIONS.iter().find(|(c, _)| *c == comp) {
            Some(&(_, cond)) if holds(cond) => self.ln_given[i],
            _ => self.ln_u[i],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No other known browser shares a condition.
    pub(super) fn none(_: Comp, _: u32, _: u32) -> (f64, f64) {
        (1.0, 1.0)
    }

    fn fp(v: u32) -> Fingerprint {
        let mut f = Fingerprint::default();
        for (i, h) in f.h.iter_mut().enumerate() {
            *h = v + i as u32 + 1;
        }
        f.browser_major = 120;
        f
    }

    #[test]
    fn a_monitor_change_counts_once_and_redraws_the_canvas() {
        let m = ModelParams::default();
        let rare = |_: usize, _: u32| 1e-3;
        let a = fp(100);
        let ev = |b: &Fingerprint| m.evidence(b, &a, &rare, &none).unwrap();
        let mut screen = a;
        screen.h[Comp::Screen as usize] += 1000;
        let mut monitor = screen;
        monitor.h[Comp::Display as usize] += 1000;
        // Another screen and pixel ratio together cost what another screen alone does, less
        // only the agreement on the ratio (it belongs to the stack, which no longer agrees as
        // a whole either way).
        let apart = ev(&screen) - ev(&monitor);
        assert!(apart.abs() < 1.0, "{apart}");
        // The canvas drawn at the new ratio differs too: that says nothing either way, whereas
        // a canvas that changed at the same ratio counts against.
        let mut redrawn = monitor;
        redrawn.h[Comp::Render as usize] += 1000;
        let mut repainted = a;
        repainted.h[Comp::Render as usize] += 1000;
        let (cost_redrawn, cost_repainted) = (ev(&monitor) - ev(&redrawn), ev(&a) - ev(&repainted));
        assert!(
            cost_redrawn + 1.0 < cost_repainted,
            "{cost_redrawn} {cost_repainted}"
        );
    }

    #[test]
    fn a_language_added_costs_less_than_another_language() {
        use crate::fingerprint::Fingerprint as F;
        use prynt_core::agent::Components;
        let m = ModelParams::default();
        let rare = |_: usize, _: u32| 1e-3;
        let k = crate::fingerprint::BrowserKind {
            os: "Windows",
            family: "Chrome",
            major: Some(131),
        };
        let lang = |l: &[&str]| {
            F::from_components(
                &Components {
                    languages: Some(l.iter().map(|s| s.to_string()).collect()),
                    ..Default::default()
                },
                &k,
            )
            .get(Comp::Languages)
        };
        let a = fp(100);
        let with = |v: u32| {
            let mut f = a;
            f.h[Comp::Languages as usize] = v;
            f
        };
        let known = with(lang(&["en-US", "en"]));
        let ev = |v: &Fingerprint| m.evidence(v, &known, &rare, &none).unwrap();
        let added = ev(&with(lang(&["en-US", "en", "de"])));
        let other = ev(&with(lang(&["fr-FR", "fr"])));
        assert!(added > other + 3.0, "{added} {other}");
        assert!(added < ev(&known));
    }

    #[test]
    fn identical_rare_fingerprints_are_strong_evidence_and_differences_weaken_it() {
        let m = ModelParams::default();
        let rare = |_: usize, _: u32| 1e-4;
        let a = fp(100);
        let same = m.evidence(&a, &a, &rare, &none).unwrap();
        let mut drifted = a;
        drifted.h[Comp::Screen as usize] = 999;
        drifted.h[Comp::Render as usize] = 999;
        let less = m.evidence(&drifted, &a, &rare, &none).unwrap();
        assert!(same > less && less > 0.0, "{same} {less}");
        let common = |_: usize, _: u32| 0.5;
        assert!(m.evidence(&a, &a, &common, &none).unwrap() < same);
    }

    #[test]
    fn impossible_pairs_are_excluded() {
        let m = ModelParams::default();
        let f = |_: usize, _: u32| 0.01;
        let a = fp(1);
        let mut other_os = a;
        other_os.h[Comp::Os as usize] = 12345;
        assert!(m.evidence(&other_os, &a, &f, &none).is_none());
        let mut older = a;
        older.browser_major = 119;
        assert!(
            m.evidence(&older, &a, &f, &none).is_none(),
            "versions never go down"
        );
        let mut newer = a;
        newer.browser_major = 121;
        assert!(m.evidence(&newer, &a, &f, &none).is_some());
    }
}

#[cfg(test)]
mod stack_tests {
    use super::tests::none;
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
        let same = m.evidence(&a, &a, &prior_rates, &none).unwrap();
        let other = m.evidence(&other_person, &a, &prior_rates, &none).unwrap();
        assert!(same > 8.0, "{same}");
        assert!(
            other < 0.0,
            "a second profile on the same machine is evidence against: {other}"
        );
    }
}
