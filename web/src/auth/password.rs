//! Password hashing (argon2id, PHC strings) and the password policy.

use crate::config::Argon2Cost;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand_core::OsRng;

/// Shortest password a person may choose.
pub const MIN_LEN: usize = 12;
/// Longest accepted password (bytes): bounds the work an unauthenticated request causes.
pub const MAX_LEN: usize = 1024;

/// Checks a chosen password against the policy; the reason never contains it.
pub fn check_policy(p: &str) -> Result<(), String> {
    if p.chars().count() < MIN_LEN {
        return Err(format!("a password needs at least {MIN_LEN} characters"));
    }
    if p.len() > MAX_LEN {
        return Err(format!("a password may have at most {MAX_LEN} bytes"));
    }
    Ok(())
}

fn hasher(cost: Argon2Cost) -> Result<Argon2<'static>, String> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
        .map_err(|e| format!("argon2 parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// An argon2id PHC string of `password` with a random salt.
pub fn hash(password: &str, cost: Argon2Cost) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher(cost)?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("hashing: {e}"))
}

/// True when `password` matches the PHC string `phc` (its own parameters are used).
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_LEN {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A random one-time password: 20 characters from an alphabet without look-alikes
/// (about 115 bits).
pub fn generate_one_time() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        let bytes = super::token::random_bytes::<32>();
        for b in bytes {
            // Rejection sampling keeps the distribution uniform.
            let limit = (256 / ALPHABET.len()) * ALPHABET.len();
            if usize::from(b) < limit && out.len() < 20 {
                if let Some(c) = ALPHABET.get(usize::from(b) % ALPHABET.len()) {
                    out.push(char::from(*c));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn hash_and_verify() {
        let cost = Argon2Cost { memory_kib: 64, iterations: 1, parallelism: 1 };
        let h = hash("correct horse battery", cost).unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterx", &h));
        assert!(!verify("x", "not a hash"));
        let a = generate_one_time();
        let b = generate_one_time();
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert!(check_policy(&a).is_ok());
        assert!(check_policy("short").is_err());
    }
}
