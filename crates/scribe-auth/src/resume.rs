//! Resume tokens of bot streams: a bot that loses its connection presents the token to continue
//! the same stream. Only the SHA-256 of a token is stored; 256 random bits make a fast hash
//! safe (nothing to brute-force) and let the lookup be an index probe.

use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::error::AuthError;
use crate::random::random_url_token;

/// Random bytes in a resume token.
const RESUME_TOKEN_BYTES: usize = 32;
/// Length of a resume token: base64url of 32 bytes, no padding.
pub const RESUME_TOKEN_CHARS: usize = 43;

/// A new resume token (give it to the bot) and its hash (store it).
pub fn issue_resume_token() -> Result<(SecretString, [u8; 32]), AuthError> {
    let token = random_url_token(RESUME_TOKEN_BYTES)?;
    let hash = resume_token_hash(&token);
    Ok((SecretString::from(token.as_str()), hash))
}

/// The stored form of `token`. A presented value of the wrong shape gets `None` before any
/// lookup, so junk never reaches storage.
pub fn hash_presented_resume_token(token: &str) -> Option<[u8; 32]> {
    let well_formed = token.len() == RESUME_TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| resume_token_hash(token))
}

fn resume_token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn reveal(t: &SecretString) -> &str {
        t.expose_secret()
    }

    #[test]
    fn issued_tokens_verify_and_junk_is_refused_before_lookup() {
        let (token, hash) = issue_resume_token().expect("random");
        assert_eq!(reveal(&token).len(), RESUME_TOKEN_CHARS);
        assert_eq!(hash_presented_resume_token(reveal(&token)), Some(hash));
        let (other, _) = issue_resume_token().expect("random");
        assert_ne!(reveal(&token), reveal(&other));
        assert_eq!(hash_presented_resume_token("short"), None);
        let bad = format!("{}!", &reveal(&token)[..RESUME_TOKEN_CHARS - 1]);
        assert_eq!(hash_presented_resume_token(&bad), None);
    }
}
