//! [`KeyStore`]: API keys and the per-environment settings that go with them.

use async_trait::async_trait;
use prynt_core::{EnvSettings, Scope};

use crate::{ApiKeyRecord, AuthenticatedKey, NewApiKey, StoreResult};

/// API keys (only their SHA-256 digest and display prefix are stored) and the settings of a
/// workspace environment (allowed origins, IP masking, suspect-score weights), which the
/// server reads alongside the key that authenticated a request.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    async fn create_api_key(&self, key: NewApiKey) -> StoreResult<ApiKeyRecord>;
    /// Inserts `keys` only if the store holds no key at all; returns whether it did. This is how
    /// the first start of an empty store gets its test key pair exactly once, even when several
    /// nodes start together.
    async fn create_initial_keys(&self, keys: Vec<NewApiKey>) -> StoreResult<bool>;
    /// The active (not revoked) key with this SHA-256 digest, and its workspace.
    async fn authenticate(&self, key_hash: [u8; 32]) -> StoreResult<Option<AuthenticatedKey>>;
    /// Keys of one workspace (or all, with `None`), revoked ones included, oldest first.
    async fn list_api_keys(&self, workspace_id: Option<&str>) -> StoreResult<Vec<ApiKeyRecord>>;
    /// Revokes a key by id and returns it; revoking twice keeps the first revocation time;
    /// `NotFound` when there is no such key.
    async fn revoke_api_key(&self, key_id: &str) -> StoreResult<ApiKeyRecord>;

    /// The environment's settings; the defaults when none were ever stored.
    async fn env_settings(&self, scope: &Scope) -> StoreResult<EnvSettings>;
    /// Replaces the environment's settings.
    async fn put_env_settings(&self, scope: &Scope, settings: &EnvSettings) -> StoreResult<()>;
}
