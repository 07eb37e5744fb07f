//! Behaviour: the input that came before `identify()`, judged by what no hand does. Automation
//! drives a real browser through its input pipeline (DevTools, WebDriver), so its events are
//! trusted and carry no flag; what gives it away is how they are made: a pointer that appears
//! on the exact centre of what it presses without travelling there, a pointer interpolated
//! along a straight line in equal steps, keys released the instant they are pressed,
//! keystrokes spaced by a timer, presses dispatched by page script.
//!
//! Only positive evidence counts: a visit without input (identify on page load) says nothing.
//! Key timings are judged only on desktops without touch input, because virtual keyboards
//! send a key's press and release together, and only with a fine clock, because privacy
//! modes coarsen `performance.now()` until every interval looks machine-made.

use prynt_core::agent::Behavior;

use crate::device::DeviceInfo;

/// A key held for less than this is not pressed by a finger (people hold keys 50-150 ms).
pub const KEY_HOLD_MIN_MS: f64 = 8.0;
/// Keys this close on median are faster than any typist (a fast typist's are 80-150 ms apart).
pub const KEY_GAP_MIN_MS: f64 = 20.0;
/// Gaps between keystrokes vary by 30-60% for people; a timer's vary by a few percent.
pub const KEY_GAP_CV_MIN: f64 = 0.05;
/// Consecutive moves by one identical diagonal step: a tool interpolating a line. A hand at
/// 60-1000 Hz changes speed and direction from one move to the next.
pub const STRAIGHT_RUN_MIN: u32 = 10;
/// The coarsest clock step at which timings are still judged.
pub const TIMER_RESOLUTION_MAX_MS: f64 = 1.0;

/// The automation evidence in `b`, each as a sentence.
pub fn findings(b: &Behavior, d: &DeviceInfo) -> Vec<String> {
    let mut why = Vec::new();
    let n = |v: Option<u32>| v.unwrap_or(0);
    if n(b.centred_jumps) > 0 {
        why.push(format!(
            "{} of {} mouse presses landed on the exact centre of their target with no movement on the way",
            n(b.centred_jumps),
            n(b.pointer_clicks)
        ));
    }
    if n(b.straight_run) >= STRAIGHT_RUN_MIN {
        why.push(format!(
            "the pointer moved {} times in a row by the same step along a straight line: no hand moves like that",
            n(b.straight_run)
        ));
    }
    if n(b.untrusted) > 0 {
        why.push(format!(
            "{} pointer, key or touch presses were dispatched by script",
            n(b.untrusted)
        ));
    }
    let fine_clock = b
        .timer_resolution_ms
        .is_some_and(|r| r <= TIMER_RESOLUTION_MAX_MS);
    let physical_keyboard = matches!(
        d.platform.as_str(),
        "Windows" | "macOS" | "Linux" | "ChromeOS"
    ) && n(b.touches) == 0;
    if fine_clock && physical_keyboard {
        let keys = n(b.keys);
        if let Some(hold) = b.key_hold_ms.filter(|h| keys >= 4 && *h < KEY_HOLD_MIN_MS) {
            why.push(format!(
                "{keys} keys were held down {hold} ms on median: no finger types like that"
            ));
        }
        if let Some(gap) = b.key_gap_ms.filter(|g| keys >= 6 && *g < KEY_GAP_MIN_MS) {
            why.push(format!(
                "{keys} keys were pressed {gap} ms apart on median: faster than any typist"
            ));
        }
        if let Some(cv) = b.key_gap_cv.filter(|cv| keys >= 8 && *cv < KEY_GAP_CV_MIN) {
            why.push(format!(
                "{keys} keys were pressed at intervals that vary by only {:.1}%: a timer, not a hand",
                cv * 100.0
            ));
        }
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desktop() -> DeviceInfo {
        DeviceInfo {
            platform: "Windows".into(),
            browser_family: "Chrome".into(),
            browser_major: Some(130),
            device_type: crate::device::DeviceType::Desktop,
            gpu: None,
            screen: None,
            model: None,
        }
    }

    /// A person: a few hundred pointer moves, presses off-centre, keys held and spaced unevenly.
    fn person() -> Behavior {
        Behavior {
            moves: Some(240),
            straight_run: Some(3),
            clicks: Some(3),
            pointer_clicks: Some(3),
            jump_clicks: Some(0),
            centred_clicks: Some(0),
            centred_jumps: Some(0),
            keys: Some(22),
            inputs: Some(20),
            touches: Some(0),
            untrusted: Some(0),
            click_hold_ms: Some(96.0),
            key_hold_ms: Some(84.3),
            key_gap_ms: Some(141.0),
            key_gap_cv: Some(0.41),
            timer_resolution_ms: Some(0.1),
            ..Default::default()
        }
    }

    #[test]
    fn a_person_and_a_visit_without_input_raise_nothing() {
        assert!(findings(&person(), &desktop()).is_empty());
        assert!(findings(&Behavior::default(), &desktop()).is_empty());
    }

    #[test]
    fn devtools_input_is_named_by_what_no_hand_does() {
        let bot = Behavior {
            moves: Some(1),
            pointer_clicks: Some(1),
            jump_clicks: Some(1),
            centred_clicks: Some(1),
            centred_jumps: Some(1),
            keys: Some(24),
            key_hold_ms: Some(0.6),
            key_gap_ms: Some(2.1),
            key_gap_cv: Some(0.02),
            timer_resolution_ms: Some(0.1),
            ..person()
        };
        let why = findings(&bot, &desktop());
        assert_eq!(why.len(), 4, "{why:#?}");
        assert!(why[0].contains("exact centre"));
        assert!(why[1].contains("held down 0.6 ms"));
        assert!(why[2].contains("faster than any typist"));
        assert!(why[3].contains("a timer"));
    }

    #[test]
    fn a_pointer_interpolated_along_a_line_is_named_and_a_short_run_is_not() {
        let glide = Behavior {
            straight_run: Some(STRAIGHT_RUN_MIN),
            ..person()
        };
        let why = findings(&glide, &desktop());
        assert_eq!(why.len(), 1, "{why:?}");
        assert!(why[0].contains("10 times in a row by the same step"));
        let short = Behavior {
            straight_run: Some(STRAIGHT_RUN_MIN - 1),
            ..person()
        };
        assert!(findings(&short, &desktop()).is_empty());
    }

    #[test]
    fn key_timings_are_not_judged_on_touch_devices_or_with_a_coarse_clock() {
        let fast_keys = Behavior {
            key_hold_ms: Some(0.0),
            key_gap_ms: Some(5.0),
            key_gap_cv: Some(0.0),
            ..person()
        };
        assert_eq!(findings(&fast_keys, &desktop()).len(), 3);
        // A virtual keyboard sends press and release together.
        let phone = DeviceInfo {
            platform: "Android".into(),
            ..desktop()
        };
        assert!(findings(&fast_keys, &phone).is_empty());
        let touched = Behavior {
            touches: Some(4),
            ..fast_keys.clone()
        };
        assert!(findings(&touched, &desktop()).is_empty());
        // Firefox's resistFingerprinting rounds the clock to 16.7 ms or more.
        let coarse = Behavior {
            timer_resolution_ms: Some(16.7),
            ..fast_keys
        };
        assert!(findings(&coarse, &desktop()).is_empty());
    }

    #[test]
    fn presses_dispatched_by_script_are_named() {
        let b = Behavior {
            untrusted: Some(2),
            ..person()
        };
        let why = findings(&b, &desktop());
        assert_eq!(why.len(), 1);
        assert!(why[0].contains("dispatched by script"), "{why:?}");
    }
}
