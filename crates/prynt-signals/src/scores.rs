//! Risk scores (docs/signals.md, "scores"): `suspect`, an integer sum of the weights of the signals that fired
//! (weights configurable per workspace), and `bot`, `abuse` and `ato`, probabilities from
//! logistic models over signals and velocity. The coefficients are set by hand from what each
//! signal means, not fitted to data this project holds; docs/signals.md lists them, and the
//! tests pin that each input moves its score in the documented direction.

use serde::Serialize;

use crate::detect::Signals;
use crate::velocity::Features;

/// Suspect-score weight of each signal; configurable per workspace environment.
pub use prynt_core::scope::SuspectWeights as Weights;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    pub abuse: f64,
    pub ato: f64,
    pub bot: f64,
    pub suspect: u32,
}

/// Travel faster than this (km/h) between two located events is impossible by airliner.
pub const IMPOSSIBLE_KMH: f64 = 1_000.0;

fn logistic(z: f64) -> f64 {
    let p = 1.0 / (1.0 + (-z).exp());
    (p * 1_000.0).round() / 1_000.0
}

fn b(x: bool) -> f64 {
    f64::from(u8::from(x))
}

/// Counts enter the models on a log scale: the tenth IP says less than the second.
fn ln1(n: u32) -> f64 {
    f64::from(n).ln_1p()
}

pub fn score(
    s: &Signals,
    blocklisted: bool,
    datacenter: bool,
    v: &Features,
    w: &Weights,
) -> Scores {
    let has = |m: &str| s.vpn.methods.contains(&m);
    let fired = [
        (s.bot.detected, w.bot),
        (s.incognito, w.incognito),
        (has("timezone_mismatch"), w.vpn_timezone),
        (has("public_range"), w.vpn_public),
        (has("relay"), w.relay),
        (s.tampered, w.tampered),
        (s.emulator, w.emulator),
        (s.tor, w.tor),
        (s.proxy, w.proxy),
        (blocklisted, w.blocklisted),
    ];
    let suspect = fired.iter().filter(|(on, _)| *on).map(|(_, w)| w).sum();
    let travel = v.travel_kmh.is_some_and(|k| k > IMPOSSIBLE_KMH);

    let bot = logistic(
        -4.0 + 6.0 * b(s.bot.detected)
            + 1.0 * b(s.software_rendering)
            + 1.5 * b(datacenter)
            + 1.0 * b(s.tampered)
            + 0.6 * ln1(v.visitors_per_ip.m5)
            + 0.4 * ln1(v.distinct_ip.h1),
    );
    let abuse = logistic(
        -4.5 + 2.5 * b(s.tor)
            + 2.0 * b(s.proxy)
            + 1.2 * b(s.vpn.detected)
            + 3.0 * b(blocklisted)
            + 1.5 * b(s.tampered)
            + 1.0 * b(s.incognito)
            + 1.5 * b(s.emulator)
            + 1.0 * b(s.bot.detected)
            + 0.8 * ln1(v.visitors_per_ip.h1)
            + 0.8 * ln1(v.distinct_linked_id.h24),
    );
    let ato = logistic(
        -5.0 + 2.5 * b(v.new_device_for_account)
            + 2.0 * b(travel)
            + 0.8 * ln1(v.distinct_country.h24)
            + 1.0 * b(s.vpn.detected)
            + 1.5 * b(s.tor)
            + 1.0 * b(s.tampered)
            + 1.0 * b(s.bot.detected)
            + 0.8 * ln1(v.visitors_per_linked_id.h1),
    );
    Scores {
        abuse,
        ato,
        bot,
        suspect,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::velocity::Windows;

    fn base() -> (Signals, Features) {
        (Signals::default(), Features::default())
    }

    fn sc(s: &Signals, bl: bool, dc: bool, v: &Features) -> Scores {
        score(s, bl, dc, v, &Weights::default())
    }

    #[test]
    fn a_clean_event_scores_low_and_suspect_zero() {
        let (s, v) = base();
        let r = sc(&s, false, false, &v);
        assert_eq!(r.suspect, 0);
        assert!(r.bot < 0.05 && r.abuse < 0.05 && r.ato < 0.05, "{r:?}");
    }

    #[test]
    fn suspect_sums_the_weights_of_what_fired_and_weights_are_configurable() {
        let (mut s, v) = base();
        s.bot.detected = true;
        s.tor = true;
        s.vpn.methods = vec!["timezone_mismatch"];
        assert_eq!(sc(&s, true, false, &v).suspect, 7 + 14 + 3 + 13);
        let w = Weights {
            tor: 0,
            ..Weights::default()
        };
        assert_eq!(score(&s, true, false, &v, &w).suspect, 7 + 3 + 13);
        assert_eq!(
            Weights {
                proxy: 101,
                ..Weights::default()
            }
            .out_of_range(),
            Some("proxy")
        );
    }

    /// Each input, switched on alone, raises its score.
    #[test]
    fn every_input_moves_its_score_up() {
        let (s0, v0) = base();
        let clean = sc(&s0, false, false, &v0);
        type Case = (
            &'static str,
            Box<dyn Fn(&mut Signals, &mut Features, &mut bool, &mut bool)>,
            fn(&Scores) -> f64,
        );
        let bot: fn(&Scores) -> f64 = |r| r.bot;
        let abuse: fn(&Scores) -> f64 = |r| r.abuse;
        let ato: fn(&Scores) -> f64 = |r| r.ato;
        let cases: Vec<Case> = vec![
            (
                "bot.detected → bot",
                Box::new(|s, _, _, _| s.bot.detected = true),
                bot,
            ),
            (
                "software rendering → bot",
                Box::new(|s, _, _, _| s.software_rendering = true),
                bot,
            ),
            ("datacenter → bot", Box::new(|_, _, _, dc| *dc = true), bot),
            (
                "visitors per IP → bot",
                Box::new(|_, v, _, _| {
                    v.visitors_per_ip = Windows {
                        m5: 20,
                        h1: 20,
                        h24: 20,
                    }
                }),
                bot,
            ),
            (
                "distinct IPs → bot",
                Box::new(|_, v, _, _| {
                    v.distinct_ip = Windows {
                        m5: 5,
                        h1: 8,
                        h24: 8,
                    }
                }),
                bot,
            ),
            ("tor → abuse", Box::new(|s, _, _, _| s.tor = true), abuse),
            (
                "proxy → abuse",
                Box::new(|s, _, _, _| s.proxy = true),
                abuse,
            ),
            (
                "vpn → abuse",
                Box::new(|s, _, _, _| s.vpn.detected = true),
                abuse,
            ),
            (
                "blocklisted → abuse",
                Box::new(|_, _, bl, _| *bl = true),
                abuse,
            ),
            (
                "incognito → abuse",
                Box::new(|s, _, _, _| s.incognito = true),
                abuse,
            ),
            (
                "emulator → abuse",
                Box::new(|s, _, _, _| s.emulator = true),
                abuse,
            ),
            (
                "linked accounts → abuse",
                Box::new(|_, v, _, _| {
                    v.distinct_linked_id = Windows {
                        m5: 3,
                        h1: 6,
                        h24: 9,
                    }
                }),
                abuse,
            ),
            (
                "new device for account → ato",
                Box::new(|_, v, _, _| v.new_device_for_account = true),
                ato,
            ),
            (
                "impossible travel → ato",
                Box::new(|_, v, _, _| v.travel_kmh = Some(5_000.0)),
                ato,
            ),
            (
                "countries → ato",
                Box::new(|_, v, _, _| {
                    v.distinct_country = Windows {
                        m5: 1,
                        h1: 2,
                        h24: 3,
                    }
                }),
                ato,
            ),
            (
                "visitors per account → ato",
                Box::new(|_, v, _, _| {
                    v.visitors_per_linked_id = Windows {
                        m5: 2,
                        h1: 4,
                        h24: 4,
                    }
                }),
                ato,
            ),
            (
                "tampered → ato",
                Box::new(|s, _, _, _| s.tampered = true),
                ato,
            ),
        ];
        for (name, set, pick) in cases {
            let (mut s, mut v, mut bl, mut dc) =
                (Signals::default(), Features::default(), false, false);
            set(&mut s, &mut v, &mut bl, &mut dc);
            let r = sc(&s, bl, dc, &v);
            assert!(
                pick(&r) > pick(&clean),
                "{name}: {} is not above {}",
                pick(&r),
                pick(&clean)
            );
        }
        // Travel below airliner speed is not suspicious.
        let (s, mut v) = base();
        v.travel_kmh = Some(800.0);
        assert_eq!(sc(&s, false, false, &v).ato, clean.ato);
    }

    #[test]
    fn probabilities_stay_in_range_with_everything_on() {
        let mut s = Signals::default();
        s.bot.detected = true;
        s.tor = true;
        s.proxy = true;
        s.vpn.detected = true;
        s.tampered = true;
        s.emulator = true;
        s.incognito = true;
        s.software_rendering = true;
        let big = Windows {
            m5: u32::MAX,
            h1: u32::MAX,
            h24: u32::MAX,
        };
        let v = Features {
            distinct_ip: big,
            distinct_country: big,
            distinct_linked_id: big,
            visitors_per_linked_id: big,
            visitors_per_ip: big,
            new_device_for_account: true,
            travel_kmh: Some(f64::MAX),
        };
        let r = sc(&s, true, true, &v);
        for p in [r.bot, r.abuse, r.ato] {
            assert!((0.0..=1.0).contains(&p), "{r:?}");
        }
        assert!(r.bot > 0.99 && r.abuse > 0.99 && r.ato > 0.99);
    }
}
