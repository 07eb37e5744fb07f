//! The client's request mechanics against a scripted local HTTP server: retries of 429 (after
//! `Retry-After`), 5xx and transport failures, their switches, the Idempotency-Key of POSTs,
//! timeouts, error bodies that are and are not the API's, undecodable answers, pagination and
//! which key identify sends. The real server's behaviour is tested in prynt-server's
//! integration tests; this server only answers what each test scripts.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use prynt_client::{Client, Error, ErrorKind, EventListParams, ListType, NewList};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One scripted answer.
#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    /// Wait this long before answering.
    delay: Duration,
    /// Close the connection without answering.
    hang_up: bool,
}

impl Reply {
    fn json(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![
                ("content-type", "application/json".into()),
                ("x-request-id", "req_1700000000_abcdef".into()),
            ],
            body: body.to_owned(),
            delay: Duration::ZERO,
            hang_up: false,
        }
    }

    fn html(status: u16) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "text/html".into())],
            body: "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
                .into(),
            delay: Duration::ZERO,
            hang_up: false,
        }
    }

    fn header(mut self, name: &'static str, value: &str) -> Reply {
        self.headers.push((name, value.to_owned()));
        self
    }

    fn delayed(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }

    fn hang_up() -> Reply {
        Reply {
            hang_up: true,
            ..Reply::json(200, "{}")
        }
    }
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: HashMap<String, String>,
    body: String,
    at: Instant,
}

struct Scripted {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Scripted {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn client(&self) -> prynt_client::ClientBuilder {
        Client::builder("sk_test_mechanics")
            .base_url(&self.base)
            .backoff(Duration::from_millis(10), Duration::from_millis(40))
    }
}

/// Serves `replies` in order, one per connection; past the end it answers 500.
async fn serve(replies: Vec<Reply>) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let queue = Arc::new(Mutex::new(VecDeque::from(replies)));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let queue = Arc::clone(&queue);
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let _ = answer(stream, &queue, &record).await;
            });
        }
    });
    Scripted { base, seen }
}

async fn answer(
    mut s: TcpStream,
    queue: &Mutex<VecDeque<Reply>>,
    seen: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default().to_owned();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let mut parts = request_line.split(' ');
    if let Ok(mut seen) = seen.lock() {
        seen.push(Seen {
            method: parts.next().unwrap_or_default().to_owned(),
            target: parts.next().unwrap_or_default().to_owned(),
            headers,
            body: String::from_utf8_lossy(&buf[head_end..]).into_owned(),
            at: Instant::now(),
        });
    }
    let reply = queue
        .lock()
        .ok()
        .and_then(|mut q| q.pop_front())
        .unwrap_or_else(|| {
            Reply::json(
                500,
                r#"{"error":{"code":"script_exhausted","message":"no reply scripted"}}"#,
            )
        });
    tokio::time::sleep(reply.delay).await;
    if reply.hang_up {
        return Ok(());
    }
    let mut out = format!(
        "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&reply.body);
    s.write_all(out.as_bytes()).await?;
    s.shutdown().await
}

const WORKSPACE: &str = r#"{"id":"ws_1","name":"default","environment":"test","plan":"pro",
    "limits":{"serverApiPerMinute":1000,"managementApiPerMinute":100,"burstPerSecond":50,"identifyPerSecond":10000},
    "allowedOrigins":[],"suspectWeights":{"bot":7},"maskIp":false}"#;

const INTERNAL: &str = r#"{"error":{"code":"internal_error","message":"An internal error occurred.","docs":"/docs/errors#internal_error"}}"#;

#[tokio::test]
async fn a_500_is_retried_and_the_retry_answers() {
    let s = serve(vec![
        Reply::json(500, INTERNAL),
        Reply::json(200, WORKSPACE),
    ])
    .await;
    let ws = s.client().build().expect("client").get_workspace().await;
    assert_eq!(ws.expect("retried to success").plan, "pro");
    let seen = s.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen
        .iter()
        .all(|r| r.method == "GET" && r.target == "/v1/workspace"));
    assert_eq!(seen[0].headers["authorization"], "Bearer sk_test_mechanics");
}

#[tokio::test]
async fn an_html_502_is_a_typed_error_after_the_retries() {
    let s = serve(vec![Reply::html(502); 3]).await;
    let err = s
        .client()
        .max_retries(2)
        .build()
        .expect("client")
        .get_workspace()
        .await
        .expect_err("502");
    assert!(
        matches!(&err, Error::Http { status: 502, snippet, .. } if snippet.contains("Bad Gateway")),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(s.seen().len(), 3, "first attempt and two retries");
}

#[tokio::test]
async fn a_429_waits_for_retry_after() {
    let limited = Reply::json(
        429,
        r#"{"error":{"code":"rate_limited","message":"Rate limit exceeded. Retry in 1s.","retryAfter":1}}"#,
    )
    .header("retry-after", "1");
    let s = serve(vec![limited, Reply::json(200, WORKSPACE)]).await;
    s.client()
        .build()
        .expect("client")
        .get_workspace()
        .await
        .expect("retried after the wait");
    let seen = s.seen();
    assert_eq!(seen.len(), 2);
    let waited = seen[1].at - seen[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "waited only {waited:?} (the backoff alone is at most 40 ms)"
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_is_returned_not_slept_through() {
    let limited = Reply::json(
        429,
        r#"{"error":{"code":"rate_limited","message":"Rate limit exceeded. Retry in 120s.","retryAfter":120}}"#,
    )
    .header("retry-after", "120");
    let s = serve(vec![limited]).await;
    let started = Instant::now();
    let err = s
        .client()
        .build()
        .expect("client")
        .get_workspace()
        .await
        .expect_err("429");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(err.is_rate_limited());
    assert_eq!(err.code(), Some("rate_limited"));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(err.request_id(), Some("req_1700000000_abcdef"));
    assert_eq!(s.seen().len(), 1);
}

#[tokio::test]
async fn retries_can_be_switched_off() {
    let s = serve(vec![Reply::json(503, INTERNAL)]).await;
    let err = s
        .client()
        .max_retries(0)
        .build()
        .expect("client")
        .get_workspace()
        .await
        .expect_err("503");
    assert_eq!(err.status(), Some(503));
    assert_eq!(s.seen().len(), 1);
}

#[tokio::test]
async fn client_errors_are_not_retried_and_keep_the_api_fields() {
    let s = serve(vec![Reply::json(
        400,
        r#"{"error":{"code":"validation_error","message":"'name' is required.","docs":"/docs/errors#validation_error","field":"name"}}"#,
    )])
    .await;
    let err = s
        .client()
        .build()
        .expect("client")
        .create_list(&NewList::new("", ListType::Visitor))
        .await
        .expect_err("400");
    assert!(err.is_validation());
    assert_eq!(err.field(), Some("name"));
    assert_eq!(err.request_id(), Some("req_1700000000_abcdef"));
    assert!(err.to_string().contains("'name' is required."), "{err}");
    assert_eq!(s.seen().len(), 1);
}

const LIST: &str = r#"{"id":"lst_f3a8c7d2e1b4","name":"blocked_devices","type":"visitor",
    "description":null,"purpose":null,"entryCount":0,"ttl":null,
    "createdAt":"2026-02-14T15:00:00Z","updatedAt":"2026-02-14T15:00:00Z"}"#;

#[tokio::test]
async fn a_post_is_retried_with_the_same_idempotency_key() {
    let s = serve(vec![
        Reply::json(500, INTERNAL),
        Reply::hang_up(),
        Reply::json(200, LIST),
    ])
    .await;
    let list = s
        .client()
        .build()
        .expect("client")
        .create_list(&NewList::new("blocked_devices", ListType::Visitor))
        .await
        .expect("retried to success");
    assert_eq!(list.id, "lst_f3a8c7d2e1b4");
    let seen = s.seen();
    assert_eq!(seen.len(), 3);
    let key = seen[0]
        .headers
        .get("idempotency-key")
        .cloned()
        .expect("a key");
    assert!(key.len() >= 16, "{key}");
    for r in &seen {
        assert_eq!(
            r.headers.get("idempotency-key"),
            Some(&key),
            "one key per call"
        );
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(r.body, r#"{"name":"blocked_devices","type":"visitor"}"#);
    }

    // The next call has a key of its own.
    let s2 = serve(vec![Reply::json(200, LIST)]).await;
    s2.client()
        .build()
        .expect("client")
        .create_list(&NewList::new("blocked_devices", ListType::Visitor))
        .await
        .expect("ok");
    assert_ne!(s2.seen()[0].headers.get("idempotency-key"), Some(&key));
}

#[tokio::test]
async fn without_an_idempotency_key_a_post_is_never_retried() {
    let s = serve(vec![Reply::json(500, INTERNAL), Reply::json(200, LIST)]).await;
    let err = s
        .client()
        .idempotency_keys(false)
        .build()
        .expect("client")
        .create_list(&NewList::new("blocked_devices", ListType::Visitor))
        .await
        .expect_err("not retried");
    assert!(err.is_server());
    let seen = s.seen();
    assert_eq!(seen.len(), 1);
    assert!(!seen[0].headers.contains_key("idempotency-key"));
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    let s = serve(vec![Reply::hang_up(), Reply::json(200, WORKSPACE)]).await;
    s.client()
        .build()
        .expect("client")
        .get_workspace()
        .await
        .expect("retried");
    assert_eq!(s.seen().len(), 2);
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error() {
    // A port that was just free: nothing listens on it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let err = Client::builder("sk_test_x")
        .base_url(format!("http://127.0.0.1:{port}"))
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
        .build()
        .expect("client")
        .get_workspace()
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Transport, "{err:?}");
    assert_eq!(err.status(), None);
}

#[tokio::test]
async fn a_slow_answer_times_out_on_every_attempt() {
    let slow = Reply::json(200, WORKSPACE).delayed(Duration::from_secs(3));
    let s = serve(vec![slow.clone(), slow]).await;
    let started = Instant::now();
    let err = s
        .client()
        .timeout(Duration::from_millis(200))
        .max_retries(1)
        .build()
        .expect("client")
        .get_workspace()
        .await
        .expect_err("timeout");
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(s.seen().len(), 2);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn an_answer_of_the_wrong_shape_is_a_decode_error_naming_the_field() {
    let s = serve(vec![
        Reply::json(200, r#"{"id":"ws_1","limits":{"burstPerSecond":"fifty"}}"#),
        Reply::json(200, "<html>not json</html>"),
    ])
    .await;
    let client = s.client().build().expect("client");
    let err = client.get_workspace().await.expect_err("decode");
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.to_string().contains("limits.burstPerSecond"), "{err}");
    assert_eq!(err.request_id(), Some("req_1700000000_abcdef"));
    let err = client.get_workspace().await.expect_err("decode");
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert_eq!(s.seen().len(), 2, "decode errors are not retried");
}

fn page(ids: &[&str], next: Option<&str>) -> Reply {
    let data: Vec<String> = ids
        .iter()
        .map(|id| {
            format!(
                r#"{{"requestId":"{id}","visitorId":"pv_8kX2mNqR3jT7p","confidence":0.99,"verdict":null,"timestamp":"2026-02-14T11:45:22Z"}}"#
            )
        })
        .collect();
    let next_json = next.map_or("null".to_owned(), |c| format!("\"{c}\""));
    Reply::json(
        200,
        &format!(
            r#"{{"data":[{}],"hasMore":{},"nextCursor":{next_json}}}"#,
            data.join(","),
            next.is_some()
        ),
    )
}

#[tokio::test]
async fn pages_are_followed_by_cursor_to_the_end() {
    let s = serve(vec![
        page(&["req_1_000001", "req_1_000002"], Some("cur_a")),
        page(&["req_1_000003"], Some("cur_b")),
        page(&[], None),
        // The same listing again, as a stream.
        page(&["req_1_000001", "req_1_000002"], Some("cur_a")),
        page(&["req_1_000003"], None),
    ])
    .await;
    let client = s.client().build().expect("client");
    let params = EventListParams {
        visitor_id: Some("pv_8kX2mNqR3jT7p".into()),
        limit: Some(2),
        ..Default::default()
    };
    let mut pager = client.events_pager(params.clone()).expect("pager");
    let mut ids = Vec::new();
    while let Some(p) = pager.next_page().await.expect("page") {
        ids.extend(p.data.into_iter().map(|e| e.request_id));
    }
    assert_eq!(ids, ["req_1_000001", "req_1_000002", "req_1_000003"]);
    assert!(pager.next_page().await.expect("done").is_none());

    let streamed: Vec<String> = client
        .events_pager(params)
        .expect("pager")
        .into_stream()
        .map(|e| e.map(|e| e.request_id))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("every page");
    assert_eq!(streamed, ids);

    let targets: Vec<String> = s.seen().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        [
            "/v1/events?visitorId=pv_8kX2mNqR3jT7p&limit=2",
            "/v1/events?visitorId=pv_8kX2mNqR3jT7p&limit=2&cursor=cur_a",
            "/v1/events?visitorId=pv_8kX2mNqR3jT7p&limit=2&cursor=cur_b",
            "/v1/events?visitorId=pv_8kX2mNqR3jT7p&limit=2",
            "/v1/events?visitorId=pv_8kX2mNqR3jT7p&limit=2&cursor=cur_a",
        ]
    );
}

#[tokio::test]
async fn a_failed_page_ends_the_stream_with_its_error() {
    let s = serve(vec![
        page(&["req_1_000001"], Some("cur_a")),
        Reply::json(
            400,
            r#"{"error":{"code":"validation_error","message":"'cursor' is not a cursor returned by this API.","field":"cursor"}}"#,
        ),
    ])
    .await;
    let items: Vec<_> = s
        .client()
        .build()
        .expect("client")
        .events_pager(EventListParams::default())
        .expect("pager")
        .into_stream()
        .collect()
        .await;
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    assert!(matches!(&items[1], Err(e) if e.field() == Some("cursor")));
}

#[tokio::test]
async fn identify_sends_the_public_key_and_returns_the_visitor_token() {
    let answer = Reply::json(
        200,
        r#"{"requestId":"req_1700000000_abcdef","visitorId":"pv_8kX2mNqR3jT7p","confidence":0.99,"visitorFound":false}"#,
    )
    .header("x-prynt-visitor-token", "tok.en");
    let s = serve(vec![answer.clone(), answer]).await;
    let payload = serde_json::json!({"components": {"userAgent": "UA"}});
    let with_public = s
        .client()
        .public_key("pk_test_public")
        .build()
        .expect("client");
    let id = with_public.identify(&payload).await.expect("identify");
    assert_eq!(id.visitor_id, "pv_8kX2mNqR3jT7p");
    assert_eq!(id.visitor_token.as_deref(), Some("tok.en"));
    s.client()
        .build()
        .expect("client")
        .identify(&payload)
        .await
        .expect("identify");
    let seen = s.seen();
    assert_eq!(seen[0].target, "/v1/identify");
    assert_eq!(seen[0].headers["authorization"], "Bearer pk_test_public");
    assert_eq!(seen[1].headers["authorization"], "Bearer sk_test_mechanics");
    assert_eq!(seen[0].body, r#"{"components":{"userAgent":"UA"}}"#);
}

#[tokio::test]
async fn ids_cannot_step_out_of_their_path() {
    let s = serve(vec![Reply::json(
        404,
        r#"{"error":{"code":"not_found","message":"No rule."}}"#,
    )])
    .await;
    let err = s
        .client()
        .build()
        .expect("client")
        .get_rule("../webhooks")
        .await
        .expect_err("404");
    assert!(err.is_not_found());
    assert_eq!(s.seen()[0].target, "/v1/rules/..%2Fwebhooks");
}

#[tokio::test]
async fn a_key_of_ones_own_is_sent_on_every_attempt_and_only_on_posts() {
    let s = serve(vec![
        Reply::json(503, INTERNAL),
        Reply::json(200, LIST),
        Reply::json(200, WORKSPACE),
    ])
    .await;
    let client = s.client().idempotency_keys(false).build().expect("client");
    let once = client.with_idempotency_key("order-8c1f-create-list");
    once.create_list(&NewList::new("blocked_devices", ListType::Visitor))
        .await
        .expect("retried with the key of its own");
    once.get_workspace().await.expect("workspace");
    let seen = s.seen();
    assert_eq!(seen.len(), 3);
    for r in &seen[..2] {
        assert_eq!(r.headers["idempotency-key"], "order-8c1f-create-list");
    }
    assert!(
        !seen[2].headers.contains_key("idempotency-key"),
        "not on a GET"
    );
    let err = client
        .with_idempotency_key("bad\nkey")
        .create_list(&NewList::new("x", ListType::Ip))
        .await
        .expect_err("refused before sending");
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(s.seen().len(), 3);
}

#[tokio::test]
async fn the_environment_gives_the_key_and_the_server() {
    let s = serve(vec![Reply::json(200, WORKSPACE)]).await;
    // The only test that touches these variables, so no other test sees them change.
    std::env::set_var("PRYNT_SECRET_KEY", "sk_test_from_env");
    std::env::set_var("PRYNT_BASE_URL", &s.base);
    let client = Client::from_env().expect("client");
    std::env::remove_var("PRYNT_SECRET_KEY");
    std::env::remove_var("PRYNT_BASE_URL");
    client.get_workspace().await.expect("workspace");
    assert_eq!(
        s.seen()[0].headers["authorization"],
        "Bearer sk_test_from_env"
    );
    assert!(matches!(Client::from_env(), Err(Error::Config(_))));
}
