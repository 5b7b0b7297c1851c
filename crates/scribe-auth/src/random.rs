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
