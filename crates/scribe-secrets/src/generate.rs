//! Fresh random secret values from the operating system's CSPRNG.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use secrecy::zeroize::Zeroizing;
use secrecy::SecretString;

use crate::error::SecretsError;

/// Random bytes in a generated secret: 256 bits, the HMAC-SHA256 and AES-256 key size.
pub const GENERATED_BYTES: usize = 32;

/// A new secret: 32 bytes from the OS CSPRNG (`getrandom`), base64url without padding (43
/// characters). The raw bytes are zeroized after encoding.
pub fn generate_secret() -> Result<SecretString, SecretsError> {
    let mut raw = Zeroizing::new([0u8; GENERATED_BYTES]);
    getrandom::fill(raw.as_mut()).map_err(SecretsError::Random)?;
    Ok(SecretString::from(URL_SAFE_NO_PAD.encode(raw.as_ref())))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn generated_secrets_are_long_url_safe_and_distinct() {
        let a = generate_secret().expect("os rng");
        let b = generate_secret().expect("os rng");
        assert_eq!(a.expose_secret().len(), 43);
        assert!(a
            .expose_secret()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a.expose_secret(), b.expose_secret());
    }
}
