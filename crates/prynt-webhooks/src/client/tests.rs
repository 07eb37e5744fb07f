//! Delivery client tests against real receivers on loopback: small tokio servers that read one
//! request and write a raw HTTP response, so what crosses the wire is exactly what is asserted.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::*;

/// The server installs the provider process-wide; tests do the same, and whichever test gets
/// there first wins.
fn client(allow_loopback: bool) -> DeliveryClient {
    let _ = rustls::crypto::ring::default_provider().install_default();
    DeliveryClient::new(ClientOptions {
        allow_loopback,
        extra_roots_pem: None,
        user_agent: "Prynt-Webhooks/test".into(),
    })
    .expect("client builds")
}

enum Reply {
    /// Write this raw response after reading the request, then close.
    Raw(String),
    /// Read the request and never answer (the connection is held open for a while).
    Never,
}

struct Receiver {
    addr: SocketAddr,
    requests: mpsc::UnboundedReceiver<Vec<u8>>,
    connections: Arc<AtomicUsize>,
}

/// A receiver on 127.0.0.1 answering every connection the same way; each request's raw bytes
/// (head and body) are sent to `requests`.
async fn receiver(reply: Reply) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, requests) = mpsc::unbounded_channel();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    let reply = Arc::new(reply);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let tx = tx.clone();
            let reply = reply.clone();
            tokio::spawn(async move {
                let request = read_request(&mut stream).await;
                let _ = tx.send(request);
                match &*reply {
                    Reply::Raw(text) => {
                        let _ = stream.write_all(text.as_bytes()).await;
                        let _ = stream.shutdown().await;
                    }
                    Reply::Never => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    Receiver {
        addr,
        requests,
        connections,
    }
}

/// Reads a request head and a `Content-Length` body; bounded so a broken client cannot hang it.
async fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return buf;
            }
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return buf,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

const BODY: &str = r#"{"id":"evt_1","type":"decision","timestamp":1700000000}"#;

#[tokio::test]
async fn a_200_succeeds_and_the_receiver_sees_body_and_headers() {
    let mut rx = receiver(Reply::Raw(
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".into(),
    ))
    .await;
    let signature = crate::signing::signature("whsec_test", BODY.as_bytes());
    let url = format!("http://127.0.0.1:{}/hooks/prynt?x=1", rx.addr.port());
    let attempt = client(true)
        .post(
            &url,
            &[
                ("X-Prynt-Signature", signature.clone()),
                ("X-Prynt-Delivery", "dlv_123".into()),
                // A caller cannot relabel the body.
                ("Content-Type", "text/plain".into()),
            ],
            BODY.as_bytes().to_vec(),
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(attempt.status, Some(200), "{attempt:?}");
    assert!(attempt.succeeded());
    assert_eq!(attempt.error, None);
    assert_eq!(attempt.retry_after, None);

    let raw = rx.requests.recv().await.expect("request seen");
    let end = find(&raw, b"\r\n\r\n").expect("head");
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let lower = head.to_ascii_lowercase();
    assert!(
        head.starts_with("POST /hooks/prynt?x=1 HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(
        lower.contains(&format!("x-prynt-signature: {signature}")),
        "{head}"
    );
    assert!(lower.contains("x-prynt-delivery: dlv_123"), "{head}");
    assert!(lower.contains("content-type: application/json"), "{head}");
    assert!(!lower.contains("text/plain"), "{head}");
    assert!(lower.contains("user-agent: prynt-webhooks/test"), "{head}");
    assert_eq!(&raw[end + 4..], BODY.as_bytes());
    // The signature the receiver got verifies over the bytes it got.
    assert!(crate::signing::verify(
        &signature,
        "whsec_test",
        &raw[end + 4..]
    ));
}

#[tokio::test]
async fn other_statuses_fail_without_an_error_text() {
    let rx = receiver(Reply::Raw(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".into(),
    ))
    .await;
    let url = format!("http://127.0.0.1:{}/", rx.addr.port());
    let attempt = client(true)
        .post(&url, &[], b"{}".to_vec(), Duration::from_secs(5))
        .await;
    assert_eq!(attempt.status, Some(500));
    assert!(!attempt.succeeded());
    assert_eq!(attempt.error, None);
}

#[tokio::test]
async fn a_302_is_not_followed() {
    let target = receiver(Reply::Raw(
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".into(),
    ))
    .await;
    let rx = receiver(Reply::Raw(format!(
        "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{}/elsewhere\r\nContent-Length: 0\r\n\r\n",
        target.addr.port()
    )))
    .await;
    let url = format!("http://127.0.0.1:{}/", rx.addr.port());
    let attempt = client(true)
        .post(&url, &[], b"{}".to_vec(), Duration::from_secs(5))
        .await;
    assert_eq!(attempt.status, Some(302));
    assert!(!attempt.succeeded());
    assert_eq!(
        attempt.error.as_deref(),
        Some("redirect not followed (302)")
    );
    assert_eq!(rx.connections.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        target.connections.load(Ordering::SeqCst),
        0,
        "the redirect target was contacted"
    );
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out_on_time() {
    let rx = receiver(Reply::Never).await;
    let url = format!("http://127.0.0.1:{}/", rx.addr.port());
    let timeout = Duration::from_millis(600);
    let started = Instant::now();
    let attempt = client(true).post(&url, &[], b"{}".to_vec(), timeout).await;
    let took = started.elapsed();
    assert_eq!(attempt.status, None);
    assert!(!attempt.succeeded());
    assert_eq!(attempt.error.as_deref(), Some("timed out after 600 ms"));
    assert!(took >= timeout, "returned before the timeout: {took:?}");
    assert!(took < timeout + Duration::from_millis(500), "took {took:?}");
    assert!(attempt.latency_ms >= 600, "{attempt:?}");
    assert_eq!(rx.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn retry_after_is_read_from_the_response() {
    let rx = receiver(Reply::Raw(
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 120\r\nContent-Length: 0\r\n\r\n".into(),
    ))
    .await;
    let url = format!("http://127.0.0.1:{}/", rx.addr.port());
    let attempt = client(true)
        .post(&url, &[], b"{}".to_vec(), Duration::from_secs(5))
        .await;
    assert_eq!(attempt.status, Some(429));
    assert_eq!(attempt.retry_after, Some(Duration::from_secs(120)));
}

#[test]
fn retry_after_formats() {
    // 2015-10-21T07:28:00Z
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
    assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
    assert_eq!(
        parse_retry_after(" 3600 ", now),
        Some(Duration::from_secs(3600))
    );
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:30:30 GMT", now),
        Some(Duration::from_secs(150))
    );
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
        Some(Duration::ZERO),
        "a date in the past means now"
    );
    assert_eq!(parse_retry_after("", now), None);
    assert_eq!(parse_retry_after("-5", now), None);
    assert_eq!(parse_retry_after("soon", now), None);
    assert_eq!(parse_retry_after("1.5", now), None);
    assert_eq!(
        parse_retry_after("99999999999999999999999", now),
        Some(Duration::from_secs(u64::MAX))
    );
}

#[tokio::test]
async fn localhost_is_refused_by_the_resolver_unless_loopback_is_allowed() {
    let rx = receiver(Reply::Raw("HTTP/1.1 204 No Content\r\n\r\n".into())).await;
    let port = rx.addr.port();

    // https so the URL check passes and the name reaches the resolver.
    let attempt = client(false)
        .post(
            &format!("https://localhost:{port}/"),
            &[],
            b"{}".to_vec(),
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(attempt.status, None);
    let error = attempt.error.expect("refused");
    assert!(
        error.starts_with("localhost resolves only to refused addresses"),
        "{error}"
    );
    assert_eq!(rx.connections.load(Ordering::SeqCst), 0);

    let attempt = client(true)
        .post(
            &format!("http://localhost:{port}/"),
            &[],
            b"{}".to_vec(),
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(attempt.status, Some(204), "{attempt:?}");
    assert!(attempt.succeeded());
    assert_eq!(rx.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_private_ip_literal_is_refused_before_any_connection() {
    // Refused by the URL check before the client is asked to connect: nothing leaves the
    // machine, and the answer comes at once rather than after a connect timeout.
    let started = Instant::now();
    for allow_loopback in [false, true] {
        let attempt = client(allow_loopback)
            .post(
                "https://10.0.0.1/",
                &[],
                b"{}".to_vec(),
                Duration::from_secs(10),
            )
            .await;
        assert_eq!(attempt.status, None);
        let error = attempt.error.expect("refused");
        assert!(error.starts_with("refused address 10.0.0.1"), "{error}");
    }
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn loopback_literals_need_the_flag_and_a_closed_port_is_connection_refused() {
    // Find a port nobody listens on: bind, note it, close.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("addr").port()
    };
    let refused = client(false)
        .post(
            &format!("https://127.0.0.1:{port}/"),
            &[],
            b"{}".to_vec(),
            Duration::from_secs(5),
        )
        .await;
    assert!(
        refused
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("refused address 127.0.0.1")),
        "{refused:?}"
    );
    let attempt = client(true)
        .post(
            &format!("http://127.0.0.1:{port}/"),
            &[],
            b"{}".to_vec(),
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(attempt.status, None);
    assert_eq!(attempt.error.as_deref(), Some("connection refused"));
}

#[tokio::test]
async fn a_large_response_body_is_cut_off_without_failing_the_delivery() {
    let big = "x".repeat(1024 * 1024);
    let rx = receiver(Reply::Raw(format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{big}",
        big.len()
    )))
    .await;
    let url = format!("http://127.0.0.1:{}/", rx.addr.port());
    let attempt = client(true)
        .post(&url, &[], b"{}".to_vec(), Duration::from_secs(5))
        .await;
    assert_eq!(attempt.status, Some(200));
    assert!(attempt.succeeded());
}

#[test]
fn bad_headers_are_reported_not_sent() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let attempt = rt.block_on(client(true).post(
        "http://127.0.0.1:9/",
        &[("X-Bad", "line\nbreak".into())],
        Vec::new(),
        Duration::from_secs(1),
    ));
    assert_eq!(
        attempt.error.as_deref(),
        Some("invalid value for header x-bad")
    );
    let attempt = rt.block_on(client(true).post(
        "http://127.0.0.1:9/",
        &[("Bad Name", "v".into())],
        Vec::new(),
        Duration::from_secs(1),
    ));
    assert_eq!(
        attempt.error.as_deref(),
        Some("invalid header name \"Bad Name\"")
    );
}

#[test]
fn extra_roots_must_hold_a_certificate() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let err = DeliveryClient::new(ClientOptions {
        extra_roots_pem: Some(b"not a certificate".to_vec()),
        ..ClientOptions::default()
    })
    .expect_err("no certificate in it");
    assert!(
        matches!(err, ClientError::NoRoots | ClientError::Roots(_)),
        "{err}"
    );
}

#[test]
fn durations_read_naturally() {
    assert_eq!(human_duration(Duration::from_secs(10)), "10 s");
    assert_eq!(human_duration(Duration::from_millis(600)), "600 ms");
    assert_eq!(human_duration(Duration::from_millis(1500)), "1.5 s");
}
