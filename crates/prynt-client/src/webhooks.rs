//! Webhooks (`/v1/webhooks`): subscriptions, their deliveries with every attempt, test
//! deliveries, secret rotation and manual redelivery. Verifying what a webhook receives is in
//! [`crate::signature`].

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::common::{OffsetPage, PageParams, Verdict};
use crate::error::Result;

/// An event type a webhook subscribes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookEvent {
    Identification,
    RuleMatch,
    ListUpdate,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookStatus {
    Active,
    Paused,
    #[serde(other)]
    Unknown,
}

/// Which `identification` and `rule_match` payloads a webhook receives; all when empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WebhookFilters {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub verdict: Vec<Verdict>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rule_id: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bot_detected: Option<bool>,
}

/// The body of `POST /v1/webhooks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewWebhook {
    /// Must be https (plain http only for loopback on a server in development mode).
    pub url: String,
    /// Default: every event type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<WebhookEvent>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filters: Option<WebhookFilters>,
    /// 16 to 128 printable characters; generated (`whsec_...`) when left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<WebhookStatus>,
}

impl NewWebhook {
    pub fn new(url: impl Into<String>) -> Self {
        NewWebhook {
            url: url.into(),
            ..NewWebhook::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub id: String,
    pub url: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub events: Vec<WebhookEvent>,
    #[serde(default)]
    pub filters: WebhookFilters,
    pub status: WebhookStatus,
    /// Share of the last 7 days' attempts answered with a 2xx; `None` before any.
    #[serde(default)]
    pub success_rate: Option<f64>,
    #[serde(default)]
    pub last_delivery_at: Option<String>,
    pub created_at: String,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// A new webhook with its signing secret, which is shown only this once.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WebhookCreated {
    #[serde(flatten)]
    pub webhook: Webhook,
    pub secret: String,
}

/// Filters and paging of `GET /v1/webhooks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WebhookListParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<WebhookStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// A partial update: only the fields set change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<WebhookEvent>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filters: Option<WebhookFilters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `Paused` stops deliveries, `Active` resumes them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<WebhookStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WebhookDeleted {
    pub deleted: bool,
    pub webhook_id: String,
}

/// One payload's delivery to one webhook, with every attempt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Delivery {
    /// `dlv_...`, the same across retries.
    pub id: String,
    /// The payload's event type (`identification`, ..., or `test`).
    pub event: String,
    /// The payload's `id`, for deduplication by receivers.
    pub payload_id: String,
    /// `pending`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    pub attempts: Vec<DeliveryAttempt>,
    pub next_attempt_at: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeliveryAttempt {
    pub at: String,
    /// The receiver's status; `None` when there was no answer.
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
}

/// A test delivery queued.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TestQueued {
    pub queued: bool,
    pub payload_id: String,
}

/// The new secret; the previous one keeps signing beside it until `previous_secret_expires_at`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SecretRotated {
    pub id: String,
    pub secret: String,
    pub previous_secret_expires_at: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RedeliveryQueued {
    pub queued: bool,
    pub delivery_id: String,
}

impl Client {
    /// `POST /v1/webhooks`. The answer holds the signing secret, shown only this once.
    pub async fn create_webhook(&self, webhook: &NewWebhook) -> Result<WebhookCreated> {
        self.send(Method::POST, self.url(&["v1", "webhooks"])?, Some(webhook))
            .await
    }

    /// `GET /v1/webhooks`, with delivery figures.
    pub async fn list_webhooks(&self, params: &WebhookListParams) -> Result<OffsetPage<Webhook>> {
        self.get(self.url_with_query(&["v1", "webhooks"], params)?)
            .await
    }

    /// `GET /v1/webhooks/{id}` (without its secret).
    pub async fn get_webhook(&self, id: &str) -> Result<Webhook> {
        self.get(self.url(&["v1", "webhooks", id])?).await
    }

    /// `PUT /v1/webhooks/{id}`: a partial update.
    pub async fn update_webhook(&self, id: &str, update: &WebhookUpdate) -> Result<Webhook> {
        self.send(
            Method::PUT,
            self.url(&["v1", "webhooks", id])?,
            Some(update),
        )
        .await
    }

    /// `PATCH /v1/webhooks/{id}`: the same partial update as [`Client::update_webhook`].
    pub async fn patch_webhook(&self, id: &str, update: &WebhookUpdate) -> Result<Webhook> {
        self.send(
            Method::PATCH,
            self.url(&["v1", "webhooks", id])?,
            Some(update),
        )
        .await
    }

    /// `DELETE /v1/webhooks/{id}`: pending deliveries are cancelled at once.
    pub async fn delete_webhook(&self, id: &str) -> Result<WebhookDeleted> {
        self.delete(self.url(&["v1", "webhooks", id])?).await
    }

    /// `GET /v1/webhooks/{id}/deliveries`: newest first.
    pub async fn list_webhook_deliveries(
        &self,
        id: &str,
        page: &PageParams,
    ) -> Result<OffsetPage<Delivery>> {
        self.get(self.url_with_query(&["v1", "webhooks", id, "deliveries"], page)?)
            .await
    }

    /// `POST /v1/webhooks/{id}/test`: queues a signed `test` payload to this webhook.
    pub async fn test_webhook(&self, id: &str) -> Result<TestQueued> {
        let url = self.url(&["v1", "webhooks", id, "test"])?;
        self.send::<_, ()>(Method::POST, url, None).await
    }

    /// `POST /v1/webhooks/{id}/rotate-secret`: for 24 hours both secrets sign every payload.
    pub async fn rotate_webhook_secret(&self, id: &str) -> Result<SecretRotated> {
        let url = self.url(&["v1", "webhooks", id, "rotate-secret"])?;
        self.send::<_, ()>(Method::POST, url, None).await
    }

    /// `POST /v1/webhooks/{id}/deliveries/{deliveryId}/retry`: sends a finished delivery again.
    pub async fn retry_webhook_delivery(
        &self,
        id: &str,
        delivery_id: &str,
    ) -> Result<RedeliveryQueued> {
        let url = self.url(&["v1", "webhooks", id, "deliveries", delivery_id, "retry"])?;
        self.send::<_, ()>(Method::POST, url, None).await
    }
}
