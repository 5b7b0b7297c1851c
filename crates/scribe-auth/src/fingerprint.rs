//! Stable, non-reversible names for tokens, for denylists and correlation in logs.

use sha2::{Digest, Sha256};

/// `hex(SHA-256(token))`: what a denylist stores and what a log line may show instead of the
/// token. Tokens carry ≥ 128 bits of randomness or a MAC, so an unsalted hash does not reveal
/// them.
pub fn token_fingerprint(token: &str) -> String {
    hex::encode(token_digest(token))
}

/// `SHA-256(token)` as bytes: the key a stored refresh token or denylist entry is kept under.
pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_hex_sha256() {
        // FIPS 180-2 test vector: SHA-256("abc").
        assert_eq!(
            token_fingerprint("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(token_fingerprint("").len(), 64);
    }
}
