//! API keys (docs/api.md, "Authentication"): format, generation, hashing and constant-time
//! comparison.
//!
//! A key is `{pk|sk}_{live|test}_` followed by at least 24 base62 characters. Only its SHA-256
//! digest and a short display prefix are ever stored; the full key is shown once, at creation.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Length of the random part of generated keys.
pub const KEY_RANDOM_LEN: usize = 32;
/// Keys longer than this are refused before hashing, so a huge header costs nothing.
pub const KEY_MAX_LEN: usize = 128;

/// Live and test data are fully isolated from each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Test,
    Live,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Test => "test",
            Environment::Live => "live",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "test" => Some(Environment::Test),
            "live" => Some(Environment::Live),
            _ => None,
        }
    }
}

/// Public keys may only identify; secret keys may call every endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    Public,
    Secret,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Public => "public",
            KeyType::Secret => "secret",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(KeyType::Public),
            "secret" => Some(KeyType::Secret),
            _ => None,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            KeyType::Public => "pk",
            KeyType::Secret => "sk",
        }
    }
}

/// Why a presented string is not a well-formed key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("the key is empty")]
    Empty,
    #[error("the key does not start with pk_live_, sk_live_, pk_test_ or sk_test_")]
    BadPrefix,
    #[error("the key's random part is too short or has characters outside base62")]
    BadBody,
}

/// The parts of a syntactically valid key; whether it exists is the store's question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyShape {
    pub key_type: KeyType,
    pub env: Environment,
}

/// Checks the syntax of a presented key.
pub fn parse_key(key: &str) -> Result<KeyShape, KeyFormatError> {
    if key.is_empty() {
        return Err(KeyFormatError::Empty);
    }
    let (key_type, rest) = if let Some(r) = key.strip_prefix("pk_") {
        (KeyType::Public, r)
    } else if let Some(r) = key.strip_prefix("sk_") {
        (KeyType::Secret, r)
    } else {
        return Err(KeyFormatError::BadPrefix);
    };
    let (env, body) = if let Some(b) = rest.strip_prefix("live_") {
        (Environment::Live, b)
    } else if let Some(b) = rest.strip_prefix("test_") {
        (Environment::Test, b)
    } else {
        return Err(KeyFormatError::BadPrefix);
    };
    if body.len() < 24
        || key.len() > KEY_MAX_LEN
        || !body.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(KeyFormatError::BadBody);
    }
    Ok(KeyShape { key_type, env })
}

/// A fresh key with [`KEY_RANDOM_LEN`] random base62 characters.
pub fn generate_key(key_type: KeyType, env: Environment) -> String {
    format!(
        "{}_{}_{}",
        key_type.prefix(),
        env.as_str(),
        crate::ids::random_base62(KEY_RANDOM_LEN)
    )
}

/// SHA-256 of the key, the only form in which keys are stored.
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// What the key is shown as after creation: its prefix and the first four random characters.
pub fn display_prefix(key: &str) -> String {
    let cut = key.len().min(12);
    format!("{}…", &key[..cut])
}

/// Constant-time equality of two digests.
pub fn digests_equal(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_back() {
        for kt in [KeyType::Public, KeyType::Secret] {
            for env in [Environment::Test, Environment::Live] {
                let k = generate_key(kt, env);
                assert_eq!(parse_key(&k), Ok(KeyShape { key_type: kt, env }));
            }
        }
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert_eq!(parse_key(""), Err(KeyFormatError::Empty));
        assert_eq!(
            parse_key("xk_test_abcdefghijklmnopqrstuvwxyz"),
            Err(KeyFormatError::BadPrefix)
        );
        assert_eq!(
            parse_key("sk_prod_abcdefghijklmnopqrstuvwxyz"),
            Err(KeyFormatError::BadPrefix)
        );
        assert_eq!(parse_key("sk_test_short"), Err(KeyFormatError::BadBody));
        assert_eq!(
            parse_key("sk_test_abcdefghijklmnopqrstuvwxy!"),
            Err(KeyFormatError::BadBody)
        );
        let long = format!("sk_test_{}", "a".repeat(200));
        assert_eq!(parse_key(&long), Err(KeyFormatError::BadBody));
    }

    #[test]
    fn hashes_compare_in_constant_time_and_correctly() {
        let a = hash_key("sk_test_abc");
        assert!(digests_equal(&a, &hash_key("sk_test_abc")));
        assert!(!digests_equal(&a, &hash_key("sk_test_abd")));
        assert_eq!(display_prefix("sk_test_abcdefgh"), "sk_test_abcd…");
    }
}
