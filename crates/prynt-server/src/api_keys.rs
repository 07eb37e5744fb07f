//! Issuing API keys: the secret shown once, and the record the store keeps of it (its digest
//! and display prefix, never the secret). Shared by `prynt serve` (the first key pair of an
//! empty store), `prynt keys create` and the demo's key of each run.

use prynt_core::{keys, Environment, KeyType};
use prynt_store::NewApiKey;

/// Builds a key record for `workspace_id`, returning the full key (to show once) and the record.
pub fn new_key(workspace_id: &str, env: Environment, key_type: KeyType) -> (String, NewApiKey) {
    let secret = keys::generate_key(key_type, env);
    let record = NewApiKey {
        id: prynt_core::ids::prefixed_hex_id("key"),
        workspace_id: workspace_id.to_owned(),
        env,
        key_type,
        key_hash: keys::hash_key(&secret),
        display_prefix: keys::display_prefix(&secret),
    };
    (secret, record)
}
