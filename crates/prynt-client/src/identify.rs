//! `POST /v1/identify` from Rust: what the browser agent does, for tests, load generation and
//! server-side tools that replay agent payloads. It sends the public key when one is
//! configured, otherwise the secret key (the server lets both identify).

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{Call, Client, Key};
use crate::error::{Error, Result};

/// The header carrying the signed visitor token for the agent to keep.
pub const VISITOR_TOKEN_HEADER: &str = "x-prynt-visitor-token";

/// The identify answer: only these fields, as a public key may read them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Identification {
    pub request_id: String,
    pub visitor_id: String,
    /// Estimated probability that `visitor_id` is right.
    pub confidence: f64,
    /// Whether the visitor existed before this event.
    pub visitor_found: bool,
    /// The `X-Prynt-Visitor-Token` header: send it back as the payload's `token` on the
    /// browser's next visit.
    #[serde(skip)]
    pub visitor_token: Option<String>,
}

impl Client {
    /// `POST /v1/identify` with an agent payload (`{components, type?, linkedId?, token?, ...}`;
    /// see the API guide).
    pub async fn identify<P: Serialize + ?Sized>(&self, payload: &P) -> Result<Identification> {
        let body = serde_json::to_vec(payload)
            .map_err(|e| Error::Config(format!("cannot encode the payload: {e}")))?;
        let answer = self
            .execute(Call {
                method: Method::POST,
                url: self.url(&["v1", "identify"])?,
                body: Some(body),
                key: Key::Public,
            })
            .await?;
        let mut out: Identification = answer.decode()?;
        out.visitor_token = answer
            .headers
            .get(VISITOR_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(out)
    }
}
