//! `prynt-bench webhooks`: webhook delivery rate to a local receiver, and identify throughput
//! with three webhooks subscribed (one of them a receiver that answers after 10 s) beside the
//! same server with none, in alternating runs.
//!
//! Receivers are minimal HTTP/1.1 responders on loopback in this process, on their own thread.
//! The server runs with `--dev-allow-loopback-webhooks` so it may reach them.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prynt_client::{Client, NewWebhook, WebhookEvent, WebhookStatus, WebhookUpdate};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use super::identify::{identify_target, visits};
use super::load;
use crate::node::{read_request, OK_EMPTY};
use crate::server::{self, Server};
use crate::BenchError;

/// Counts requests and answers 200, after `delay`.
async fn receiver(delay: Duration) -> std::io::Result<(u16, Arc<AtomicU64>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let count = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let _ = answer(stream, &seen, delay).await;
            });
        }
    });
    Ok((port, count))
}

/// Serves keep-alive requests on one connection: reads head and body, counts, answers.
async fn answer(mut s: TcpStream, seen: &AtomicU64, delay: Duration) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(8192);
    while let Some((_, end)) = read_request(&mut s, &mut buf).await? {
        buf.drain(..end);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        seen.fetch_add(1, Ordering::Relaxed);
        s.write_all(OK_EMPTY).await?;
    }
    Ok(())
}

/// The management client of the bench server: webhooks are set up and switched through the
/// API as a customer would, with the client's retries should the management budget run out.
fn api(server: &Server) -> Result<Client, BenchError> {
    Client::builder(&server.secret_key)
        .base_url(format!("http://{}", server.addr))
        .build()
        .map_err(|e| BenchError::Runtime(format!("cannot build the API client: {e}")))
}

/// Runs the benchmark against a server started from the `prynt` binary at `prynt`.
pub fn run(
    prynt: &Path,
    seconds: u64,
    connections: usize,
    ip_data: &Path,
) -> Result<(), BenchError> {
    let (server, _) = server::start(prynt, ip_data, &["--dev-allow-loopback-webhooks"])?;
    let receivers_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| BenchError::Runtime(e.to_string()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| BenchError::Runtime(e.to_string()))?;
    let start_receiver = |delay| {
        receivers_rt
            .block_on(receiver(delay))
            .map_err(|e| BenchError::Runtime(format!("cannot start a receiver: {e}")))
    };
    let (fast_a, count_a) = start_receiver(Duration::ZERO)?;
    let (fast_b, _) = start_receiver(Duration::ZERO)?;
    let (slow, _) = start_receiver(Duration::from_secs(10))?;
    let dur = Duration::from_secs(seconds);
    let api = api(&server)?;
    let outcome = rt.block_on(async {
        let bodies = visits(&server, connections).await;
        let target = identify_target(&server, "/v1/identify", &bodies);
        let mut ids = Vec::new();
        for port in [fast_a, fast_b, slow] {
            let w = api
                .create_webhook(&NewWebhook {
                    events: Some(vec![WebhookEvent::Identification]),
                    status: Some(WebhookStatus::Paused),
                    ..NewWebhook::new(format!("http://127.0.0.1:{port}/hook"))
                })
                .await
                .map_err(|e| BenchError::Runtime(format!("cannot create a webhook: {e}")))?;
            ids.push(w.webhook.id);
        }
        let set_status = |status: WebhookStatus, which: Vec<String>| {
            let api = api.clone();
            async move {
                let change = WebhookUpdate {
                    status: Some(status),
                    ..WebhookUpdate::default()
                };
                for id in which {
                    api.patch_webhook(&id, &change).await.map_err(|e| {
                        BenchError::Runtime(format!("cannot switch webhook {id}: {e}"))
                    })?;
                }
                Ok::<(), BenchError>(())
            }
        };
        // Warm-up, then alternate: none, three, none, three.
        load::closed_loop(&target, connections, dur).await;
        let mut none = Vec::new();
        let mut three = Vec::new();
        for round in 0..4 {
            let with = round % 2 == 1;
            let status = if with {
                WebhookStatus::Active
            } else {
                WebhookStatus::Paused
            };
            set_status(status, ids.clone()).await?;
            let stats = load::closed_loop(&target, connections, dur).await;
            if with {
                three.push(stats.rps())
            } else {
                none.push(stats.rps())
            }
        }
        set_status(WebhookStatus::Paused, ids.clone()).await?;
        eprintln!("identify req/s without webhooks {none:.0?}, with three {three:.0?}");
        // Let the deliveries queued by the runs drain before measuring the delivery rate.
        tokio::time::sleep(Duration::from_secs(3)).await;

        // Delivery rate: a backlog for one fast receiver, then the time to deliver it.
        set_status(WebhookStatus::Active, vec![ids[0].clone()]).await?;
        let backlog_start = count_a.load(Ordering::Relaxed);
        let queued = load::closed_loop(&target, connections, dur).await.ok as u64;
        let target_count = backlog_start + queued;
        let drain_from = Instant::now();
        let from_count = count_a.load(Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(600);
        while count_a.load(Ordering::Relaxed) < target_count && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let drained = count_a.load(Ordering::Relaxed).saturating_sub(from_count);
        let drain_secs = drain_from.elapsed().as_secs_f64();
        Ok::<_, BenchError>((none, three, queued, drained, drain_secs))
    });
    drop(server);
    let (none, three, queued, drained, drain_secs) = outcome?;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let (n, t) = (mean(&none), mean(&three));
    let rate = drained as f64 / drain_secs.max(1e-9);
    super::emit(
        &format!(
            "identify with no webhook: {} req/s (mean {n:.0}); with three webhooks (one receiver \
             answering after 10 s): {} req/s (mean {t:.0}, {:+.1}%); deliveries: {queued} queued \
             for one receiver, backlog of {drained} delivered at {rate:.0}/s",
            none.iter()
                .map(|x| format!("{x:.0}"))
                .collect::<Vec<_>>()
                .join(", "),
            three
                .iter()
                .map(|x| format!("{x:.0}"))
                .collect::<Vec<_>>()
                .join(", "),
            (t / n - 1.0) * 100.0,
        ),
        json!({
            "rpsNoWebhooks": n.round(),
            "rpsThreeWebhooks": t.round(),
            "deliveriesPerSecond": rate.round(),
        }),
    );
    Ok(())
}
