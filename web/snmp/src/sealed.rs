//! SNMP secrets at rest: communities and v3 passwords are sealed with
//! XChaCha20-Poly1305 under a 256-bit key the database never sees.
//!
//! The key comes from the environment (`SNMP_SECRET_KEY`, base64) or from a key file
//! the console creates on first use with mode 0600. Each sealed value carries the key's
//! fingerprint, so a value sealed under another key is reported as such ("set the
//! credentials again") instead of as corruption, and the row it belongs to is bound
//! in as associated data, so a sealed value copied onto another exporter's row does
//! not open.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::Write;
use std::path::Path;

/// Format version of a sealed value (first byte).
const VERSION: u8 = 1;
const FINGERPRINT: usize = 8;
const NONCE: usize = 24;

/// Why a key cannot be had or a value cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key in the environment is not 32 bytes of base64.
    #[error("SNMP_SECRET_KEY must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)")]
    BadKey,
    /// The key file cannot be read or created.
    #[error("SNMP key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The value was sealed under another key.
    #[error("these credentials were sealed under another key (was SNMP_SECRET_KEY or the key file replaced?); set them again")]
    OtherKey,
    /// Truncated, altered, or bound to another row.
    #[error("sealed credentials are damaged or belong to another row")]
    Damaged,
}

/// The sealing key. `Debug` shows only its fingerprint.
#[derive(Clone)]
pub struct SealKey {
    cipher: XChaCha20Poly1305,
    fingerprint: [u8; FINGERPRINT],
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealKey({})", hex(&self.fingerprint))
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl SealKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(key: &[u8; 32]) -> SealKey {
        let digest = Sha256::digest([b"flowvision snmp key".as_slice(), key.as_slice()].concat());
        let mut fingerprint = [0u8; FINGERPRINT];
        for (d, s) in fingerprint.iter_mut().zip(digest.iter()) {
            *d = *s;
        }
        SealKey { cipher: XChaCha20Poly1305::new(key.into()), fingerprint }
    }

    /// A key from base64 text (as in `SNMP_SECRET_KEY`).
    pub fn from_base64(text: &str) -> Result<SealKey, SealError> {
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|_| SealError::BadKey)?;
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| SealError::BadKey)?;
        Ok(SealKey::from_bytes(&key))
    }

    /// The key in `path`, created (random, mode 0600, parent folders too) when missing.
    pub fn from_file(path: &Path) -> Result<SealKey, SealError> {
        let err = |source| SealError::KeyFile { path: path.display().to_string(), source };
        match std::fs::read_to_string(path) {
            Ok(text) => SealKey::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(err)?;
                }
                let mut key = [0u8; 32];
                OsRng.fill_bytes(&mut key);
                let text = base64::engine::general_purpose::STANDARD.encode(key);
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
                match opts.open(path) {
                    Ok(mut f) => {
                        f.write_all(format!("{text}\n").as_bytes())
                            .and_then(|()| f.sync_all())
                            .map_err(err)?;
                        Ok(SealKey::from_bytes(&key))
                    }
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        SealKey::from_base64(&std::fs::read_to_string(path).map_err(err)?)
                    }
                    Err(e) => Err(err(e)),
                }
            }
            Err(e) => Err(err(e)),
        }
    }

    /// Hex of the fingerprint (safe to show and log).
    pub fn fingerprint(&self) -> String {
        hex(&self.fingerprint)
    }

    /// Seals `plain`, bound to `context` (e.g. the row's exporter address).
    pub fn seal(&self, context: &[u8], plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE];
        OsRng.fill_bytes(&mut nonce);
        let mut out = Vec::with_capacity(1 + FINGERPRINT + NONCE + plain.len() + 16);
        out.push(VERSION);
        out.extend_from_slice(&self.fingerprint);
        out.extend_from_slice(&nonce);
        // Encryption with a fresh nonce only fails for inputs over ~256 GB.
        if let Ok(ct) = self.cipher.encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad: context })
        {
            out.extend_from_slice(&ct);
        }
        out
    }

    /// Opens what [`SealKey::seal`] made with the same `context`.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let (version, rest) = sealed.split_first().ok_or(SealError::Damaged)?;
        if *version != VERSION || rest.len() < FINGERPRINT + NONCE + 16 {
            return Err(SealError::Damaged);
        }
        let (fingerprint, rest) = rest.split_at(FINGERPRINT);
        if fingerprint != self.fingerprint {
            return Err(SealError::OtherKey);
        }
        let (nonce, ct) = rest.split_at(NONCE);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: context })
            .map_err(|_| SealError::Damaged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_refusals() {
        let k = SealKey::from_bytes(&[7u8; 32]);
        let sealed = k.seal(b"192.0.2.1", b"community");
        assert!(!sealed.windows(9).any(|w| w == b"community"));
        assert_eq!(k.open(b"192.0.2.1", &sealed).ok(), Some(b"community".to_vec()));
        assert!(matches!(k.open(b"192.0.2.2", &sealed), Err(SealError::Damaged)));
        let other = SealKey::from_bytes(&[8u8; 32]);
        assert!(matches!(other.open(b"192.0.2.1", &sealed), Err(SealError::OtherKey)));
        let mut flipped = sealed.clone();
        if let Some(last) = flipped.last_mut() {
            *last ^= 1;
        }
        assert!(matches!(k.open(b"192.0.2.1", &flipped), Err(SealError::Damaged)));
        assert!(matches!(k.open(b"", &[]), Err(SealError::Damaged)));
        assert!(!format!("{k:?}").contains("0707"));
    }

    #[test]
    fn key_file_is_created_private_and_reused() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sub/snmp.key");
        let a = SealKey::from_file(&path)?;
        let b = SealKey::from_file(&path)?;
        assert_eq!(a.fingerprint(), b.fingerprint());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path)?.permissions().mode() & 0o777, 0o600);
        }
        assert!(matches!(SealKey::from_base64("c2hvcnQ="), Err(SealError::BadKey)));
        Ok(())
    }
}
