//! `prynt-bench soak`: a long run at a fixed share of the server's measured identify capacity
//! with a webhook on, watching for errors and for resident memory that keeps growing.
//!
//! The server is a real `prynt serve` on a fresh store; the traffic is `prynt-bench identify`'s
//! (5,000 synthetic browsers by default, `--browsers`; 80% of visits with their token) through
//! the same load generator.
//! First the capacity: a discarded warm-up of closed-loop identify traffic, then a measured one
//! (the webhook paused meanwhile, so that no backlog of deliveries is queued before the soak).
//! Then the webhook, subscribed to identifications and pointed at a receiver in this process,
//! is made active and an open loop sends `--share` of that capacity for `--minutes`. Every
//! `--sample-seconds` the server's resident memory (`VmRSS` and its anonymous part, from
//! `/proc/<pid>/status`) and the deliveries received so far are sampled; afterwards the
//! deliveries get up to `--drain-seconds` to catch up.
//!
//! Memory counts as flat when the mean of the load's last third of samples is at most 10% plus
//! 16 MiB above the mean of its middle third; the first third is the warm-up (the matching
//! index, caches and the allocator's pools filling). The verdict is on the anonymous part of
//! the resident memory (heap, stacks): `VmRSS` also counts the pages of the SQLite database
//! file the store maps into memory (up to 256 MiB a connection), which grow with the file and
//! are the kernel's page cache, not the server's; both are reported, with their slopes after
//! the warm-up. The run fails on any error or on anonymous memory above that bound; the last
//! line is a JSON summary with the curve.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prynt_client::{NewWebhook, WebhookEvent, WebhookStatus, WebhookUpdate};
use serde_json::json;

use crate::load::{self, Target};
use crate::node::{self, Node, Receiver, Store, StoreKind, WorkDir};
use crate::synth::Rng;
use crate::BenchError;

/// Connections of the paced load, as in `prynt-bench identify`: many clients, as real visitors
/// are, so one slow answer does not hold back a whole connection's schedule.
const PACED_CLIENTS: usize = 256;

/// Growth allowed from the middle third's mean memory to the last third's: a share and a
/// constant (allocator pools and the store's caches move by a few MiB either way).
const GROWTH_SHARE: f64 = 0.10;
const GROWTH_MIB: f64 = 16.0;

/// What a run is asked to do.
pub struct Options<'a> {
    pub prynt: &'a Path,
    pub minutes: f64,
    /// Share of the measured capacity the soak sends.
    pub share: f64,
    /// A fixed rate instead of `share` of a measured capacity (the capacity is still measured).
    pub rate: Option<f64>,
    /// Length of the capacity run and of its warm-up, each.
    pub capacity_seconds: u64,
    /// Connections of the capacity run.
    pub connections: usize,
    pub sample_seconds: u64,
    pub drain_seconds: u64,
    pub store: StoreKind,
    pub database_url: Option<&'a str>,
    pub ip_data: &'a Path,
    /// Distinct browsers of the traffic (5,000 in `prynt-bench identify`).
    pub browsers: usize,
    /// Keep the data dir and the server log afterwards, to look into the store.
    pub keep_data: bool,
}

/// One sample of the curve.
struct Sample {
    /// Seconds since the soak's load began.
    t: f64,
    phase: &'static str,
    rss_mb: f64,
    anon_mb: f64,
    deliveries: u64,
}

fn mb(kb: u64) -> f64 {
    (kb as f64 / 1024.0 * 10.0).round() / 10.0
}

fn sample(node: &Node, receiver: &Receiver, t: f64, phase: &'static str) -> Option<Sample> {
    let m = node.memory()?;
    let deliveries = receiver.received().total;
    let s = Sample {
        t,
        phase,
        rss_mb: mb(m.rss_kb),
        anon_mb: mb(m.anon_kb),
        deliveries,
    };
    eprintln!(
        "t={:>5.0} s  {:<5}  rss {:>7.1} MiB  anon {:>7.1} MiB  deliveries {}",
        s.t, s.phase, s.rss_mb, s.anon_mb, s.deliveries
    );
    Some(s)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Least-squares slope of `ys` over `xs`, per unit of `xs`.
fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let (mx, my) = (mean(xs), mean(ys));
    let num: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let den: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

/// The verdict on the load's memory samples: (middle third's mean, last third's mean, bound).
fn flatness(rss: &[f64]) -> Option<(f64, f64, f64)> {
    if rss.len() < 3 {
        return None;
    }
    let third = rss.len() / 3;
    let middle = mean(&rss[third..2 * third]);
    let last = mean(&rss[rss.len() - third..]);
    Some((middle, last, middle * (1.0 + GROWTH_SHARE) + GROWTH_MIB))
}

fn target(node: &Node, public: &str, bodies: &Arc<Vec<Bytes>>) -> Target {
    Target {
        addr: node.addr,
        path: "/v1/identify".to_owned(),
        headers: vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("authorization".to_owned(), format!("Bearer {public}")),
        ],
        bodies: Arc::clone(bodies),
    }
}

/// The identify traffic: each browser's first visit for its token, then 80% of the visits
/// carry it (as `prynt-bench identify` builds it).
async fn visits(node: &Node, public: &str, browsers: usize, connections: usize) -> Arc<Vec<Bytes>> {
    crate::identify::with_tokens(
        node::payloads(7, browsers),
        |first| target(node, public, first),
        connections,
        &mut Rng::new(8),
    )
    .await
}

/// Runs the soak.
pub fn run(o: &Options) -> Result<(), BenchError> {
    let valid = o.minutes.is_finite()
        && o.minutes > 0.0
        && o.share > 0.0
        && o.share <= 1.0
        && o.sample_seconds > 0
        && o.browsers > 0;
    if !valid {
        return Err(BenchError::Usage(
            "--minutes, --sample-seconds and --browsers must be positive and --share in (0, 1]"
                .into(),
        ));
    }
    let mut work = WorkDir::create("soak")?;
    let store = Store::open(o.store, o.database_url, "soak")?;
    let outcome = soak(o, &work, &store);
    if outcome.is_err() || o.keep_data {
        work.keep = true;
        eprintln!(
            "the data dir and the server log are kept in {}",
            work.path.display()
        );
    }
    outcome
}

fn soak(o: &Options, work: &WorkDir, store: &Store) -> Result<(), BenchError> {
    let data = work.data();
    let with_ip_data = node::link_ip_data(o.ip_data, &data)?;
    node::prynt_command(o.prynt, node::UNLIMITED, &data, store)?;
    let mut node = Node::start(
        o.prynt,
        &data,
        store,
        &["--dev-allow-loopback-webhooks"],
        &work.log(),
    )?;
    let (public, secret) = node
        .keys
        .clone()
        .ok_or_else(|| BenchError::Runtime("the server made no keys on its first start".into()))?;
    let api = node::api(&node, &public, &secret)?;
    let receiver = Receiver::start(false)?;
    // One client thread, as in `prynt-bench identify`: the server keeps both cores' worth of
    // its own threads.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| BenchError::Runtime(e.to_string()))?;
    let duration = Duration::from_secs_f64(o.minutes * 60.0);
    let every = Duration::from_secs(o.sample_seconds);

    let node_ref = &node;
    let receiver_ref = &receiver;
    let (capacity, warm_errors, rate, stats, mut curve) = rt.block_on(async {
        let hook = api
            .create_webhook(&NewWebhook {
                events: Some(vec![WebhookEvent::Identification]),
                status: Some(WebhookStatus::Paused),
                ..NewWebhook::new(receiver_ref.url())
            })
            .await
            .map_err(|e| BenchError::Runtime(format!("cannot create the webhook: {e}")))?;
        let bodies = visits(node_ref, &public, o.browsers, o.connections).await;
        let t = target(node_ref, &public, &bodies);
        let cap = Duration::from_secs(o.capacity_seconds);
        let warm = load::closed_loop(&t, o.connections, cap).await;
        let measured = load::closed_loop(&t, o.connections, cap).await;
        let capacity = measured.rps();
        let rate = o.rate.unwrap_or(capacity * o.share);
        eprintln!(
            "capacity: {capacity:.0} identifications/s at {} connections; soak at {rate:.0}/s \
             for {} min with the webhook on",
            o.connections, o.minutes
        );
        let on = WebhookUpdate {
            status: Some(WebhookStatus::Active),
            ..WebhookUpdate::default()
        };
        api.patch_webhook(&hook.webhook.id, &on)
            .await
            .map_err(|e| BenchError::Runtime(format!("cannot switch the webhook on: {e}")))?;

        let mut curve = Vec::new();
        curve.extend(sample(node_ref, receiver_ref, 0.0, "load"));
        let paced = {
            let t = t.clone();
            tokio::spawn(async move { load::open_loop(&t, PACED_CLIENTS, rate, duration).await })
        };
        let began = Instant::now();
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tokio::pin!(paced);
        let stats = loop {
            tokio::select! {
                done = &mut paced => {
                    break done.map_err(|e| BenchError::Runtime(format!("the load failed: {e}")))?;
                }
                _ = tick.tick() => {
                    curve.extend(sample(node_ref, receiver_ref, began.elapsed().as_secs_f64(), "load"));
                }
            }
        };
        Ok::<_, BenchError>((capacity, warm.errors + measured.errors, rate, stats, curve))
    })?;

    // The deliveries catch up: until each identification's payload has arrived once or the
    // drain time is up, sampling on.
    let load_secs = stats.elapsed.as_secs_f64();
    let drain_until = Instant::now() + Duration::from_secs(o.drain_seconds);
    let drained_from = Instant::now();
    let mut next = Instant::now() + every;
    let delivered = |r: &Receiver| r.received().distinct.len() as u64;
    while delivered(&receiver) < stats.ok as u64 && Instant::now() < drain_until {
        std::thread::sleep(Duration::from_millis(200));
        if Instant::now() >= next {
            let t = load_secs + drained_from.elapsed().as_secs_f64();
            curve.extend(sample(&node, &receiver, t, "drain"));
            next += every;
        }
    }
    let drain_secs = drained_from.elapsed().as_secs_f64();
    let end_memory = node.memory();
    node.stop();
    let (received, distinct, duplicates) = {
        let r = receiver.received();
        (r.total, r.distinct.len() as u64, r.duplicates())
    };
    let backlog = (stats.ok as u64).saturating_sub(distinct);

    for (kind, n) in &stats.error_kinds {
        eprintln!("error x{n}: {kind}");
    }
    let load_samples: Vec<&Sample> = curve.iter().filter(|s| s.phase == "load").collect();
    let series = |f: fn(&Sample) -> f64| load_samples.iter().map(|s| f(s)).collect::<Vec<_>>();
    let (rss, anon) = (series(|s| s.rss_mb), series(|s| s.anon_mb));
    // Slopes over the samples after the warm-up (the first third).
    let after_warm = rss.len() / 3;
    let minutes: Vec<f64> = series(|s| s.t / 60.0)[after_warm..].to_vec();
    let rss_slope = slope(&minutes, &rss[after_warm..]);
    let anon_slope = slope(&minutes, &anon[after_warm..]);
    let verdict = flatness(&anon);
    let rss_thirds = flatness(&rss);
    let flat = verdict.is_some_and(|(_, last, bound)| last <= bound);
    let achieved = stats.rps();
    let kept_up = achieved >= rate * 0.95;
    if !kept_up {
        eprintln!(
            "warning: the server did not keep up ({achieved:.0}/s of {rate:.0}/s): the machine \
             was busier than when the capacity was measured, or the webhook's work took more"
        );
    }
    let curve_text = curve
        .iter()
        .map(|s| format!("{:.0}s {:.0}/{:.0}", s.t, s.rss_mb, s.anon_mb))
        .collect::<Vec<_>>()
        .join(", ");
    let (middle, last, bound) = verdict.unwrap_or_default();
    let (rss_middle, rss_last, _) = rss_thirds.unwrap_or_default();
    let round1 = |x: f64| (x * 10.0).round() / 10.0;
    let round2 = |x: f64| (x * 100.0).round() / 100.0;
    crate::emit(
        &format!(
            "soak on {}: capacity {capacity:.0}/s; {:.1} min at {rate:.0}/s ({:.0}% of it; \
             {achieved:.0}/s achieved): {} identifications, {} errors (capacity runs: \
             {warm_errors}); latency from the schedule p50 {:.2} ms, p99 {:.2} ms, max {:.0} ms; \
             deliveries: {received} received ({duplicates} again), {backlog} not yet delivered \
             after {drain_secs:.0} s of drain; resident memory, all/anonymous MiB every {} s: \
             {curve_text}; anonymous: middle third {middle:.1}, last third {last:.1} (bound \
             {bound:.1}: {}), {anon_slope:+.2} MiB/min after the warm-up; all: middle third \
             {rss_middle:.1}, last third {rss_last:.1}, {rss_slope:+.2} MiB/min; signals {}",
            o.store.as_str(),
            load_secs / 60.0,
            rate / capacity.max(1e-9) * 100.0,
            stats.ok,
            stats.errors,
            stats.percentile_ms(0.5),
            stats.percentile_ms(0.99),
            stats.percentile_ms(1.0),
            o.sample_seconds,
            if flat { "flat" } else { "GROWING" },
            if with_ip_data {
                "with the fetched IP data"
            } else {
                "without IP data (none in --ip-data)"
            },
        ),
        json!({
            "store": o.store.as_str(),
            "minutes": round2(load_secs / 60.0),
            "capacityRps": capacity.round(),
            "rate": rate.round(),
            "achievedRps": achieved.round(),
            "keptUp": kept_up,
            "requests": stats.ok + stats.errors,
            "errors": stats.errors,
            "capacityErrors": warm_errors,
            "p50Ms": round2(stats.percentile_ms(0.5)),
            "p99Ms": round2(stats.percentile_ms(0.99)),
            "maxMs": round2(stats.percentile_ms(1.0)),
            "deliveries": received,
            "duplicateDeliveries": duplicates,
            "deliveryBacklog": backlog,
            "drainSeconds": round1(drain_secs),
            "anonMiddleMb": round1(middle),
            "anonLastMb": round1(last),
            "anonBoundMb": round1(bound),
            "anonSlopeMbPerMin": round2(anon_slope),
            "rssMiddleMb": round1(rss_middle),
            "rssLastMb": round1(rss_last),
            "rssSlopeMbPerMin": round2(rss_slope),
            "rssEndMb": end_memory.map(|m| mb(m.rss_kb)),
            "flat": flat,
            "curve": curve.iter().map(|s| json!({
                "t": s.t.round(), "phase": s.phase, "rssMb": s.rss_mb, "anonMb": s.anon_mb,
                "deliveries": s.deliveries,
            })).collect::<Vec<_>>(),
        }),
    );
    if stats.errors > 0 || warm_errors > 0 {
        return Err(BenchError::Runtime(format!(
            "{} identify requests failed",
            stats.errors + warm_errors
        )));
    }
    match verdict {
        None => Err(BenchError::Runtime(
            "too few memory samples to judge: run longer or sample more often".into(),
        )),
        Some(_) if !flat => Err(BenchError::Runtime(format!(
            "anonymous resident memory grew after the warm-up: {middle:.1} MiB → {last:.1} MiB \
             (bound {bound:.1} MiB)"
        ))),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_flat_within_the_bound_and_growing_beyond_it() {
        // Warm-up, then level.
        let level = [50.0, 90.0, 100.0, 101.0, 100.0, 102.0, 101.0, 100.0, 103.0];
        let (middle, last, bound) = flatness(&level).unwrap();
        assert!(last <= bound, "{middle} {last} {bound}");
        // A steady climb of 20 MiB per sample is beyond 10% + 16 MiB.
        let climb: Vec<f64> = (0..9).map(|i| 100.0 + 20.0 * i as f64).collect();
        let (_, last, bound) = flatness(&climb).unwrap();
        assert!(last > bound, "{last} {bound}");
        assert!(flatness(&[1.0, 2.0]).is_none());
        assert!((slope(&[0.0, 1.0, 2.0], &[1.0, 3.0, 5.0]) - 2.0).abs() < 1e-9);
    }
}
