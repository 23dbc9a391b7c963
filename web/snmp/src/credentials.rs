//! What an exporter's SNMP agent is asked with: a v2c community or an SNMPv3 (USM)
//! user with its authentication and privacy protocols.
//!
//! Protocol names are net-snmp's (`snmpget -a SHA-256 -x AES-256`), which is what an
//! operator copies from a device's configuration guide; `AES-192-C` and `AES-256-C`
//! select the Cisco (Reeder) key extension that IOS uses, plain `AES-192`/`AES-256`
//! the Blumenthal one that net-snmp uses.

use serde::{Deserialize, Serialize};
use std::fmt;

/// SNMPv3 authentication protocol (HMAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuthProtocol {
    /// HMAC-MD5-96 (RFC 3414); legacy devices only.
    #[serde(rename = "MD5")]
    Md5,
    /// HMAC-SHA-96 (RFC 3414).
    #[serde(rename = "SHA")]
    Sha1,
    /// HMAC-SHA-224 (RFC 7860).
    #[serde(rename = "SHA-224")]
    Sha224,
    /// HMAC-SHA-256 (RFC 7860).
    #[serde(rename = "SHA-256")]
    Sha256,
    /// HMAC-SHA-384 (RFC 7860).
    #[serde(rename = "SHA-384")]
    Sha384,
    /// HMAC-SHA-512 (RFC 7860).
    #[serde(rename = "SHA-512")]
    Sha512,
}

impl AuthProtocol {
    /// Every protocol, weakest first.
    pub const ALL: [AuthProtocol; 6] = [
        AuthProtocol::Md5,
        AuthProtocol::Sha1,
        AuthProtocol::Sha224,
        AuthProtocol::Sha256,
        AuthProtocol::Sha384,
        AuthProtocol::Sha512,
    ];

    /// The net-snmp name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthProtocol::Md5 => "MD5",
            AuthProtocol::Sha1 => "SHA",
            AuthProtocol::Sha224 => "SHA-224",
            AuthProtocol::Sha256 => "SHA-256",
            AuthProtocol::Sha384 => "SHA-384",
            AuthProtocol::Sha512 => "SHA-512",
        }
    }

    /// Parses a net-snmp name (case-insensitive; `SHA1`, `SHA-1` and `SHA256` too).
    pub fn parse(s: &str) -> Option<AuthProtocol> {
        let n = s.trim().to_ascii_uppercase().replace('_', "-");
        Some(match n.as_str() {
            "MD5" => AuthProtocol::Md5,
            "SHA" | "SHA1" | "SHA-1" => AuthProtocol::Sha1,
            "SHA-224" | "SHA224" => AuthProtocol::Sha224,
            "SHA-256" | "SHA256" => AuthProtocol::Sha256,
            "SHA-384" | "SHA384" => AuthProtocol::Sha384,
            "SHA-512" | "SHA512" => AuthProtocol::Sha512,
            _ => return None,
        })
    }

    pub(crate) fn to_client(self) -> async_snmp::AuthProtocol {
        match self {
            AuthProtocol::Md5 => async_snmp::AuthProtocol::Md5,
            AuthProtocol::Sha1 => async_snmp::AuthProtocol::Sha1,
            AuthProtocol::Sha224 => async_snmp::AuthProtocol::Sha224,
            AuthProtocol::Sha256 => async_snmp::AuthProtocol::Sha256,
            AuthProtocol::Sha384 => async_snmp::AuthProtocol::Sha384,
            AuthProtocol::Sha512 => async_snmp::AuthProtocol::Sha512,
        }
    }
}

/// SNMPv3 privacy (encryption) protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PrivProtocol {
    /// DES-CBC (RFC 3414): 56-bit keys, for devices that offer nothing else.
    #[serde(rename = "DES")]
    Des,
    /// AES-128-CFB (RFC 3826).
    #[serde(rename = "AES-128")]
    Aes128,
    /// AES-192-CFB, Blumenthal key extension (net-snmp `AES-192`).
    #[serde(rename = "AES-192")]
    Aes192,
    /// AES-256-CFB, Blumenthal key extension (net-snmp `AES-256`).
    #[serde(rename = "AES-256")]
    Aes256,
    /// AES-192-CFB, Reeder key extension (Cisco IOS).
    #[serde(rename = "AES-192-C")]
    Aes192Cisco,
    /// AES-256-CFB, Reeder key extension (Cisco IOS).
    #[serde(rename = "AES-256-C")]
    Aes256Cisco,
}

impl PrivProtocol {
    /// Every protocol.
    pub const ALL: [PrivProtocol; 6] = [
        PrivProtocol::Des,
        PrivProtocol::Aes128,
        PrivProtocol::Aes192,
        PrivProtocol::Aes256,
        PrivProtocol::Aes192Cisco,
        PrivProtocol::Aes256Cisco,
    ];

    /// The name used in the API (net-snmp's, with `AES-128` for its `AES`).
    pub fn as_str(self) -> &'static str {
        match self {
            PrivProtocol::Des => "DES",
            PrivProtocol::Aes128 => "AES-128",
            PrivProtocol::Aes192 => "AES-192",
            PrivProtocol::Aes256 => "AES-256",
            PrivProtocol::Aes192Cisco => "AES-192-C",
            PrivProtocol::Aes256Cisco => "AES-256-C",
        }
    }

    /// Parses a name (case-insensitive; `AES` and `AES128` mean AES-128).
    pub fn parse(s: &str) -> Option<PrivProtocol> {
        let n = s.trim().to_ascii_uppercase().replace('_', "-");
        Some(match n.as_str() {
            "DES" => PrivProtocol::Des,
            "AES" | "AES-128" | "AES128" => PrivProtocol::Aes128,
            "AES-192" | "AES192" => PrivProtocol::Aes192,
            "AES-256" | "AES256" => PrivProtocol::Aes256,
            "AES-192-C" | "AES192C" => PrivProtocol::Aes192Cisco,
            "AES-256-C" | "AES256C" => PrivProtocol::Aes256Cisco,
            _ => return None,
        })
    }

    pub(crate) fn to_client(self) -> async_snmp::PrivProtocol {
        match self {
            PrivProtocol::Des => async_snmp::PrivProtocol::Des,
            PrivProtocol::Aes128 => async_snmp::PrivProtocol::Aes128,
            PrivProtocol::Aes192 => async_snmp::PrivProtocol::Aes192Blumenthal,
            PrivProtocol::Aes256 => async_snmp::PrivProtocol::Aes256Blumenthal,
            PrivProtocol::Aes192Cisco => async_snmp::PrivProtocol::Aes192Reeder,
            PrivProtocol::Aes256Cisco => async_snmp::PrivProtocol::Aes256Reeder,
        }
    }
}

/// How to authenticate to an agent. `Debug` never shows a secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "version")]
pub enum Credentials {
    /// SNMPv2c.
    #[serde(rename = "2c")]
    V2c {
        /// The community string (a shared secret).
        community: String,
    },
    /// SNMPv3 with the user-based security model.
    #[serde(rename = "3")]
    V3 {
        /// Security name.
        user: String,
        /// Authentication: protocol and password (none: noAuthNoPriv).
        auth: Option<(AuthProtocol, String)>,
        /// Privacy: protocol and password (only with authentication).
        privacy: Option<(PrivProtocol, String)>,
    },
}

/// Why credentials cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// A community, user or password is empty or too long.
    #[error("{0}")]
    Invalid(String),
}

/// Shortest SNMPv3 password: RFC 3414 (section 11.2) requires 8 characters, and net-snmp
/// refuses shorter ones.
pub const MIN_V3_PASSWORD: usize = 8;
/// Longest community, user or password accepted.
pub const MAX_SECRET: usize = 256;

impl Credentials {
    /// `"2c"` or `"3"`.
    pub fn version(&self) -> &'static str {
        match self {
            Credentials::V2c { .. } => "2c",
            Credentials::V3 { .. } => "3",
        }
    }

    /// The v3 user, or `None` for v2c (a user name is not a secret; the console shows it).
    pub fn user(&self) -> Option<&str> {
        match self {
            Credentials::V2c { .. } => None,
            Credentials::V3 { user, .. } => Some(user),
        }
    }

    /// Checks lengths and the RFC's minimum password length.
    pub fn validate(&self) -> Result<(), CredentialsError> {
        let bad = |m: &str| Err(CredentialsError::Invalid(m.to_string()));
        let ok_len = |s: &str| !s.is_empty() && s.len() <= MAX_SECRET;
        match self {
            Credentials::V2c { community } => {
                if !ok_len(community) {
                    return bad("the community must have 1 to 256 characters");
                }
            }
            Credentials::V3 { user, auth, privacy } => {
                if !ok_len(user) || user.chars().any(char::is_control) {
                    return bad("the v3 user must have 1 to 256 printable characters");
                }
                if privacy.is_some() && auth.is_none() {
                    return bad("privacy needs authentication (there is no noAuthPriv level)");
                }
                for (what, pw) in [
                    ("auth_password", auth.as_ref().map(|a| &a.1)),
                    ("priv_password", privacy.as_ref().map(|p| &p.1)),
                ] {
                    if let Some(pw) = pw {
                        if pw.chars().count() < MIN_V3_PASSWORD || pw.len() > MAX_SECRET {
                            return Err(CredentialsError::Invalid(format!(
                                "{what} must have {MIN_V3_PASSWORD} to {MAX_SECRET} characters"
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// A description without secrets, e.g. `v3 user "ops" SHA-256/AES-128`.
    pub fn summary(&self) -> String {
        match self {
            Credentials::V2c { .. } => "v2c".to_string(),
            Credentials::V3 { user, auth, privacy } => {
                let level = match (auth, privacy) {
                    (None, _) => "noAuthNoPriv".to_string(),
                    (Some((a, _)), None) => a.as_str().to_string(),
                    (Some((a, _)), Some((p, _))) => format!("{}/{}", a.as_str(), p.as_str()),
                };
                format!("v3 user {user:?} {level}")
            }
        }
    }

    pub(crate) fn to_client(&self) -> Result<async_snmp::Auth, CredentialsError> {
        let crypto = |e: async_snmp::CryptoError| CredentialsError::Invalid(format!("SNMPv3 keys: {e}"));
        Ok(match self {
            Credentials::V2c { community } => async_snmp::Auth::v2c(community.as_bytes()),
            Credentials::V3 { user, auth: None, .. } => async_snmp::Auth::usm(user.as_bytes()),
            Credentials::V3 { user, auth: Some((a, apw)), privacy: None } => {
                async_snmp::UsmConfig::new(user.clone().into_bytes())
                    .auth(a.to_client(), apw)
                    .map_err(crypto)?
                    .into()
            }
            Credentials::V3 { user, auth: Some((a, apw)), privacy: Some((p, ppw)) } => {
                async_snmp::UsmConfig::new(user.clone().into_bytes())
                    .auth_priv(a.to_client(), apw, p.to_client(), ppw)
                    .map_err(crypto)?
                    .into()
            }
        })
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secrets stay out of logs and panics, whoever formats this.
        f.write_str(&self.summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in AuthProtocol::ALL {
            assert_eq!(AuthProtocol::parse(a.as_str()), Some(a));
        }
        for p in PrivProtocol::ALL {
            assert_eq!(PrivProtocol::parse(p.as_str()), Some(p));
        }
        assert_eq!(PrivProtocol::parse("aes"), Some(PrivProtocol::Aes128));
        assert_eq!(AuthProtocol::parse("sha1"), Some(AuthProtocol::Sha1));
        assert_eq!(AuthProtocol::parse("SHA-3"), None);
    }

    #[test]
    fn debug_hides_secrets() {
        let c = Credentials::V3 {
            user: "ops".into(),
            auth: Some((AuthProtocol::Sha256, "authsecret1".into())),
            privacy: Some((PrivProtocol::Aes128, "privsecret1".into())),
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("SHA-256/AES-128"), "{shown}");
        assert!(!format!("{:?}", Credentials::V2c { community: "c0mmunity".into() }).contains("c0mm"));
    }

    #[test]
    fn validation() {
        assert!(Credentials::V2c { community: String::new() }.validate().is_err());
        let short = Credentials::V3 {
            user: "u".into(),
            auth: Some((AuthProtocol::Sha1, "short".into())),
            privacy: None,
        };
        assert!(short.validate().is_err());
        let no_auth = Credentials::V3 {
            user: "u".into(),
            auth: None,
            privacy: Some((PrivProtocol::Des, "longenough".into())),
        };
        assert!(no_auth.validate().is_err());
        let good = Credentials::V3 {
            user: "u".into(),
            auth: Some((AuthProtocol::Sha512, "longenough".into())),
            privacy: Some((PrivProtocol::Aes256, "longenough".into())),
        };
        assert!(good.validate().is_ok());
        assert!(good.to_client().is_ok());
    }
}
