//! The delivery client: one HTTP POST of a webhook payload, made so that a customer's URL cannot
//! steer the server into the private network (docs/webhooks.md), and reported as an [`Attempt`] that the
//! outbox can store and the retry schedule can read.
//!
//! The SSRF guard sits where the address is chosen, not only where the URL is read: a custom DNS
//! resolver hands the connector only addresses that pass [`address_allowed`], so the address
//! connected to is the one that was checked, and a name that resolves to a public address when
//! saved and to 169.254.169.254 at delivery time (DNS rebinding) is still refused. Redirects are
//! never followed (a 3xx could point anywhere) and proxies from the environment are ignored (a
//! proxy would resolve the name itself, out of the guard's sight).

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::redirect::Policy;
use reqwest::{Certificate, Client};

use crate::ssrf::{address_allowed, parse_checked};

/// How much of a receiver's response body is read before the connection is let go: enough to
/// drain a normal reply, bounded so a receiver cannot make the server download without end.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// How the delivery client is set up.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Let loopback addresses (and plain http to them) through: the server's development flag.
    pub allow_loopback: bool,
    /// PEM CA certificates trusted in addition to the system's (for receivers behind a private
    /// CA, and for tests).
    pub extra_roots_pem: Option<Vec<u8>>,
    pub user_agent: String,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            allow_loopback: false,
            extra_roots_pem: None,
            user_agent: concat!("Prynt-Webhooks/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// Why the delivery client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no TLS crypto provider is installed: install rustls' ring provider (rustls::crypto::ring::default_provider().install_default()) before building the delivery client")]
    NoCryptoProvider,
    #[error("the extra CA certificates are not valid PEM: {0}")]
    Roots(#[source] reqwest::Error),
    #[error("the extra CA certificates hold no certificate")]
    NoRoots,
    #[error("the HTTP client could not be built: {0}")]
    Build(#[source] reqwest::Error),
}

/// The outcome of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The receiver's HTTP status, when it answered at all.
    pub status: Option<u16>,
    /// From the start of the attempt to the end of reading the response (or the failure).
    pub latency_ms: u64,
    /// Why the attempt failed before or instead of an answer ("timed out after 10 s",
    /// "connection refused", "refused address 10.0.0.1 ...", "redirect not followed (302)").
    /// `None` when the receiver answered with a non-redirect status: the status says it all.
    pub error: Option<String>,
    /// The receiver's `Retry-After`, as delta-seconds or an HTTP-date turned into a delay.
    pub retry_after: Option<Duration>,
}

impl Attempt {
    /// Whether the receiver accepted the delivery (a 2xx status).
    pub fn succeeded(&self) -> bool {
        matches!(self.status, Some(200..=299))
    }

    fn failed(started: Instant, error: String) -> Self {
        Self {
            status: None,
            latency_ms: elapsed_ms(started),
            error: Some(error),
            retry_after: None,
        }
    }
}

/// The SSRF-safe webhook client; cheap to share (one connection pool inside).
#[derive(Debug, Clone)]
pub struct DeliveryClient {
    http: Client,
    allow_loopback: bool,
}

impl DeliveryClient {
    pub fn new(opts: ClientOptions) -> Result<Self, ClientError> {
        // reqwest (built without a bundled provider) panics when no provider is installed; a
        // typed error here is kinder to whoever wires the server up.
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            return Err(ClientError::NoCryptoProvider);
        }
        let mut builder = Client::builder()
            .redirect(Policy::none())
            .no_proxy()
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(opts.user_agent)
            .dns_resolver(GuardedResolver {
                allow_loopback: opts.allow_loopback,
            });
        if let Some(pem) = &opts.extra_roots_pem {
            let certs = Certificate::from_pem_bundle(pem).map_err(ClientError::Roots)?;
            if certs.is_empty() {
                return Err(ClientError::NoRoots);
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(ClientError::Build)?;
        Ok(Self {
            http,
            allow_loopback: opts.allow_loopback,
        })
    }

    /// POSTs `body` (Content-Type application/json) with the given extra headers, within
    /// `timeout` for the whole exchange (reading at most 64 KiB of the response body, discarded).
    /// Never follows redirects. The URL is re-checked with [`crate::check_url`], which also
    /// refuses a disallowed IP-literal host before any connection: the connector does not ask
    /// the resolver about literals.
    ///
    /// Once the status line and headers are in, the attempt has its answer: a body that is slow,
    /// cut short or over 64 KiB does not turn a 2xx into a failure.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Attempt {
        let started = Instant::now();
        let deadline = tokio::time::Instant::from_std(started) + timeout;

        let url = match parse_checked(url, self.allow_loopback) {
            Ok(url) => url,
            Err(e) => return Attempt::failed(started, e.to_string()),
        };
        let mut map = HeaderMap::with_capacity(headers.len() + 1);
        for (name, value) in headers {
            let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
                return Attempt::failed(started, format!("invalid header name {name:?}"));
            };
            let Ok(value) = HeaderValue::from_str(value) else {
                return Attempt::failed(started, format!("invalid value for header {name}"));
            };
            map.insert(name, value);
        }
        // Inserted last so a caller's header cannot change what the body is declared to be.
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));

        let request = self.http.post(url).headers(map).body(body).send();
        let mut response = match tokio::time::timeout_at(deadline, request).await {
            Err(_) => return Attempt::failed(started, timed_out(timeout)),
            Ok(Err(e)) => return Attempt::failed(started, describe(&e, timeout)),
            Ok(Ok(response)) => response,
        };

        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));

        let mut read = 0usize;
        while read < MAX_RESPONSE_BYTES {
            match tokio::time::timeout_at(deadline, response.chunk()).await {
                Ok(Ok(Some(chunk))) => read += chunk.len(),
                // End of body, a body error, or the deadline: the answer is already known.
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => break,
            }
        }
        // Dropping the response here closes a connection whose body was not read to the end,
        // rather than returning a half-read one to the pool.
        drop(response);

        let error = status
            .is_redirection()
            .then(|| format!("redirect not followed ({})", status.as_u16()));
        Attempt {
            status: Some(status.as_u16()),
            latency_ms: elapsed_ms(started),
            error,
            retry_after,
        }
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn timed_out(timeout: Duration) -> String {
    format!("timed out after {}", human_duration(timeout))
}

/// `10 s`, `1.5 s`, `500 ms`: how a delay reads in a delivery log.
fn human_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else if d.as_secs() == 0 {
        format!("{} ms", d.subsec_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// A short, stable description of a transport failure for the delivery log. reqwest's own
/// message is a chain ("error sending request for url (...)") that repeats the URL and buries the
/// cause, so the known causes are looked for in the chain first.
fn describe(err: &reqwest::Error, timeout: Duration) -> String {
    let mut messages: Vec<String> = Vec::new();
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = next {
        if let Some(refused) = find_resolve_error(e) {
            return refused.to_string();
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused".into(),
                std::io::ErrorKind::ConnectionReset => {
                    return "connection reset by the receiver".into()
                }
                _ => {}
            }
        }
        let text = e.to_string();
        if !messages.iter().any(|m| m.contains(&text)) {
            messages.push(text);
        }
        next = e.source();
    }
    if err.is_timeout() {
        return if err.is_connect() {
            format!(
                "connection timed out after {}",
                human_duration(CONNECT_TIMEOUT)
            )
        } else {
            timed_out(timeout)
        };
    }
    // The outermost message names the URL, which the delivery row already holds.
    if messages.len() > 1 {
        messages.remove(0);
    }
    messages.join(": ")
}

/// The resolver's own error, whether it sits in the chain directly or inside an `io::Error`
/// (whose `source()` skips the error it wraps).
fn find_resolve_error<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a ResolveError> {
    if let Some(r) = e.downcast_ref::<ResolveError>() {
        return Some(r);
    }
    e.downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        .and_then(|inner| inner.downcast_ref::<ResolveError>())
}

/// `Retry-After` as delta-seconds or an HTTP-date (IMF-fixdate, e.g. `Wed, 21 Oct 2015 07:28:00
/// GMT`); a date in the past means "now". Anything else is ignored rather than guessed at.
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // An absurdly long number saturates; the schedule caps what it honours anyway.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let at = SystemTime::from(at);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Why the resolver gave the connector no address.
#[derive(Debug, thiserror::Error)]
enum ResolveError {
    #[error("could not resolve {host}: {source}")]
    Lookup {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{host} resolves only to refused addresses ({addrs})")]
    AllRefused { host: String, addrs: String },
}

/// Resolves with the system resolver and keeps only addresses a webhook may reach.
struct GuardedResolver {
    allow_loopback: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // The port is irrelevant: the connector puts the URL's port on each address.
            let lookup = tokio::net::lookup_host((host.clone(), 0)).await;
            let found: Vec<SocketAddr> = match lookup {
                Ok(found) => found.collect(),
                Err(source) => return Err(Box::new(ResolveError::Lookup { host, source }) as _),
            };
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| address_allowed(a.ip(), allow_loopback))
                .collect();
            if allowed.is_empty() {
                let addrs = found
                    .iter()
                    .map(|a| a.ip().to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Box::new(ResolveError::AllRefused { host, addrs }) as _);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests;
