//! Prometheus metrics: request counts and latency histograms per route, method and status,
//! recorded by a middleware and served as text at `/metrics`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    /// Workspace environments whose account history is still loading after the start.
    pub account_history_loading: IntGauge,
    /// Rate-limit checks that Redis did not answer, decided by the failure mode instead.
    pub rate_limit_redis_failures: IntCounter,
    /// Velocity calls that Redis did not answer: events scored without velocity, records and
    /// erasures left for the catch-up once it answers.
    pub velocity_redis_failures: IntCounter,
    /// Seconds since this node last read the store's change feed to its end (`sync`).
    pub sync_lag_seconds: Gauge,
    /// Changes of the feed applied to this node's caches, by kind.
    pub sync_applied: IntCounterVec,
    /// From another node's identification to this node knowing it (the writer's clock).
    pub sync_propagation: Histogram,
    /// Reads of the feed and reloads that failed (retried).
    pub sync_errors: IntCounter,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let labels = &["method", "route", "status"];
        let requests = IntCounterVec::new(
            Opts::new("prynt_http_requests_total", "HTTP requests answered"),
            labels,
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "prynt_http_request_duration_seconds",
                "Time from request to response head",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            labels,
        )?;
        let account_history_loading = IntGauge::new(
            "prynt_account_history_loading",
            "Workspace environments whose newDeviceForAccount history is still loading",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        let rate_limit_redis_failures = IntCounter::new(
            "prynt_rate_limit_redis_failures_total",
            "Rate-limit checks that Redis did not answer in time, decided by the failure mode",
        )?;
        registry.register(Box::new(account_history_loading.clone()))?;
        registry.register(Box::new(rate_limit_redis_failures.clone()))?;
        let velocity_redis_failures = IntCounter::new(
            "prynt_velocity_redis_failures_total",
            "Velocity calls that Redis did not answer in time: events scored without velocity, \
             records and erasures caught up once it answers",
        )?;
        registry.register(Box::new(velocity_redis_failures.clone()))?;
        let sync_lag_seconds = Gauge::new(
            "prynt_sync_lag_seconds",
            "Seconds since this node last read the store's change feed to its end (0 to 0.25 when current)",
        )?;
        let sync_applied = IntCounterVec::new(
            Opts::new(
                "prynt_sync_changes_applied_total",
                "Changes of the store's change feed applied to this node's caches, by kind",
            ),
            &["kind"],
        )?;
        let sync_propagation = Histogram::with_opts(
            HistogramOpts::new(
                "prynt_sync_propagation_seconds",
                "From another node's identification to this node's caches knowing it",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
        )?;
        let sync_errors = IntCounter::new(
            "prynt_sync_errors_total",
            "Reads of the change feed and cache reloads that failed and are retried",
        )?;
        registry.register(Box::new(sync_lag_seconds.clone()))?;
        registry.register(Box::new(sync_applied.clone()))?;
        registry.register(Box::new(sync_propagation.clone()))?;
        registry.register(Box::new(sync_errors.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            account_history_loading,
            rate_limit_redis_failures,
            velocity_redis_failures,
            sync_lag_seconds,
            sync_applied,
            sync_propagation,
            sync_errors,
        })
    }

    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }

    /// Adds metrics kept elsewhere (the connections' own) to what `/metrics` shows.
    pub fn register(&self, metric: Box<dyn prometheus::core::Collector>) -> prometheus::Result<()> {
        self.registry.register(metric)
    }

    /// The Prometheus text exposition of everything recorded so far.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let encoder = TextEncoder::new();
        if let Err(e) = encoder.encode(&self.registry.gather(), &mut out) {
            tracing::warn!("metrics encoding failed: {e}");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Records each request under its route template, so ids in paths never explode the labels.
pub async fn record(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let resp = next.run(req).await;
    metrics.observe(
        &method,
        &route,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}
