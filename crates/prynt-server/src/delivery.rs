//! The webhook delivery worker: claims due deliveries from the durable outbox (leased, so a
//! crashed worker's claims come due again), sends each signed through the SSRF-safe client
//! with a time limit, records every attempt and schedules retries. Each webhook has its own
//! cap of deliveries in flight, so a slow or dead receiver never holds up another, and
//! identification never waits for any of it.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use prynt_core::timefmt;
use prynt_store::{AttemptRecord, ClaimedDelivery, DeliveryNext, WebhookChange, WebhookRecord};
use prynt_webhooks::client::DeliveryClient;
use prynt_webhooks::signing;

use crate::state::AppState;

/// Deliveries in flight per webhook.
const PER_WEBHOOK: usize = 32;
/// How often the list of active webhooks is re-read when nothing wakes the worker.
const REFRESH: Duration = Duration::from_secs(2);
/// Poll interval when idle (retries coming due wake nobody).
const IDLE: Duration = Duration::from_millis(200);

struct Worker {
    state: AppState,
    client: DeliveryClient,
    in_flight: Mutex<HashMap<String, usize>>,
    /// Outcomes waiting to be recorded: written in batches, so deliveries cost the store one
    /// transaction per batch rather than one per attempt.
    results: tokio::sync::mpsc::UnboundedSender<Outcome>,
}

/// An attempt's record and the webhook whose in-flight slot it frees once stored.
type Outcome = (String, i64, AttemptRecord, DeliveryNext);

/// Queued payloads turned into deliveries per round.
const FAN_OUT_BATCH: usize = 2_000;
/// Identifications per second above which the server counts as busy.
const BUSY_RATE: f64 = 1_000.0;
/// While busy, each round fans out and claims at most this many, then pauses: deliveries
/// share the store's single writer with identification, and identification comes first.
/// They still flow (about 500 a second) and catch up in full once the peak passes.
const BUSY_BATCH: usize = 50;
const BUSY_PAUSE: Duration = Duration::from_millis(100);
/// Most outcomes written in one transaction.
const RECORD_BATCH: usize = 512;

/// Writes outcomes as they come, in batches; a slot is freed only once its outcome is stored,
/// so a delivery is never claimed again while its last attempt is unrecorded.
async fn record(worker: Arc<Worker>, mut rx: tokio::sync::mpsc::UnboundedReceiver<Outcome>) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while rx.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        let rows = batch
            .iter()
            .map(|(_, id, a, n)| (*id, a.clone(), *n))
            .collect();
        if let Err(e) = worker.state.store.record_attempts(rows).await {
            tracing::warn!("webhooks: cannot record attempts: {e}");
        }
        {
            let mut in_flight = worker.in_flight.lock();
            for (webhook, ..) in batch.drain(..) {
                if let Some(n) = in_flight.get_mut(&webhook) {
                    *n = n.saturating_sub(1);
                }
            }
        }
        worker.state.delivery_wake.notify_one();
    }
}

/// Starts the worker on its own thread, at a lower CPU priority than the threads that serve
/// the API: on a busy machine identification comes first and deliveries use the spare CPU
/// (they are durable and catch up).
pub fn start(state: AppState, client: DeliveryClient) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("prynt-webhooks".into())
        .spawn(move || {
            lower_priority();
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(run(state, client)),
                Err(e) => tracing::error!("webhooks: cannot start the worker's runtime: {e}"),
            }
        })
        .map(|_| ())
}

/// Raises this thread's nice value; threads it starts inherit it.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid has no preconditions; setpriority only changes this thread's nice value.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, tid, 10) != 0 {
            tracing::warn!("webhooks: cannot lower the worker's priority");
        }
    }
}

/// Runs the worker until the process ends.
async fn run(state: AppState, client: DeliveryClient) {
    // Claims left by a crashed run are free at once: on SQLite every lease (one node owns the
    // store), on PostgreSQL this node's own and those of nodes that are no longer alive.
    if let Err(e) = state.store.release_leases().await {
        tracing::warn!("webhooks: cannot release leases: {e}");
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let worker = Arc::new(Worker {
        state,
        client,
        in_flight: Mutex::new(HashMap::new()),
        results: tx,
    });
    tokio::spawn(record(Arc::clone(&worker), rx));
    let mut webhooks: Vec<WebhookRecord> = Vec::new();
    let mut refreshed = tokio::time::Instant::now() - REFRESH;
    let mut last = (
        tokio::time::Instant::now(),
        worker.state.identified.load(Ordering::Relaxed),
    );
    loop {
        let (now, served) = (
            tokio::time::Instant::now(),
            worker.state.identified.load(Ordering::Relaxed),
        );
        let elapsed = now.duration_since(last.0).as_secs_f64();
        let busy = elapsed > 0.0 && (served - last.1) as f64 / elapsed > BUSY_RATE;
        if elapsed >= 0.05 {
            last = (now, served);
        }
        let budget = if busy { BUSY_BATCH } else { usize::MAX };
        if refreshed.elapsed() >= REFRESH {
            match worker
                .state
                .store
                .webhooks(None, Some("active".into()), usize::MAX, 0)
                .await
            {
                Ok((rows, _)) => webhooks = rows,
                Err(e) => tracing::warn!("webhooks: cannot list webhooks: {e}"),
            }
            refreshed = tokio::time::Instant::now();
        }
        let fanned = match worker.state.store.fan_out(FAN_OUT_BATCH.min(budget)).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("webhooks: cannot fan out queued payloads: {e}");
                0
            }
        };
        let claimed = worker.claim_round(&webhooks, budget).await + fanned;
        if busy {
            tokio::time::sleep(BUSY_PAUSE).await;
        } else if claimed == 0 {
            let wake = worker.state.delivery_wake.notified();
            if tokio::time::timeout(IDLE, wake).await.is_ok() {
                // Woken by a change: webhooks may have been added or paused.
                refreshed = tokio::time::Instant::now() - REFRESH;
            }
        }
    }
}

impl Worker {
    /// Claims and starts up to `budget` due deliveries across the webhooks.
    async fn claim_round(self: &Arc<Self>, webhooks: &[WebhookRecord], budget: usize) -> usize {
        let now_ms = timefmt::now_unix_ms();
        let lease_ms = self.state.webhook_config.timeout.as_millis() as i64 + 30_000;
        let mut claimed = 0;
        for w in webhooks {
            let busy = self.in_flight.lock().get(&w.id).copied().unwrap_or(0);
            let free = PER_WEBHOOK.saturating_sub(busy).min(budget - claimed);
            if free == 0 {
                continue;
            }
            let batch = match self
                .state
                .store
                .claim_deliveries(&w.id, now_ms, free, lease_ms)
                .await
            {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(webhook = %w.id, "webhooks: cannot claim deliveries: {e}");
                    continue;
                }
            };
            claimed += batch.len();
            *self.in_flight.lock().entry(w.id.clone()).or_default() += batch.len();
            for d in batch {
                let me = Arc::clone(self);
                let w = w.clone();
                tokio::spawn(async move {
                    let (attempt, next) = me.deliver(&w, &d).await;
                    let _ = me.results.send((w.id.clone(), d.id, attempt, next));
                });
            }
        }
        claimed
    }

    fn secrets(&self, w: &WebhookRecord, now_ms: i64) -> Vec<String> {
        let boxed = &self.state.secret_box;
        let mut out: Vec<String> = boxed.open(&w.secret).into_iter().collect();
        if w.old_secret_until_ms.is_some_and(|t| t > now_ms) {
            if let Some(old) = w.old_secret.as_deref().and_then(|s| boxed.open(s).ok()) {
                out.push(old);
            }
        }
        out
    }

    /// One attempt and what becomes of the delivery.
    async fn deliver(
        &self,
        w: &WebhookRecord,
        d: &ClaimedDelivery,
    ) -> (AttemptRecord, DeliveryNext) {
        let now_ms = timefmt::now_unix_ms();
        let Some(payload) = d.payload.as_deref() else {
            // The event was erased (GDPR) before it could be delivered: nothing to send.
            let attempt = AttemptRecord {
                at_ms: now_ms,
                status_code: None,
                latency_ms: 0,
                error: Some("the event was erased before delivery".into()),
            };
            return (attempt, DeliveryNext::Failed);
        };
        let body = crate::decide::with_fields(
            payload,
            &format!("\"timestamp\":\"{}\"", timefmt::rfc3339(now_ms / 1000)),
        );
        let secrets = self.secrets(w, now_ms);
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let delivery_id = format!("dlv_{:012x}", d.id);
        let mut headers =
            signing::delivery_headers(&refs, &delivery_id, now_ms / 1000, body.as_bytes());
        headers.push(("X-Prynt-Event", d.kind.clone()));
        headers.push(("X-Prynt-Delivery", delivery_id));
        let attempt = self
            .client
            .post(
                &w.url,
                &headers,
                body.into_bytes(),
                self.state.webhook_config.timeout,
            )
            .await;
        let at_ms = timefmt::now_unix_ms();
        let next = if attempt.succeeded() {
            DeliveryNext::Succeeded
        } else if attempt.status == Some(410) {
            self.pause(w).await;
            DeliveryNext::Failed
        } else {
            match self.state.webhook_config.schedule.next_attempt_ms(
                (d.attempts + 1) as u32,
                d.created_ms,
                at_ms,
                attempt.retry_after,
            ) {
                Some(t) => DeliveryNext::RetryAt(t),
                None => DeliveryNext::Failed,
            }
        };
        let record = AttemptRecord {
            at_ms,
            status_code: attempt.status,
            latency_ms: attempt.latency_ms,
            error: attempt.error,
        };
        (record, next)
    }

    /// A 410 Gone: the receiver asks to stop; the webhook is paused until someone resumes it.
    async fn pause(&self, w: &WebhookRecord) {
        let change = WebhookChange {
            status: Some("paused".into()),
            ..WebhookChange::default()
        };
        let store = &self.state.store;
        if let Err(e) = store
            .update_webhook(&w.scope, &w.id, change, timefmt::now_unix_ms())
            .await
        {
            tracing::warn!(webhook = %w.id, "webhooks: cannot pause after a 410: {e}");
            return;
        }
        tracing::info!(webhook = %w.id, "webhooks: receiver answered 410 Gone; webhook paused");
        if let Ok(policy) = self.state.policy.scope(&w.scope).await {
            let _ = policy.reload_webhooks(store.as_ref(), &w.scope).await;
        }
    }
}
