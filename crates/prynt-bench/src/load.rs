//! A small HTTP/1.1 load generator: keep-alive connections sending prepared requests, either as
//! fast as the server answers (closed loop, for throughput) or at a fixed rate (open loop, for
//! latency; measured from each request's scheduled time so a stalled server cannot hide delay).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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

    /// The figures of loads that ran at the same time (one per node behind a balancer):
    /// requests and errors added, latencies pooled, over the longest of their times.
    pub fn combined(parts: Vec<Stats>) -> Stats {
        let mut total = Stats::default();
        for p in parts {
            total.elapsed = total.elapsed.max(p.elapsed);
            total.merge(p);
        }
        total
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

/// One keep-alive HTTP/1.1 connection speaking just enough of the protocol to send prepared
/// requests and read their answers. Written for the load generator rather than taken from a
/// general client: it shares the machine with the server it measures, and every cycle it
/// spends is one the server does not get.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// What a connection needs to know of an answer.
struct Answer {
    status: u16,
    /// The value of the header asked for, if any.
    header: Option<String>,
    body: Vec<u8>,
}

/// Every request of a target, serialised once: head and body in one buffer.
fn prepare(t: &Target) -> Vec<Bytes> {
    t.bodies
        .iter()
        .map(|body| {
            let mut head = format!("POST {} HTTP/1.1\r\nhost: {}\r\n", t.path, t.addr);
            for (k, v) in &t.headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
            let mut req = head.into_bytes();
            req.extend_from_slice(body);
            Bytes::from(req)
        })
        .collect()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Conn {
    async fn open(addr: SocketAddr) -> Result<Conn, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = stream.set_nodelay(true);
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    async fn fill(&mut self) -> Result<(), String> {
        let mut chunk = [0u8; 8192];
        let n = self
            .stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("connection: {e}"))?;
        if n == 0 {
            return Err("connection: closed by the server".into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// Sends one prepared request and reads its answer (`Content-Length` or chunked).
    async fn exchange(&mut self, request: &[u8], want: Option<&str>) -> Result<Answer, String> {
        self.stream
            .write_all(request)
            .await
            .map_err(|e| format!("connection: {e}"))?;
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| "bad status line".to_owned())?;
        let (mut length, mut chunked, mut header) = (0usize, false, None);
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().map_err(|_| "bad content-length".to_owned())?;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if want.is_some_and(|w| name.eq_ignore_ascii_case(w)) {
                header = Some(value.to_owned());
            }
        }
        self.buf.drain(..head_end);
        let body = if chunked {
            let mut body = Vec::new();
            loop {
                let line_end = loop {
                    if let Some(i) = find(&self.buf, b"\r\n") {
                        break i;
                    }
                    self.fill().await?;
                };
                let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                        .map_err(|_| "bad chunk size".to_owned())?;
                while self.buf.len() < line_end + 2 + size + 2 {
                    self.fill().await?;
                }
                body.extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
                self.buf.drain(..line_end + 2 + size + 2);
                if size == 0 {
                    break body;
                }
            }
        } else {
            while self.buf.len() < length {
                self.fill().await?;
            }
            self.buf.drain(..length).collect()
        };
        Ok(Answer {
            status,
            header,
            body,
        })
    }
}

async fn send(conn: &mut Conn, request: &[u8]) -> Result<(), String> {
    let answer = conn.exchange(request, None).await?;
    if (200..300).contains(&answer.status) {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&answer.body)
            .chars()
            .take(120)
            .collect::<String>();
        Err(format!("HTTP {}: {text}", answer.status))
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
async fn drive(t: &Target, connections: usize, pace: impl Fn(Instant, usize) -> Pace) -> Stats {
    // Connections are opened before the clock starts: the figures are of requests on
    // established keep-alive connections, as a client's pool sends them, not of a burst of
    // hundreds of simultaneous handshakes.
    let requests = Arc::new(prepare(t));
    let mut conns = Vec::with_capacity(connections);
    let mut total = Stats::default();
    for _ in 0..connections {
        match Conn::open(t.addr).await {
            Ok(c) => conns.push(c),
            Err(e) => total.fail(e),
        }
    }
    let counter = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (c, mut conn) in conns.into_iter().enumerate() {
        let (t, requests, counter, pace) = (
            t.clone(),
            Arc::clone(&requests),
            Arc::clone(&counter),
            pace(started, c),
        );
        tasks.push(tokio::spawn(async move {
            let mut stats = Stats::default();
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
                match send(&mut conn, &requests[i % requests.len()]).await {
                    Ok(()) => {
                        stats.ok += 1;
                        stats.latencies_us.push(since.elapsed().as_micros() as u64);
                    }
                    Err(kind) => {
                        stats.fail(kind);
                        // The connection's state is unknown after an error: start afresh.
                        match Conn::open(t.addr).await {
                            Ok(c) => conn = c,
                            Err(_) => break,
                        }
                    }
                }
            }
            stats
        }));
    }
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
    drive(t, connections, |started, _| Pace::Closed {
        deadline: started + duration,
    })
    .await
}

/// `rate` requests per second spread over `connections`, for `duration`.
pub async fn open_loop(t: &Target, connections: usize, rate: f64, duration: Duration) -> Stats {
    let per_conn = rate / connections as f64;
    let interval = Duration::from_secs_f64(1.0 / per_conn.max(1e-6));
    let count = (per_conn * duration.as_secs_f64()).ceil() as usize;
    // Connections are staggered so their schedules interleave evenly.
    drive(t, connections, |started, c| Pace::Open {
        start: started + interval.mul_f64(c as f64 / connections as f64),
        interval,
        count,
    })
    .await
}

/// Sends every body once over `connections` connections and returns the value of `header` in
/// each answer (by body index), for requests whose later form depends on the first answer.
pub async fn collect_header(t: &Target, connections: usize, header: &str) -> Vec<Option<String>> {
    let requests = Arc::new(prepare(t));
    let n = requests.len();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (requests, header, addr) = (Arc::clone(&requests), header.to_owned(), t.addr);
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            let Ok(mut conn) = Conn::open(addr).await else {
                return out;
            };
            for i in (c..n).step_by(connections) {
                let Ok(answer) = conn.exchange(&requests[i], Some(&header)).await else {
                    break;
                };
                out.push((i, answer.header));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that answers each request with the next canned answer, written in two halves
    /// so the client has to put answers together from partial reads.
    async fn canned(answers: Vec<&'static [u8]>) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let (mut buf, mut seen) = (vec![0u8; 4096], Vec::new());
            for a in answers {
                while !seen.ends_with(b"\r\n\r\nx") {
                    let n = s.read(&mut buf).await.unwrap();
                    assert!(n > 0, "client closed early");
                    seen.extend_from_slice(&buf[..n]);
                }
                seen.clear();
                let (first, rest) = a.split_at(a.len() / 2);
                s.write_all(first).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
                s.write_all(rest).await.unwrap();
            }
        });
        (addr, task)
    }

    #[tokio::test]
    async fn sized_and_chunked_answers_are_read_whole_on_one_connection() {
        let (addr, server) = canned(vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nX-Token: abc\r\n\r\nhello",
            b"HTTP/1.1 403 Forbidden\r\ntransfer-encoding: chunked\r\n\r\n3\r\nno!\r\n2\r\n:(\r\n0\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n",
        ])
        .await;
        let t = Target {
            addr,
            path: "/p".into(),
            headers: vec![("authorization".into(), "Bearer k".into())],
            bodies: Arc::new(vec![Bytes::from_static(b"x")]),
        };
        let requests = prepare(&t);
        assert!(requests[0].starts_with(b"POST /p HTTP/1.1\r\n"));
        assert!(requests[0].ends_with(b"authorization: Bearer k\r\ncontent-length: 1\r\n\r\nx"));

        let mut conn = Conn::open(addr).await.unwrap();
        let a = conn.exchange(&requests[0], Some("x-token")).await.unwrap();
        assert_eq!(a.status, 200);
        assert_eq!(a.header.as_deref(), Some("abc"));
        assert_eq!(a.body, b"hello");
        let refused = send(&mut conn, &requests[0]).await.unwrap_err();
        assert!(
            refused.starts_with("HTTP 403") && refused.ends_with("no!:("),
            "{refused}"
        );
        assert_eq!(send(&mut conn, &requests[0]).await, Ok(()));
        server.await.unwrap();
        // The server has closed the connection: that is an error, not a hang.
        assert!(send(&mut conn, &requests[0]).await.is_err());
    }
}
