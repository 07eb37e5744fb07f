//! The [`Client`] and its builder, and the one request path every endpoint method goes through:
//! authentication, the Idempotency-Key of POSTs, timeouts, retries with backoff, error decoding
//! and response decoding.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{self, Error, Result};
use crate::retry::{self, RetryPolicy};

/// Where `prynt serve` listens unless told otherwise.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080";
/// Default limit of one attempt, from sending the request to the end of the answer's body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const USER_AGENT: &str = concat!("prynt-client-rust/", env!("CARGO_PKG_VERSION"));
/// The header the server keys its 24-hour idempotency store on.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
const REQUEST_ID: &str = "x-request-id";

/// An async client of the Prynt API. Cheap to clone: clones share one connection pool.
///
/// ```no_run
/// # async fn run() -> prynt_client::Result<()> {
/// let prynt = prynt_client::Client::builder("sk_test_...")
///     .base_url("https://prynt.example.com")
///     .build()?;
/// let event = prynt.get_event("req_1707832921_a7f2c9").await?;
/// println!("{} {:?}", event.visitor_id, event.verdict);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// The Idempotency-Key of this view's POSTs, set by [`Client::with_idempotency_key`].
    idempotency_key: Option<Arc<str>>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    secret: HeaderValue,
    public: Option<HeaderValue>,
    retry: RetryPolicy,
    timeout: Duration,
    idempotency_keys: bool,
}

impl fmt::Debug for Client {
    // Keys are secrets: a client printed in a log must not leak them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("retry", &self.inner.retry)
            .field("timeout", &self.inner.timeout)
            .field("idempotency_keys", &self.inner.idempotency_keys)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Client`]; start with [`Client::builder`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    secret_key: String,
    public_key: Option<String>,
    base_url: String,
    timeout: Duration,
    connect_timeout: Duration,
    retry: RetryPolicy,
    idempotency_keys: bool,
    user_agent: String,
    http: Option<reqwest::Client>,
}

impl ClientBuilder {
    /// The server's address, e.g. `https://prynt.example.com` (a path prefix is kept, for a
    /// server mounted under one behind a proxy). Default: [`DEFAULT_BASE_URL`].
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The public key [`Client::identify`] sends; without one it sends the secret key (the
    /// server lets both identify).
    pub fn public_key(mut self, key: impl Into<String>) -> Self {
        self.public_key = Some(key.into());
        self
    }

    /// Limit of one attempt, answer body included. Default 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Limit of establishing a connection. Default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Retries after the first attempt; 0 switches retries off. Default 2.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.retry.max_retries = n;
        self
    }

    /// Backoff of retries: the first waits up to `base`, each further one up to twice as long,
    /// never more than `max`. Defaults 500 ms and 8 s.
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.retry.base_delay = base;
        self.retry.max_delay = max;
        self
    }

    /// The whole retry policy at once.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Whether every POST carries a random `Idempotency-Key` (default: yes). Without one a
    /// POST is never retried, because a retry could create a second rule, list or event.
    /// [`Client::with_idempotency_key`] sets a key of one's own either way.
    pub fn idempotency_keys(mut self, on: bool) -> Self {
        self.idempotency_keys = on;
        self
    }

    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Use this reqwest client (its TLS roots, proxy, pool) instead of building one; the
    /// builder's timeouts still apply per request, its user agent does not.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// A builder from the environment: the secret key from `PRYNT_SECRET_KEY` (required) and
    /// the base URL from `PRYNT_BASE_URL` when set.
    pub fn from_env() -> Result<ClientBuilder> {
        let key = std::env::var("PRYNT_SECRET_KEY")
            .map_err(|_| Error::Config("PRYNT_SECRET_KEY is not set".into()))?;
        let builder = Client::builder(key);
        Ok(match std::env::var("PRYNT_BASE_URL") {
            Ok(url) if !url.is_empty() => builder.base_url(url),
            _ => builder,
        })
    }

    pub fn build(self) -> Result<Client> {
        let base = Url::parse(&self.base_url)
            .map_err(|e| Error::Config(format!("base URL {:?}: {e}", self.base_url)))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(Error::Config(format!(
                "base URL {:?} must be an http or https URL",
                self.base_url
            )));
        }
        let bearer = |key: &str, what: &str| {
            let mut v = HeaderValue::from_str(&format!("Bearer {key}"))
                .map_err(|_| Error::Config(format!("the {what} key cannot be sent in a header")))?;
            v.set_sensitive(true);
            Ok::<_, Error>(v)
        };
        let secret = bearer(&self.secret_key, "secret")?;
        let public = self
            .public_key
            .as_deref()
            .map(|k| bearer(k, "public"))
            .transpose()?;
        let http = match self.http {
            Some(http) => http,
            None => {
                // reqwest is built without a bundled crypto provider (the workspace uses ring,
                // never aws-lc) and panics without one; install ring unless the application
                // has installed a provider of its own.
                if rustls::crypto::CryptoProvider::get_default().is_none() {
                    let _ = rustls::crypto::ring::default_provider().install_default();
                }
                reqwest::Client::builder()
                    .user_agent(self.user_agent)
                    .connect_timeout(self.connect_timeout)
                    .build()
                    .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?
            }
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                secret,
                public,
                retry: self.retry,
                timeout: self.timeout,
                idempotency_keys: self.idempotency_keys,
            }),
            idempotency_key: None,
        })
    }
}

/// Which key a call sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Secret,
    /// The public key when configured, else the secret key.
    Public,
}

/// A request before it is sent (and, on retries, sent again).
pub(crate) struct Call {
    pub method: Method,
    pub url: Url,
    pub body: Option<Vec<u8>>,
    pub key: Key,
}

/// An answer with a success status.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn request_id(&self) -> Option<String> {
        header_text(&self.headers, REQUEST_ID)
    }

    /// The body as `T`; a mismatch names the path of the offending field.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        let mut de = serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(&mut de).map_err(|e| Error::Decode {
            status: self.status,
            message: format!("at {}: {}", e.path(), e.inner()),
            request_id: self.request_id(),
        })
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A fresh Idempotency-Key: 128 random bits in hex, unique enough that two calls never share
/// one.
fn new_idempotency_key() -> String {
    let bits: u128 = rand::random();
    format!("{bits:032x}")
}

impl Client {
    /// A client for `secret_key` on [`DEFAULT_BASE_URL`] with the default settings.
    pub fn new(secret_key: impl Into<String>) -> Result<Client> {
        Client::builder(secret_key).build()
    }

    /// A client configured from `PRYNT_SECRET_KEY` and `PRYNT_BASE_URL` (see
    /// [`ClientBuilder::from_env`]).
    pub fn from_env() -> Result<Client> {
        ClientBuilder::from_env()?.build()
    }

    pub fn builder(secret_key: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            secret_key: secret_key.into(),
            public_key: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry: RetryPolicy::default(),
            idempotency_keys: true,
            user_agent: USER_AGENT.to_owned(),
            http: None,
        }
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// This client (same connections and settings) sending `key` as the Idempotency-Key of
    /// its POSTs, for a call that must happen once even when it is sent again later, by a
    /// retry or by a restarted process: `client.with_idempotency_key(order_id).create_rule(..)`.
    /// The server keeps the key's answer for 24 hours. Use one view per logical call: every
    /// POST made through it carries the same key.
    pub fn with_idempotency_key(&self, key: impl Into<String>) -> Client {
        Client {
            inner: Arc::clone(&self.inner),
            idempotency_key: Some(Arc::from(key.into())),
        }
    }

    /// The URL of an API path given as segments (`["v1", "rules", id]`). Each segment is
    /// percent-encoded, so an id can never step into another path.
    pub(crate) fn url(&self, segments: &[&str]) -> Result<Url> {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|_| Error::Config("the base URL cannot take a path".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// The URL of a path with a query built from `query`'s fields (absent ones left out).
    pub(crate) fn url_with_query<Q: Serialize>(&self, segments: &[&str], query: &Q) -> Result<Url> {
        let mut url = self.url(segments)?;
        let text = serde_urlencoded::to_string(query)
            .map_err(|e| Error::Config(format!("cannot encode the query: {e}")))?;
        if !text.is_empty() {
            url.set_query(Some(&text));
        }
        Ok(url)
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, url: Url) -> Result<T> {
        self.execute(Call {
            method: Method::GET,
            url,
            body: None,
            key: Key::Secret,
        })
        .await?
        .decode()
    }

    pub(crate) async fn delete<T: DeserializeOwned>(&self, url: Url) -> Result<T> {
        self.execute(Call {
            method: Method::DELETE,
            url,
            body: None,
            key: Key::Secret,
        })
        .await?
        .decode()
    }

    /// A call with a JSON body (`None`: no body at all).
    pub(crate) async fn send<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<T> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| Error::Config(format!("cannot encode the body: {e}")))?;
        self.execute(Call {
            method,
            url,
            body,
            key: Key::Secret,
        })
        .await?
        .decode()
    }

    /// Sends a call, retrying as the policy allows, and returns the success answer or the error
    /// of the last attempt.
    pub(crate) async fn execute(&self, call: Call) -> Result<Answer> {
        let inner = &self.inner;
        // One key for every attempt of this call: that is what lets the server answer a retry
        // of a request it already carried out with the saved answer instead of doing it twice.
        let idempotency_key = match (&self.idempotency_key, call.method == Method::POST) {
            (_, false) => None,
            (Some(own), true) => Some(HeaderValue::from_str(own).map_err(|_| {
                Error::Config("the Idempotency-Key cannot be sent in a header".into())
            })?),
            (None, true) => inner
                .idempotency_keys
                .then(|| HeaderValue::from_str(&new_idempotency_key()).ok())
                .flatten(),
        };
        let may_retry = call.method != Method::POST || idempotency_key.is_some();
        let auth = match (call.key, &inner.public) {
            (Key::Public, Some(public)) => public,
            _ => &inner.secret,
        };
        let mut retry = 0;
        loop {
            let mut req = inner
                .http
                .request(call.method.clone(), call.url.clone())
                .timeout(inner.timeout)
                .header(AUTHORIZATION, auth.clone())
                .header(ACCEPT, "application/json");
            if let Some(k) = &idempotency_key {
                req = req.header(IDEMPOTENCY_KEY, k.clone());
            }
            if let Some(body) = &call.body {
                req = req
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let err = match attempt(req).await {
                Ok(answer) if (200..300).contains(&answer.status) => return Ok(answer),
                Ok(answer) => {
                    let retry_after = header_text(&answer.headers, RETRY_AFTER.as_str())
                        .and_then(|v| retry::parse_retry_after(&v));
                    let request_id = answer.request_id();
                    error::from_status(answer.status, &answer.body, retry_after, request_id)
                }
                Err(e) if e.is_timeout() => Error::Timeout(inner.timeout),
                Err(e) => Error::Transport(e),
            };
            let transient = match &err {
                Error::Api { status, .. } | Error::Http { status, .. } => {
                    retry::retryable_status(*status)
                }
                Error::Timeout(_) | Error::Transport(_) => true,
                _ => false,
            };
            if !transient || !may_retry || retry >= inner.retry.max_retries {
                return Err(err);
            }
            let wait = match err.retry_after() {
                Some(asked) if asked > inner.retry.max_retry_after => return Err(err),
                Some(asked) => asked,
                None => inner.retry.backoff(retry),
            };
            tokio::time::sleep(wait).await;
            retry += 1;
        }
    }
}

/// One attempt: the status, headers and whole body, or the transport error.
async fn attempt(req: reqwest::RequestBuilder) -> Result<Answer, reqwest::Error> {
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await?.to_vec();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_segment_by_segment_under_the_base() {
        let c = Client::builder("sk_test_x")
            .base_url("http://127.0.0.1:9/prefix/")
            .build()
            .expect("client");
        let u = c.url(&["v1", "rules", "../webhooks/x?y#z"]).expect("url");
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9/prefix/v1/rules/..%2Fwebhooks%2Fx%3Fy%23z"
        );
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Q {
            visitor_id: Option<&'static str>,
            bot: Option<bool>,
            limit: Option<u32>,
        }
        let u = c
            .url_with_query(
                &["v1", "events"],
                &Q {
                    visitor_id: Some("pv_a&b"),
                    bot: Some(true),
                    limit: None,
                },
            )
            .expect("url");
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9/prefix/v1/events?visitorId=pv_a%26b&bot=true"
        );
    }

    #[test]
    fn bad_configuration_is_an_error_not_a_panic() {
        for base in ["not a url", "ftp://x.example", "mailto:a@b.example"] {
            let e = Client::builder("sk_test_x").base_url(base).build();
            assert!(matches!(e, Err(Error::Config(_))), "{base}");
        }
        let e = Client::builder("sk_test_\nx").build();
        assert!(matches!(e, Err(Error::Config(_))));
        let e = Client::builder("sk_test_x").public_key("pk\r").build();
        assert!(matches!(e, Err(Error::Config(_))));
    }

    #[test]
    fn debug_output_leaves_the_keys_out() {
        let c = Client::builder("sk_test_supersecret")
            .public_key("pk_test_alsosecret")
            .build()
            .expect("client");
        let text = format!("{c:?}");
        assert!(
            !text.contains("supersecret") && !text.contains("alsosecret"),
            "{text}"
        );
    }

    #[test]
    fn idempotency_keys_are_fresh() {
        let (a, b) = (new_idempotency_key(), new_idempotency_key());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
