//! Random, URL-safe token strings from the operating system's CSPRNG.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use secrecy::zeroize::Zeroizing;

use crate::error::AuthError;

/// `bytes` random bytes from the OS CSPRNG (`getrandom`), base64url without padding.
pub(crate) fn random_url_token(bytes: usize) -> Result<Zeroizing<String>, AuthError> {
    let mut raw = Zeroizing::new(vec![0u8; bytes]);
    getrandom::fill(&mut raw).map_err(AuthError::Random)?;
    Ok(Zeroizing::new(URL_SAFE_NO_PAD.encode(&*raw)))
}

/// Raw random bytes (salts).
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], AuthError> {
    let mut raw = [0u8; N];
    getrandom::fill(&mut raw).map_err(AuthError::Random)?;
    Ok(raw)
}

/// A new random token (256 bits, base64url) for a link a person is given (an invitation), and
/// its SHA-256 digest, which is all that is stored.
pub fn new_url_token() -> Result<(secrecy::SecretString, [u8; 32]), AuthError> {
    let token = random_url_token(32)?;
    let digest = crate::fingerprint::token_digest(&token);
    Ok((secrecy::SecretString::from(token.as_str()), digest))
}
