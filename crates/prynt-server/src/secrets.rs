//! Secrets at rest: the sealing key, the visitor-token key it seals, and the first key pair of
//! a new store.
//!
//! The sealing key (32 bytes) encrypts every secret the store keeps that must be usable again:
//! webhook signing secrets and the key that signs visitor tokens and cursors. It comes from
//! `--sealing-key-file` (a file outside the data dir: then a copy of the data dir, the database
//! or a backup opens nothing), `--webhook-secret-key`, or else a file created once in the data
//! dir. Every node sharing a database must hold the same one: a node whose key cannot open what
//! the database holds refuses to start and says why.
//!
//! API keys are never stored, only their SHA-256 digests; the first pair is shown once, in a
//! file readable by the server's user only, because standard output usually ends up in logs.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use prynt_core::{Environment, KeyType};
use prynt_store::Store;
use prynt_webhooks::sealing::SecretBox;

use crate::api_keys::new_key;
use crate::config::ServeConfig;
use crate::CliError;

/// The sealing key made in the data dir when none is configured.
pub const DATA_DIR_KEY_FILE: &str = "webhook-secrets.key";
/// Where a new store's first key pair is written.
pub const FIRST_KEYS_FILE: &str = "first-start-keys.txt";

/// The sealing key: from the configuration, else created once in the data dir (readable by the
/// owner only). On a store several nodes may share (PostgreSQL), checks that it opens the
/// webhook secrets already stored.
pub async fn sealing_key(store: &dyn Store, cfg: &ServeConfig) -> Result<SecretBox, CliError> {
    let sealing = load_sealing_key(cfg)?;
    if cfg.database_url.is_none() {
        return Ok(sealing);
    }
    if cfg.webhooks.secret_key.is_none() {
        tracing::warn!(
            "secrets are sealed with the key in this node's data dir: with several nodes on one \
             database, give every node the same --sealing-key-file"
        );
    }
    let (stored, _) = store
        .webhooks(None, None, 1, 0)
        .await
        .map_err(|e| CliError::Runtime(format!("cannot read the webhooks: {e}")))?;
    if let Some(w) = stored.first() {
        if sealing.open(&w.secret).is_err() {
            return Err(other_key("webhook secrets"));
        }
    }
    Ok(sealing)
}

fn other_key(what: &str) -> CliError {
    CliError::Usage(format!(
        "the {what} in this database were sealed with another key: set --sealing-key-file \
         (PRYNT_SEALING_KEY_FILE) or --webhook-secret-key to the key the other nodes use"
    ))
}

fn load_sealing_key(cfg: &ServeConfig) -> Result<SecretBox, CliError> {
    if let Some(text) = &cfg.webhooks.secret_key {
        return SecretBox::from_config(text)
            .map_err(|e| CliError::Usage(format!("invalid sealing key: {e}")));
    }
    let path = cfg.data_dir.join(DATA_DIR_KEY_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = prynt_core::ids::random_hex(64);
            write_private(&path, &key, false)
                .map_err(|e| CliError::Runtime(format!("cannot write {}: {e}", path.display())))?;
            key
        }
        Err(e) => {
            return Err(CliError::Runtime(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    };
    SecretBox::from_config(text.trim())
        .map_err(|e| CliError::Usage(format!("invalid key in {}: {e}", path.display())))
}

/// The key that signs visitor tokens and cursors, opened with the sealing key. A key stored in
/// the clear (by an earlier version, or by a new store's schema) is sealed first; of several
/// nodes doing that at once, one seals it and the others open what it stored.
pub async fn token_key(store: &dyn Store, sealing: &SecretBox) -> Result<Vec<u8>, CliError> {
    let read = || async {
        store
            .token_key()
            .await
            .map_err(|e| CliError::Runtime(format!("cannot read the token key: {e}")))
    };
    let stored = read().await?;
    if let Some(key) = open_token_key(&stored, sealing)? {
        return Ok(key);
    }
    let sealed = sealing.seal(&STANDARD.encode(&stored));
    let replaced = store
        .replace_token_key(&stored, sealed.as_bytes())
        .await
        .map_err(|e| CliError::Runtime(format!("cannot seal the token key: {e}")))?;
    if replaced {
        tracing::info!("the visitor-token key is now sealed at rest");
        return Ok(stored);
    }
    open_token_key(&read().await?, sealing)?
        .ok_or_else(|| CliError::Runtime("the token key changed while it was being sealed".into()))
}

/// `None` when `stored` is not sealed (the clear key of an earlier version).
fn open_token_key(stored: &[u8], sealing: &SecretBox) -> Result<Option<Vec<u8>>, CliError> {
    let Some(text) = std::str::from_utf8(stored)
        .ok()
        .filter(|t| t.starts_with(prynt_webhooks::sealing::PREFIX))
    else {
        return Ok(None);
    };
    let opened = sealing
        .open(text)
        .map_err(|_| other_key("visitor-token key and webhook secrets"))?;
    STANDARD
        .decode(opened)
        .map(Some)
        .map_err(|e| CliError::Runtime(format!("the sealed token key is not a key: {e}")))
}

/// On a store with no keys at all, creates a test key pair for `default` and writes it to
/// [`FIRST_KEYS_FILE`] in the data dir (0600); returns that file's path when it did. The file
/// is written before the keys are stored, so a failed write never leaves keys nobody saw.
pub async fn create_first_keys(
    store: &dyn Store,
    data_dir: &Path,
) -> Result<Option<PathBuf>, CliError> {
    let ws = store
        .workspace_by_name("default")
        .await
        .map_err(|e| CliError::Runtime(e.to_string()))?;
    let Some(ws) = ws else { return Ok(None) };
    let (public, pk) = new_key(&ws.id, Environment::Test, KeyType::Public);
    let (secret, sk) = new_key(&ws.id, Environment::Test, KeyType::Secret);
    let path = data_dir.join(FIRST_KEYS_FILE);
    let pending = data_dir.join(format!("{FIRST_KEYS_FILE}.new"));
    let text = format!(
        "# The first key pair of workspace \"default\" (test environment), made on the first\n\
         # start. Shown only here: store the keys somewhere safe, then delete this file.\n\
         # More keys: prynt keys create --env test|live --type secret|public\n\
         public key: {public}\n\
         secret key: {secret}\n"
    );
    let write_error =
        |e: std::io::Error| CliError::Runtime(format!("cannot write {}: {e}", pending.display()));
    write_private(&pending, &text, true).map_err(write_error)?;
    let created = store
        .create_initial_keys(vec![pk, sk])
        .await
        .map_err(|e| CliError::Runtime(e.to_string()));
    match created {
        Ok(true) => {
            std::fs::rename(&pending, &path)
                .map_err(|e| CliError::Runtime(format!("cannot write {}: {e}", path.display())))?;
            Ok(Some(path))
        }
        Ok(false) => {
            let _ = std::fs::remove_file(&pending);
            Ok(None)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&pending);
            Err(e)
        }
    }
}

/// Writes `text` to a new file readable and writable by the owner only (`replace`: or over an
/// earlier one, narrowed to that mode before anything is written).
fn write_private(path: &Path, text: &str, replace: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true);
    if replace {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use prynt_store::prelude::*;
    use prynt_store::sqlite::SqliteStore;

    fn sealing(byte: u8) -> SecretBox {
        SecretBox::new(&[byte; 32]).expect("a 32-byte key")
    }

    #[tokio::test]
    async fn a_clear_token_key_is_sealed_once_and_opens_only_with_its_sealing_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let clear = store.token_key().await.unwrap();

        let key = token_key(&store, &sealing(7)).await.unwrap();
        assert_eq!(
            key, clear,
            "sealing keeps the key: earlier tokens still verify"
        );
        let stored = store.token_key().await.unwrap();
        assert!(stored.starts_with(b"v1."), "stored sealed");
        assert!(
            !stored.windows(clear.len()).any(|w| w == clear.as_slice()),
            "the clear key is not in what is stored"
        );
        // Read again: opened, not sealed a second time.
        assert_eq!(token_key(&store, &sealing(7)).await.unwrap(), clear);
        assert_eq!(store.token_key().await.unwrap(), stored);

        let refused = token_key(&store, &sealing(8)).await;
        assert!(
            matches!(&refused, Err(CliError::Usage(m)) if m.contains("another key")),
            "{refused:?}"
        );
        store.close().await.unwrap();
    }

    #[tokio::test]
    async fn the_first_keys_go_to_a_private_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let path = create_first_keys(&store, dir.path()).await.unwrap();
        let path = path.expect("a new store gets its first keys");
        let text = std::fs::read_to_string(&path).unwrap();
        let secret = text
            .lines()
            .find_map(|l| l.strip_prefix("secret key: "))
            .expect("the secret key is in the file");
        assert!(secret.starts_with("sk_test_"), "{text}");
        let digest = prynt_core::keys::hash_key(secret);
        assert!(store.authenticate(digest).await.unwrap().is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // A second start makes no keys and leaves the file as it was.
        assert_eq!(create_first_keys(&store, dir.path()).await.unwrap(), None);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        assert!(!dir.path().join(format!("{FIRST_KEYS_FILE}.new")).exists());
        store.close().await.unwrap();
    }
}
