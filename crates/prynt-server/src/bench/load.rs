//! A small HTTP/1.1 load generator: keep-alive connections sending prepared requests, either as
//! fast as the server answers (closed loop, for throughput) or at a fixed rate (open loop, for
//! latency; measured from each request's scheduled time so a stalled server cannot hide delay).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;

#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// Request bodies, used round-robin.
    pub bodies: Arc<Vec<Bytes>>,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub ok: usize,
    pub errors: usize,
    pub elapsed: Duration,
    /// Latencies in microseconds.
    pub latencies_us: Vec<u64>,
    /// What went wrong, by kind ("HTTP 500", "connection: …").
    pub error_kinds: std::collections::BTreeMap<String, usize>,
}

impl Stats {
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let mut v = self.latencies_us.clone();
        v.sort_unstable();
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[i] as f64 / 1000.0
    }

    fn merge(&mut self, o: Stats) {
        self.ok += o.ok;
        self.errors += o.errors;
        self.latencies_us.extend(o.latencies_us);
        for (k, v) in o.error_kinds {
            *self.error_kinds.entry(k).or_default() += v;
        }
    }

    fn fail(&mut self, kind: String) {
        self.errors += 1;
        *self.error_kinds.entry(kind).or_default() += 1;
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Result<Sender, String> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let io = hyper_util::rt::TokioIo::new(stream);
    let (sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn send(sender: &mut Sender, t: &Target, body: Bytes) -> Result<(), String> {
    let mut req = Request::post(t.path.as_str()).header("host", t.addr.to_string());
    for (k, v) in &t.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let req = req
        .body(Full::new(body))
        .map_err(|e| format!("request: {e}"))?;
    sender
        .ready()
        .await
        .map_err(|e| format!("connection: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("connection: {e}"))?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?;
    if status.is_success() {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&body.to_bytes())
            .chars()
            .take(120)
            .collect::<String>();
        Err(format!("HTTP {status}: {text}"))
    }
}

/// How a connection paces its requests.
#[derive(Clone, Copy)]
enum Pace {
    /// Back to back until the deadline; latency from sending.
    Closed { deadline: Instant },
    /// `count` requests on a fixed schedule; latency from each request's scheduled time.
    Open {
        start: Instant,
        interval: Duration,
        count: usize,
    },
}

/// Runs `connections` connections with the given pacing and merges their figures.
async fn drive(t: &Target, connections: usize, pace: impl Fn(usize) -> Pace) -> Stats {
    let counter = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (t, counter, pace) = (t.clone(), Arc::clone(&counter), pace(c));
        tasks.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            let mut sender = match connect(t.addr).await {
                Ok(s) => s,
                Err(e) => {
                    stats.fail(format!("connect: {e}"));
                    return stats;
                }
            };
            for k in 0.. {
                let since = match pace {
                    Pace::Closed { deadline } if Instant::now() >= deadline => break,
                    Pace::Closed { .. } => Instant::now(),
                    Pace::Open { count, .. } if k >= count => break,
                    Pace::Open {
                        start, interval, ..
                    } => {
                        let at = start + interval.mul_f64(k as f64);
                        tokio::time::sleep_until(at.into()).await;
                        at
                    }
                };
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let body = t.bodies[i % t.bodies.len()].clone();
                match send(&mut sender, &t, body).await {
                    Ok(()) => {
                        stats.ok += 1;
                        stats.latencies_us.push(since.elapsed().as_micros() as u64);
                    }
                    Err(kind) => {
                        stats.fail(kind);
                        if sender.is_closed() {
                            match connect(t.addr).await {
                                Ok(s) => sender = s,
                                Err(_) => break,
                            }
                        }
                    }
                }
            }
            stats
        }));
    }
    let mut total = Stats::default();
    for task in tasks {
        if let Ok(s) = task.await {
            total.merge(s);
        }
    }
    total.elapsed = started.elapsed();
    total
}

/// `connections` connections each sending back-to-back for `duration`.
pub async fn closed_loop(t: &Target, connections: usize, duration: Duration) -> Stats {
    let deadline = Instant::now() + duration;
    drive(t, connections, |_| Pace::Closed { deadline }).await
}

/// `rate` requests per second spread over `connections`, for `duration`.
pub async fn open_loop(t: &Target, connections: usize, rate: f64, duration: Duration) -> Stats {
    let start = Instant::now() + Duration::from_millis(50);
    let per_conn = rate / connections as f64;
    let interval = Duration::from_secs_f64(1.0 / per_conn.max(1e-6));
    let count = (per_conn * duration.as_secs_f64()).ceil() as usize;
    // Connections are staggered so their schedules interleave evenly.
    drive(t, connections, |c| Pace::Open {
        start: start + interval.mul_f64(c as f64 / connections as f64),
        interval,
        count,
    })
    .await
}

/// Sends every body once over `connections` connections and returns the value of `header` in
/// each answer (by body index), for requests whose later form depends on the first answer.
pub async fn collect_header(t: &Target, connections: usize, header: &str) -> Vec<Option<String>> {
    let n = t.bodies.len();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (t, header) = (t.clone(), header.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            let Ok(mut sender) = connect(t.addr).await else {
                return out;
            };
            for i in (c..n).step_by(connections) {
                let mut req = Request::post(t.path.as_str()).header("host", t.addr.to_string());
                for (k, v) in &t.headers {
                    req = req.header(k.as_str(), v.as_str());
                }
                let Ok(req) = req.body(Full::new(t.bodies[i].clone())) else {
                    continue;
                };
                if sender.ready().await.is_err() {
                    break;
                }
                let Ok(resp) = sender.send_request(req).await else {
                    break;
                };
                let value = resp
                    .headers()
                    .get(header.as_str())
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let _ = resp.into_body().collect().await;
                out.push((i, value));
            }
            out
        }));
    }
    let mut values = vec![None; n];
    for task in tasks {
        if let Ok(found) = task.await {
            for (i, v) in found {
                values[i] = v;
            }
        }
    }
    values
}
