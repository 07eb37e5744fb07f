//! The webhook delivery worker: claims due deliveries from the durable outbox (leased, so a
//! crashed worker's claims come due again), sends each signed through the SSRF-safe client
//! with a time limit, records every attempt and schedules retries. Each webhook has its own
//! cap of deliveries in flight, so a slow or dead receiver never holds up another, and
//! identification never waits for any of it.

use std::collections::HashMap;
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
}

/// Runs the worker until the process ends.
pub async fn run(state: AppState, client: DeliveryClient) {
    // A single node owns every lease of its store: claims of a crashed run are free at once.
    if let Err(e) = state.store.release_leases().await {
        tracing::warn!("webhooks: cannot release leases: {e}");
    }
    let worker = Arc::new(Worker {
        state,
        client,
        in_flight: Mutex::new(HashMap::new()),
    });
    let mut webhooks: Vec<WebhookRecord> = Vec::new();
    let mut refreshed = tokio::time::Instant::now() - REFRESH;
    loop {
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
        let claimed = worker.claim_round(&webhooks).await;
        if claimed == 0 {
            let wake = worker.state.delivery_wake.notified();
            if tokio::time::timeout(IDLE, wake).await.is_ok() {
                // Woken by a change: webhooks may have been added or paused.
                refreshed = tokio::time::Instant::now() - REFRESH;
            }
        }
    }
}

impl Worker {
    async fn claim_round(self: &Arc<Self>, webhooks: &[WebhookRecord]) -> usize {
        let now_ms = timefmt::now_unix_ms();
        let lease_ms = self.state.webhook_config.timeout.as_millis() as i64 + 30_000;
        let mut claimed = 0;
        for w in webhooks {
            let busy = self.in_flight.lock().get(&w.id).copied().unwrap_or(0);
            let free = PER_WEBHOOK.saturating_sub(busy);
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
                    me.deliver(&w, d).await;
                    if let Some(n) = me.in_flight.lock().get_mut(&w.id) {
                        *n = n.saturating_sub(1);
                    }
                    me.state.delivery_wake.notify_one();
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

    async fn deliver(&self, w: &WebhookRecord, d: ClaimedDelivery) {
        let now_ms = timefmt::now_unix_ms();
        let store = &self.state.store;
        let Some(payload) = d.payload.as_deref() else {
            // The event was erased (GDPR) before it could be delivered: nothing to send.
            let attempt = AttemptRecord {
                at_ms: now_ms,
                status_code: None,
                latency_ms: 0,
                error: Some("the event was erased before delivery".into()),
            };
            let _ = store
                .record_attempt(d.id, attempt, DeliveryNext::Failed)
                .await;
            return;
        };
        let body = crate::decide::with_fields(
            payload,
            &format!("\"timestamp\":\"{}\"", timefmt::rfc3339(now_ms / 1000)),
        );
        let secrets = self.secrets(w, now_ms);
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let signature = signing::signature_header(&refs, body.as_bytes());
        let headers = [
            ("X-Prynt-Signature", signature),
            ("X-Prynt-Event", d.kind.clone()),
            ("X-Prynt-Delivery", format!("dlv_{:012x}", d.id)),
        ];
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
        if let Err(e) = store.record_attempt(d.id, record, next).await {
            tracing::warn!(delivery = d.id, "webhooks: cannot record an attempt: {e}");
        }
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
