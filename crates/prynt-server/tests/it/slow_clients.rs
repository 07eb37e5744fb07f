//! Slow and abusive clients against the real binary on loopback: twenty thousand connections
//! that send part of a request and fall silent, while health checks and identifications keep
//! their latency and the server its memory; the header, idle and body deadlines (over plain
//! HTTP and TLS); the cap per client address; the most requests a connection carries; and the
//! JSON error body of the refusals hyper makes itself.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{block_on, payload, DataDir, TestServer};

fn addr(s: &TestServer) -> SocketAddr {
    s.base
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .parse()
        .expect("the server's address")
}

/// Raises this process's open-file limit to at least `wanted` (the server it starts inherits
/// it), raising the hard limit too where the process may (root).
fn raise_open_files(wanted: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write only the struct given.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if lim.rlim_max < wanted as libc::rlim_t {
            let raised = libc::rlimit {
                rlim_cur: wanted as libc::rlim_t,
                rlim_max: wanted as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        }
    }
    lim.rlim_cur
}

/// The server's resident memory, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb / 1024.0
}

/// A value of the server's `/metrics`, summed over its labels.
fn metric(s: &TestServer, name: &str) -> f64 {
    let text = crate::harness::client()
        .get(s.url("/metrics"))
        .send()
        .and_then(|r| r.text())
        .expect("metrics");
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .fold(0.0, |sum, v| sum + v)
}

/// One request on a connection of its own; the status and how long it took.
fn healthz(server: SocketAddr) -> (u16, Duration) {
    let started = Instant::now();
    let mut c = TcpStream::connect(server).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = c.read_to_end(&mut answer);
    let status = std::str::from_utf8(answer.get(9..12).unwrap_or(b"000"))
        .unwrap_or("000")
        .parse()
        .unwrap_or(0);
    (status, started.elapsed())
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(i).copied().unwrap_or_default()
}

/// Whether the server has closed `c` (it reads an end, a reset, or bytes then an end).
fn closed(c: &TcpStream) -> bool {
    c.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 4096];
    let mut reader = c;
    let gone = loop {
        match reader.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
            Err(_) => break true,
        }
    };
    c.set_nonblocking(false).unwrap();
    gone
}

/// A connection from `source` (another loopback address: 127.0.0.2 and up).
fn connect_from(source: IpAddr, server: SocketAddr) -> TcpStream {
    block_on(async move {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind(SocketAddr::new(source, 0)).expect("bind");
        socket.connect(server).await.expect("connect")
    })
    .into_std()
    .inspect(|c| c.set_nonblocking(false).expect("a blocking stream"))
    .expect("a std stream")
}

/// Reads until the server closes `c` or `limit` passes; what came and when it ended.
fn read_until_closed(c: &mut TcpStream, limit: Duration) -> (Vec<u8>, Option<Duration>) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    while started.elapsed() < limit {
        match c.read(&mut buf) {
            Ok(0) => return (got, Some(started.elapsed())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return (got, Some(started.elapsed())),
        }
    }
    (got, None)
}

/// The JSON error body of a raw HTTP answer, after checking its status.
fn json_error(answer: &[u8], status: u16) -> Value {
    let text = String::from_utf8_lossy(answer);
    assert!(
        text.starts_with(&format!("HTTP/1.1 {status} ")),
        "want {status}: {text}"
    );
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(head.contains("x-request-id: req_"), "{head}");
    let body: Value = serde_json::from_str(body).expect("a JSON body");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert_eq!(
        body["error"]["docs"],
        format!(
            "/docs/errors#{}",
            body["error"]["code"].as_str().unwrap_or("")
        )
    );
    body
}

const PARTIAL: usize = 20_000;

/// Twenty thousand connections from 40 loopback addresses each send the start of a request and
/// fall silent (the header timeout is set past the test, so only the caps bound them); a health
/// check and an identification, each on a new connection, keep answering within 100 ms at the
/// 99th percentile, and the server's memory stays bounded by its connection cap. The server
/// holds 10,000 of them (its default cap) and closes the oldest to make room for newer ones;
/// the flood keeps every connection the server has not closed, so it never holds more than
/// the cap and a few hundred being opened.
#[test]
fn twenty_thousand_silent_connections_leave_health_and_identify_answering() {
    let files = raise_open_files(PARTIAL as u64 + 4_096);
    assert!(
        files >= 12_000,
        "this test holds over 10,000 connections: it needs an open-file limit of 12,000 or more \
         (ulimit -n), has {files}"
    );
    let dir = DataDir::new();
    // The default caps (10,000 connections, 512 per address); heads may take a minute.
    let s = dir.start(&["--header-timeout", "60s"]);
    let server = addr(&s);
    let pid = s.pid();
    let cap = 10_000.0;

    // Warm up, then measure the idle server.
    for i in 0..20 {
        assert_eq!(s.identify(&s.public_key, &payload(i)).status(), 200);
        assert_eq!(healthz(server).0, 200);
    }
    let rss_before = rss_mib(pid);

    // Probes: a health check every 20 ms and an identification every 40 ms, each on a new
    // connection, from 127.0.0.1 (the flood comes from other addresses).
    let stop = Arc::new(AtomicBool::new(false));
    let phase = Arc::new(Mutex::new("flood"));
    type Samples = Arc<Mutex<Vec<(&'static str, u16, Duration)>>>;
    let health: Samples = Arc::default();
    let ident: Samples = Arc::default();
    let probes = {
        let (h_stop, h_phase, h_samples) = (stop.clone(), phase.clone(), health.clone());
        let h = std::thread::spawn(move || {
            while !h_stop.load(Ordering::Relaxed) {
                let (status, took) = healthz(server);
                let p = *h_phase.lock().unwrap();
                h_samples.lock().unwrap().push((p, status, took));
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let (stop, phase, ident) = (stop.clone(), phase.clone(), ident.clone());
        let url = s.url("/v1/identify");
        let key = s.public_key.clone();
        let i = std::thread::spawn(move || {
            let fresh = reqwest::blocking::Client::builder()
                .pool_max_idle_per_host(0)
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            let mut n = 100;
            while !stop.load(Ordering::Relaxed) {
                let body = payload(n);
                n += 1;
                let started = Instant::now();
                let status = fresh
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&body)
                    .send()
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                let took = started.elapsed();
                let p = *phase.lock().unwrap();
                ident.lock().unwrap().push((p, status, took));
                std::thread::sleep(Duration::from_millis(40));
            }
        });
        (h, i)
    };

    // The flood: 500 connections from each of 127.0.0.2 to 127.0.0.41, at most 256 opening
    // at once (the listen backlog is 128), each sending a request line and half a header,
    // then waiting in silence until the server closes it.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let held = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let flood_started = Instant::now();
    let mut rss_peak = rss_before;
    let flood = runtime.block_on(async {
        let gate = Arc::new(tokio::sync::Semaphore::new(256));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..PARTIAL {
            let permit = gate.clone().acquire_owned().await.unwrap();
            // The flood keeps within its own open-file limit: it opens more as the server
            // closes what it holds.
            while held.load(Ordering::Relaxed) > 15_000 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let source = IpAddr::from([127, 0, 0, 2 + (i / 500) as u8]);
            let held = held.clone();
            tasks.spawn(async move {
                let socket = tokio::net::TcpSocket::new_v4().expect("socket");
                socket.bind(SocketAddr::new(source, 0)).expect("bind");
                let mut c = socket.connect(server).await.expect("connect");
                tokio::io::AsyncWriteExt::write_all(
                    &mut c,
                    b"GET /v1/events HTTP/1.1\r\nhost: x\r\nauthorization: Bear",
                )
                .await
                .expect("send the start of a request");
                held.fetch_add(1, Ordering::Relaxed);
                drop(permit);
                let mut buf = [0u8; 256];
                // Silent until the server closes the connection.
                while let Ok(n) = tokio::io::AsyncReadExt::read(&mut c, &mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
                held.fetch_sub(1, Ordering::Relaxed);
            });
        }
        // Every connection has been opened once the last permits are back.
        let _all = gate.acquire_many(256).await.unwrap();
        tasks
    });
    let flood_took = flood_started.elapsed();
    rss_peak = rss_peak.max(rss_mib(pid));

    // The server takes in what the kernel queued for it (the flood ran on the same two
    // cores), then every connection stays silent for five seconds.
    *phase.lock().unwrap() = "settle";
    std::thread::sleep(Duration::from_secs(2));
    rss_peak = rss_peak.max(rss_mib(pid));
    *phase.lock().unwrap() = "hold";
    let hold_started = Instant::now();
    let mut open_during = 0.0f64;
    while hold_started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(500));
        rss_peak = rss_peak.max(rss_mib(pid));
        open_during = open_during.max(metric(&s, "prynt_connections_open"));
    }
    let rss_hold = rss_mib(pid);
    rss_peak = rss_peak.max(rss_hold);
    let evicted = metric(&s, "prynt_connections_closed_total");
    let refused = metric(&s, "prynt_connections_refused_total");
    let still_open_client_side = held.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    probes.0.join().unwrap();
    probes.1.join().unwrap();

    // The flood ends: the server lets go of everything.
    drop(flood);
    drop(runtime);
    let released = Instant::now();
    while metric(&s, "prynt_connections_open") > 5.0 && released.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let open_after = metric(&s, "prynt_connections_open");
    std::thread::sleep(Duration::from_secs(1));
    let rss_after = rss_mib(pid);

    let summary = |samples: &Samples, name: &str| {
        let all = samples.lock().unwrap();
        for p in ["flood", "settle", "hold"] {
            let mut lat: Vec<Duration> = all
                .iter()
                .filter(|(ph, _, _)| *ph == p)
                .map(|s| s.2)
                .collect();
            let failed: Vec<_> = all
                .iter()
                .filter(|(ph, st, _)| *ph == p && *st != 200)
                .collect();
            let n = lat.len();
            let p50 = percentile(&mut lat, 0.5);
            let p99 = percentile(&mut lat, 0.99);
            eprintln!(
                "{name} during the {p}: {n} requests, p50 {:.1} ms, p99 {:.1} ms, {} not 200",
                p50.as_secs_f64() * 1000.0,
                p99.as_secs_f64() * 1000.0,
                failed.len()
            );
            assert!(failed.is_empty(), "{name} during the {p}: {failed:?}");
            if p == "hold" {
                assert!(n >= 20, "{name}: {n} samples during the hold");
                assert!(
                    p99 < Duration::from_millis(100),
                    "{name} p99 during the hold: {p99:?}"
                );
            }
        }
    };
    eprintln!(
        "{PARTIAL} silent connections opened in {:.1} s; held by the server: {open_during} \
         (cap {cap}), still open for the client: {still_open_client_side}, closed to make room: \
         {evicted}, refused: {refused}; open after: {open_after}",
        flood_took.as_secs_f64()
    );
    eprintln!(
        "server RSS: before {rss_before:.0} MiB, at the end of the hold {rss_hold:.0} MiB, peak \
         {rss_peak:.0} MiB, after {rss_after:.0} MiB"
    );
    summary(&health, "/healthz");
    summary(&ident, "identify");

    // The cap held: never more than 10,000 connections (a few probes aside), the rest closed
    // to make room, and memory bounded by what 10,000 connections cost.
    assert!(open_during <= cap + 5.0, "{open_during}");
    assert!(
        open_during >= cap - 200.0,
        "the held connections: {open_during}"
    );
    assert!(
        still_open_client_side as f64 <= cap + 5.0,
        "{still_open_client_side}"
    );
    // Every connection beyond the cap was closed to make room (or, had the closed ones piled
    // up beyond what the descriptors allow, refused).
    assert!(
        evicted + refused >= PARTIAL as f64 - cap - 200.0,
        "{evicted} closed, {refused} refused"
    );
    assert!(
        open_after <= 5.0,
        "connections left after the flood: {open_after}"
    );
    // Holding the cap's connections costs what 10,000 connections cost (about 27 KiB each);
    // the peak, while closed connections wait for their tasks to end, is bounded by the
    // descriptors the server may use.
    assert!(
        rss_hold - rss_before < 400.0,
        "memory grew by {:.0} MiB while holding the cap",
        rss_hold - rss_before
    );
    assert!(
        rss_peak - rss_before < 800.0,
        "memory grew by {:.0} MiB at the peak",
        rss_peak - rss_before
    );
}

/// The deadlines over plain HTTP: a connection that sends nothing, or a head byte by byte,
/// is closed at the header timeout from its start; between requests at the idle timeout; a
/// next head at the header timeout from its first byte; a body sent slowly is answered 408
/// with the JSON error body at the body timeout; and a connection carries three requests at
/// most here, the third answered with `Connection: close`.
#[test]
fn heads_bodies_and_idle_connections_have_deadlines() {
    let dir = DataDir::new();
    let s = dir.start(&[
        "--header-timeout",
        "1s",
        "--idle-timeout",
        "3s",
        "--body-timeout",
        "1s",
        "--max-requests-per-connection",
        "3",
    ]);
    let server = addr(&s);
    let within = |took: Option<Duration>, low: u64, high: u64, what: &str| {
        let took = took.unwrap_or_else(|| panic!("{what}: never closed"));
        assert!(
            took >= Duration::from_millis(low) && took <= Duration::from_millis(high),
            "{what}: closed after {took:?}"
        );
    };

    // Silent from the start, and a head dribbled a byte every 100 ms: neither buys time.
    let mut silent = TcpStream::connect(server).unwrap();
    let dribbler = std::thread::spawn(move || {
        let mut c = TcpStream::connect(server).unwrap();
        let started = Instant::now();
        for b in
            b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        {
            if c.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        (closed(&c), started.elapsed())
    });
    let (got, took) = read_until_closed(&mut silent, Duration::from_secs(5));
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    within(took, 900, 1_600, "a silent connection");
    let (was_closed, ended) = dribbler.join().unwrap();
    assert!(was_closed, "the dribbled head's connection is closed");
    assert!(ended < Duration::from_millis(2_500), "{ended:?}");

    // One request, then silence: the idle timeout, not the header timeout.
    let mut idle = TcpStream::connect(server).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let (got, took) = read_until_closed(&mut idle, Duration::from_secs(6));
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    within(took, 2_900, 3_600, "an idle connection");

    // One request, then half of the next head: the header timeout from its first byte.
    let mut next = TcpStream::connect(server).unwrap();
    next.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(1_500));
    next.write_all(b"GET /healthz HTTP/1.1\r\nho").unwrap();
    let (got, took) = read_until_closed(&mut next, Duration::from_secs(5));
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    within(took, 900, 1_600, "a next head that stops");

    // A body a byte every 100 ms: 408 at the body timeout, whoever reads it (the rule
    // handler here; the Idempotency-Key layer reads a keyed body first).
    for idempotency in ["", "idempotency-key: slow-1\r\n"] {
        let mut c = TcpStream::connect(server).unwrap();
        let head = format!(
            "POST /v1/rules HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
             content-type: application/json\r\n{idempotency}content-length: 200\r\n\r\n{{",
            s.secret_key
        );
        c.write_all(head.as_bytes()).unwrap();
        let mut trickle = c.try_clone().unwrap();
        let started = Instant::now();
        let writer = std::thread::spawn(move || {
            for _ in 0..30 {
                std::thread::sleep(Duration::from_millis(100));
                if trickle.write_all(b" ").is_err() {
                    break;
                }
            }
        });
        let (got, _) = read_until_closed(&mut c, Duration::from_secs(5));
        let took = started.elapsed();
        writer.join().unwrap();
        let body = json_error(&got, 408);
        assert_eq!(body["error"]["code"], "request_timeout", "{body}");
        let head = String::from_utf8_lossy(&got).to_ascii_lowercase();
        assert!(head.contains("connection: close"), "{head}");
        assert!(took < Duration::from_millis(2_500), "{took:?}");
    }

    // Three requests on one connection, the third told the connection closes.
    let mut c = TcpStream::connect(server).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut answers = Vec::new();
    for _ in 0..3 {
        c.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = c.read(&mut buf).unwrap();
        answers.push(String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase());
    }
    assert!(
        answers.iter().all(|a| a.starts_with("http/1.1 200")),
        "{answers:?}"
    );
    assert!(!answers[1].contains("connection: close"), "{}", answers[1]);
    assert!(answers[2].contains("connection: close"), "{}", answers[2]);
    let _ = c.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
    let (got, took) = read_until_closed(&mut c, Duration::from_secs(2));
    assert!(
        got.is_empty() && took.is_some(),
        "a fourth request is not served"
    );

    let closed_by = |reason: &str| {
        metric(
            &s,
            &format!("prynt_connections_closed_total{{reason=\"{reason}\"}}"),
        )
    };
    assert!(closed_by("header_timeout") >= 3.0);
    assert!(closed_by("idle_timeout") >= 1.0);
}

/// The same deadlines and caps under TLS: a connection that never starts its handshake, or
/// stops inside a head after it, is closed at the header timeout; the per-address cap holds.
#[test]
fn tls_connections_have_the_same_deadlines_and_caps() {
    let dir = DataDir::new();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let files = tempfile::tempdir().unwrap();
    let cert_path = files.path().join("cert.pem");
    let key_path = files.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let s = dir.start(&[
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
        "--header-timeout",
        "1s",
        "--max-connections-per-ip",
        "4",
    ]);
    let server = addr(&s);

    // No handshake at all.
    let mut silent = TcpStream::connect(server).unwrap();
    let (_, took) = read_until_closed(&mut silent, Duration::from_secs(5));
    let took = took.expect("closed");
    assert!(took <= Duration::from_millis(1_600), "{took:?}");

    // A handshake, then half a head.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(
            cert.cert.der().to_vec(),
        ))
        .unwrap();
    let config = Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tcp = TcpStream::connect(server).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls =
        rustls::StreamOwned::new(rustls::ClientConnection::new(config, name).unwrap(), tcp);
    tls.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = tls.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nhost").unwrap();
    let mut rest = Vec::new();
    let _ = tls.read_to_end(&mut rest);
    let took = started.elapsed();
    assert!(rest.is_empty());
    assert!(
        took >= Duration::from_millis(900) && took <= Duration::from_millis(1_600),
        "{took:?}"
    );

    // Six silent connections from one address: four stay, two were closed to make room.
    let held: Vec<TcpStream> = (0..6)
        .map(|_| connect_from(IpAddr::from([127, 0, 0, 9]), server))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let gone = held.iter().filter(|c| closed(c)).count();
    assert_eq!(gone, 2, "two of six closed at a cap of four");
}

/// The cap per client address: silent connections beyond it make the oldest go; when every
/// connection of the address is in a request, a new one is refused with a 503 and the JSON
/// error body, while other addresses are served.
#[test]
fn each_address_holds_at_most_its_cap() {
    let dir = DataDir::new();
    let s = dir.start(&["--max-connections-per-ip", "20", "--header-timeout", "30s"]);
    let server = addr(&s);
    let a = IpAddr::from([127, 0, 0, 2]);

    // 25 silent connections: the server keeps 20.
    let silent: Vec<TcpStream> = (0..25)
        .map(|_| {
            let mut c = connect_from(a, server);
            c.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let gone = silent.iter().filter(|c| closed(c)).count();
    assert_eq!(gone, 5, "25 connections at a cap of 20");
    drop(silent);
    std::thread::sleep(Duration::from_millis(300));

    // 20 connections in a request each (a body that has not arrived yet).
    let busy: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut c = connect_from(a, server);
            let head = format!(
                "POST /v1/rules HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
                 content-type: application/json\r\ncontent-length: 100\r\n\r\n{{",
                s.secret_key
            );
            c.write_all(head.as_bytes()).unwrap();
            c
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut refused = connect_from(a, server);
    let _ = refused.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
    let (got, took) = read_until_closed(&mut refused, Duration::from_secs(3));
    assert!(took.is_some(), "a refused connection is closed");
    let body = json_error(&got, 503);
    assert_eq!(body["error"]["code"], "service_unavailable");
    assert!(String::from_utf8_lossy(&got)
        .to_ascii_lowercase()
        .contains("retry-after: 1"));

    // Another address is served meanwhile.
    let mut other = connect_from(IpAddr::from([127, 0, 0, 3]), server);
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let (got, _) = read_until_closed(&mut other, Duration::from_secs(3));
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
    assert!(metric(&s, "prynt_connections_refused_total{cap=\"per_address\"}") >= 1.0);
    assert!(metric(&s, "prynt_connections_closed_total{reason=\"evicted\"}") >= 5.0);

    // Once they are done, the address is served again.
    drop(busy);
    std::thread::sleep(Duration::from_millis(300));
    let mut again = connect_from(a, server);
    again
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let (got, _) = read_until_closed(&mut again, Duration::from_secs(3));
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
}

/// The refusals hyper makes before any handler runs carry the JSON error body too.
#[test]
fn malformed_requests_get_the_json_error_body() {
    let dir = DataDir::new();
    let s = dir.start(&[]);
    let server = addr(&s);
    let ask = |raw: Vec<u8>| {
        let mut c = TcpStream::connect(server).unwrap();
        let _ = c.write_all(&raw);
        read_until_closed(&mut c, Duration::from_secs(5)).0
    };
    let head =
        |extra: &str| format!("GET /healthz HTTP/1.1\r\nhost: x\r\n{extra}\r\n").into_bytes();

    for (what, raw, status, code) in [
        (
            "a negative Content-Length",
            head("content-length: -1\r\n"),
            400,
            "validation_error",
        ),
        (
            "a control byte in a header",
            head("x-a: a\u{1}b\r\n"),
            400,
            "validation_error",
        ),
        (
            "a malformed request line",
            b"GET\r\n\r\n".to_vec(),
            400,
            "validation_error",
        ),
        (
            "a 66,000-byte header (within hyper's buffer, over the 64 KiB head)",
            head(&format!("x-big: {}\r\n", "a".repeat(66_000))),
            431,
            "headers_too_large",
        ),
        (
            "an 80 KiB header",
            head(&format!("x-big: {}\r\n", "a".repeat(80_000))),
            431,
            "headers_too_large",
        ),
        (
            "101 headers",
            head(
                &(0..101)
                    .map(|i| format!("x-h{i}: v\r\n"))
                    .collect::<String>(),
            ),
            431,
            "headers_too_large",
        ),
        (
            "a 65,600-byte URI",
            format!("GET /{} HTTP/1.1\r\nhost: x\r\n\r\n", "a".repeat(65_600)).into_bytes(),
            414,
            "uri_too_long",
        ),
    ] {
        let got = ask(raw);
        let text = String::from_utf8_lossy(&got);
        assert!(
            text.starts_with(&format!("HTTP/1.1 {status}")),
            "{what}: {text}"
        );
        let body = json_error(&got, status);
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
    }
    // A well-formed request on a fresh connection is untouched.
    assert_eq!(healthz(server).0, 200);
}
