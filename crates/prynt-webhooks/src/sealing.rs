//! Webhook secrets encrypted at rest: a stolen database file (or backup) does not let anyone
//! forge Prynt's signatures without the key held in the server's configuration.
//!
//! The cipher is ChaCha20-Poly1305 from `ring` with a random 96-bit nonce per seal. Random nonces
//! are safe here because the number of seals under one key is tiny (one per secret created or
//! rotated), far below the ~2^32 messages at which a 96-bit nonce collision becomes plausible.
//! Sealed text is `v1.<base64(nonce || ciphertext || tag)>`; the version prefix leaves room for a
//! new format or key without guessing at what a stored string is.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine as _};
use rand::RngCore;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};

/// What every sealed text starts with.
pub const PREFIX: &str = "v1.";
const KEY_LEN: usize = 32;

/// Why a key could not be used or a sealed secret could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the sealing key must be 32 bytes, got {0}")]
    KeyLength(usize),
    #[error("the sealing key must be 64 hex characters or the base64 of 32 bytes")]
    KeyFormat,
    #[error("sealed secret does not start with `v1.`")]
    Version,
    #[error("sealed secret is not valid base64")]
    Encoding,
    #[error("sealed secret is too short to hold a nonce and a tag")]
    Truncated,
    // One message for a wrong key and for tampering: the cipher cannot tell them apart, and
    // guessing would mislead whoever reads the log.
    #[error("sealed secret could not be opened: wrong key or altered text")]
    Open,
    #[error("sealed secret is not UTF-8 text")]
    NotText,
}

/// Seals and opens webhook secrets with one key.
pub struct SecretBox {
    key: LessSafeKey,
}

impl std::fmt::Debug for SecretBox {
    // The key must never reach a log through a `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox { key: <redacted> }")
    }
}

impl SecretBox {
    /// From 32 key bytes.
    pub fn new(key: &[u8]) -> Result<Self, SealError> {
        if key.len() != KEY_LEN {
            return Err(SealError::KeyLength(key.len()));
        }
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, key)
            .map_err(|_| SealError::KeyLength(key.len()))?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Parses a key given in configuration: 64 hex chars or base64 (std or url-safe, padded or
    /// not) of 32 bytes. Surrounding whitespace (a trailing newline from a key file) is ignored.
    pub fn from_config(text: &str) -> Result<Self, SealError> {
        let text = text.trim();
        // Hex is tried first: 64 hex characters are also valid base64 (of 48 bytes). Any
        // even-length all-hex text is taken as hex, so a key one byte short is reported as
        // "31 bytes" rather than as a puzzling base64 length; no base64 of 32 bytes (43 or 44
        // characters, the latter ending in `=`) is even-length hex, so nothing valid is lost.
        if let Some(bytes) = crate::signing::from_hex(text).filter(|b| !b.is_empty()) {
            return Self::new(&bytes);
        }
        let bytes = decode_base64_any(text).ok_or(SealError::KeyFormat)?;
        Self::new(&bytes)
    }

    /// Random 12-byte nonce + ciphertext+tag, base64 (std) text: `v1.<base64>`.
    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut buf = Vec::with_capacity(NONCE_LEN + plaintext.len() + CHACHA20_POLY1305.tag_len());
        buf.extend_from_slice(&nonce);
        let mut sealed = plaintext.as_bytes().to_vec();
        // Sealing only fails when the input exceeds ChaCha20's 256 GiB limit, which a webhook
        // secret cannot reach; the expect documents that impossibility rather than an input path.
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut sealed,
            )
            .expect("ChaCha20-Poly1305 seals any input under 256 GiB");
        buf.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(buf))
    }

    /// Opens text made by [`SecretBox::seal`]. A wrong key or altered text is an error.
    pub fn open(&self, sealed: &str) -> Result<String, SealError> {
        let body = sealed
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(SealError::Version)?;
        let mut bytes = STANDARD.decode(body).map_err(|_| SealError::Encoding)?;
        if bytes.len() < NONCE_LEN + CHACHA20_POLY1305.tag_len() {
            return Err(SealError::Truncated);
        }
        let mut ciphertext = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).map_err(|_| SealError::Truncated)?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut ciphertext)
            .map_err(|_| SealError::Open)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError::NotText)
    }
}

/// Base64 in either alphabet, with or without padding: operators paste keys from `openssl rand
/// -base64 32`, from URL-safe generators and from tools that strip the `=`.
fn decode_base64_any(text: &str) -> Option<Vec<u8>> {
    let config = GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent);
    [
        GeneralPurpose::new(&alphabet::STANDARD, config),
        GeneralPurpose::new(&alphabet::URL_SAFE, config),
    ]
    .iter()
    .find_map(|engine| engine.decode(text).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

    fn key(byte: u8) -> [u8; 32] {
        let mut k = [byte; 32];
        // Bytes that encode to `+`/`/` in std base64 and `-`/`_` in URL-safe, so both alphabets
        // are really exercised.
        k[0] = 0xfb;
        k[1] = 0xff;
        k[2] = 0xbf;
        k
    }

    #[test]
    fn round_trip_and_fresh_nonce_each_time() {
        let b = SecretBox::new(&key(7)).expect("key");
        let secret = "whsec_5mV8qJ2xT0LwZbN4rC7yD1eK9gH3fA6s";
        let s1 = b.seal(secret);
        let s2 = b.seal(secret);
        assert!(s1.starts_with("v1."));
        assert_ne!(s1, s2, "a nonce must never repeat");
        assert!(!s1.contains(secret));
        assert_eq!(b.open(&s1).as_deref(), Ok(secret));
        assert_eq!(b.open(&s2).as_deref(), Ok(secret));
        assert_eq!(b.open(&b.seal("")).as_deref(), Ok(""));
    }

    #[test]
    fn wrong_key_fails() {
        let sealed = SecretBox::new(&key(1)).expect("key").seal("whsec_x");
        let other = SecretBox::new(&key(2)).expect("key");
        assert_eq!(other.open(&sealed), Err(SealError::Open));
    }

    #[test]
    fn tampered_text_fails() {
        let b = SecretBox::new(&key(3)).expect("key");
        let sealed = b.seal("whsec_abcdef");
        let raw = STANDARD.decode(&sealed[3..]).expect("base64");
        // Flip one bit in the nonce, in the ciphertext and in the tag in turn.
        for at in [0, NONCE_LEN + 1, raw.len() - 1] {
            let mut bad = raw.clone();
            bad[at] ^= 0x01;
            let text = format!("v1.{}", STANDARD.encode(&bad));
            assert_eq!(b.open(&text), Err(SealError::Open), "bit flipped at {at}");
        }
        // Cut short, wrong version, not base64.
        let short = format!("v1.{}", STANDARD.encode(&raw[..NONCE_LEN + 15]));
        assert_eq!(b.open(&short), Err(SealError::Truncated));
        assert_eq!(
            b.open(&sealed.replacen("v1.", "v2.", 1)),
            Err(SealError::Version)
        );
        assert_eq!(b.open("v1.@@@"), Err(SealError::Encoding));
    }

    #[test]
    fn from_config_accepts_hex_and_every_base64_flavour() {
        let k = key(9);
        let sealed = SecretBox::new(&k).expect("key").seal("whsec_cfg");
        let hex: String = k.iter().map(|b| format!("{b:02x}")).collect();
        let forms = [
            hex.clone(),
            hex.to_uppercase(),
            STANDARD.encode(k),
            STANDARD_NO_PAD.encode(k),
            URL_SAFE.encode(k),
            URL_SAFE_NO_PAD.encode(k),
            format!("  {}\n", STANDARD.encode(k)),
        ];
        assert!(forms[2].contains('+') || forms[2].contains('/'));
        assert!(forms[4].contains('-') || forms[4].contains('_'));
        for form in &forms {
            let b = SecretBox::from_config(form).unwrap_or_else(|e| panic!("{form:?}: {e}"));
            assert_eq!(b.open(&sealed).as_deref(), Ok("whsec_cfg"), "{form:?}");
        }
    }

    #[test]
    fn from_config_rejects_wrong_lengths_and_junk() {
        let k31 = [5u8; 31];
        let hex31: String = k31.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            SecretBox::from_config(&STANDARD.encode(k31)).err(),
            Some(SealError::KeyLength(31))
        );
        assert_eq!(
            SecretBox::from_config(&hex31).err(),
            Some(SealError::KeyLength(31))
        );
        assert_eq!(
            SecretBox::from_config(&STANDARD.encode([5u8; 33])).err(),
            Some(SealError::KeyLength(33))
        );
        assert_eq!(
            SecretBox::from_config("not a key!").err(),
            Some(SealError::KeyFormat)
        );
        assert_eq!(
            SecretBox::from_config("").err(),
            Some(SealError::KeyLength(0))
        );
        assert_eq!(
            SecretBox::new(&[0u8; 16]).err(),
            Some(SealError::KeyLength(16))
        );
    }

    #[test]
    fn debug_does_not_show_the_key() {
        let b = SecretBox::new(&key(4)).expect("key");
        assert_eq!(format!("{b:?}"), "SecretBox { key: <redacted> }");
    }
}
